"""Move a file the daemon refuses out of the inbox, with a note saying why.

A refused file left in place would be refused again at every rescan and hide among good ones; deleting it
would destroy evidence an operator may need. So it is moved to a quarantine folder, never overwriting
anything already there, and ``<name>.reason.json`` beside it records the reason, the detail, where it came
from and when.

The name is reserved first (an exclusive create), then the file is renamed over that reservation, so two
quarantines racing for one name cannot clobber each other. When the quarantine folder is on another
filesystem (rename fails with EXDEV) a regular file is copied and fsynced before the original is removed,
and a symlink is recreated: the link is what was dropped in the inbox, and its target is never touched.
"""

import contextlib
import errno
import json
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import structlog

from monitor.observability.metrics import ARTICLES

log = structlog.get_logger(__name__)

REASON_SUFFIX = ".reason.json"
# Linux NAME_MAX, in bytes: the reason file's name (and its temporary) must fit as well as the file's.
_NAME_MAX = 255
_MAX_ATTEMPTS = 10_000
_TEMPORARY_SUFFIX = ".tmp"
_LONGEST_HELPER_SUFFIX = REASON_SUFFIX + _TEMPORARY_SUFFIX


class QuarantineError(OSError):
    """The file could not be moved aside; it is still where it was."""


def quarantine(path: Path, quarantine_dir: Path, reason: str, detail: str) -> Path:
    """Move ``path`` (a file, symlink or other non-directory) into ``quarantine_dir``; return its new path."""
    try:
        info = path.lstat()
    except FileNotFoundError as error:
        raise QuarantineError(errno.ENOENT, "nothing to quarantine: file no longer exists") from error
    if stat.S_ISDIR(info.st_mode):
        raise QuarantineError(errno.EISDIR, "directories are scanned, never quarantined")
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = _reserve(quarantine_dir, path.name)
    try:
        _move(path, target, info)
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    note = {
        "reason": reason,
        "detail": detail,
        "original_path": str(path.absolute()),
        "quarantined_at": datetime.now(UTC).isoformat(),
        "size_bytes": info.st_size,
    }
    _write_atomically(target.with_name(target.name + REASON_SUFFIX), json.dumps(note, indent=2) + "\n")
    ARTICLES.labels(outcome="quarantined").inc()
    log.warning(
        "article_quarantined", reason=reason, detail=detail, file=path.name, quarantined_as=target.name
    )
    return target


def _fit(name: str, suffix: str) -> str:
    """``name`` shortened so it still fits NAME_MAX with ``suffix`` and the longest helper suffix added."""
    budget = _NAME_MAX - len(os.fsencode(suffix + _LONGEST_HELPER_SUFFIX))
    while len(os.fsencode(name)) > budget:
        name = name[:-1]
    return name or "file"


def _reserve(directory: Path, name: str) -> Path:
    base = name or "file"
    for attempt in range(_MAX_ATTEMPTS):
        suffix = "" if attempt == 0 else f".{attempt}"
        candidate = directory / (_fit(base, suffix) + suffix)
        if candidate.name.endswith(REASON_SUFFIX):
            continue
        if os.path.lexists(candidate.with_name(candidate.name + REASON_SUFFIX)):
            continue
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise QuarantineError(errno.EEXIST, f"no free name for {name!r} in the quarantine folder")


def _move(source: Path, target: Path, info: os.stat_result) -> None:
    try:
        source.replace(target)
        return
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
    if stat.S_ISLNK(info.st_mode):
        link = target.with_name(target.name + _TEMPORARY_SUFFIX)
        link.symlink_to(source.readlink())
        link.replace(target)
    elif stat.S_ISREG(info.st_mode):
        with source.open("rb") as reader, target.open("r+b") as writer:
            shutil.copyfileobj(reader, writer, length=1 << 20)
            writer.truncate()
            writer.flush()
            os.fsync(writer.fileno())
        shutil.copystat(source, target)
    else:
        raise QuarantineError(errno.EXDEV, "special files cannot be moved to another filesystem")
    source.unlink()


def _write_atomically(path: Path, content: str) -> None:
    temporary = path.with_name(path.name + _TEMPORARY_SUFFIX)
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
