"""Turn one inbox file into an Article, or say in one word why it cannot be one.

The inbox is written by other people's tools, so every file is treated as hostile: its size is checked
before it is read (and the read itself is capped, since a file can grow after the check), special files are
refused without blocking on them (a FIFO opened for reading would wait for a writer forever), and binary
content is refused before any decoding is attempted.

Decoding order: a BOM decides (UTF-8, UTF-16, UTF-32); then strict UTF-8, which is what nearly every file is;
then charset detection. When the detected legacy code page decodes the bytes to exactly the same text as
CP1252, the file is reported as CP1252, the usual Western one (charset detection tends to name a sibling
such as CP1250 for text whose bytes the two share). The text is then stripped of a BOM and its newlines
normalised to LF, and the article id is the sha256 of that text: the same article saved with CRLF or with a
BOM is the same article. UTF-16 without a BOM is refused as binary: its NUL bytes cannot be told from a
binary file's without guessing.
"""

import codecs
import errno
import hashlib
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from charset_normalizer import from_bytes

from monitor.ingest.article import Article
from monitor.ingest.metadata import extract_metadata

DEFAULT_MAX_BYTES = 5_000_000
# Share of control characters (other than tab, newline, carriage return, form feed) above which decoded
# "text" is really binary: real articles have none.
_MAX_CONTROL_RATIO = 0.01
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Unicode category Cc except tab, newline, carriage return and form feed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


class Unreadable(Exception):
    """A file that cannot become an Article. ``reason`` is a stable machine-readable word for logs,
    metrics and the quarantine reason file; ``quarantine`` says whether moving the file aside makes sense
    (a file that vanished or lies outside the inbox is not ours to move)."""

    reason: ClassVar[str] = "unreadable"
    quarantine: ClassVar[bool] = True

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class TooLarge(Unreadable):
    reason = "too_large"


class Binary(Unreadable):
    reason = "binary"


class Undecodable(Unreadable):
    reason = "undecodable"


class Empty(Unreadable):
    reason = "empty"


class NotAFile(Unreadable):
    reason = "not_a_file"


class OutsideInbox(Unreadable):
    reason = "outside_inbox"


class UndecodableName(Unreadable):
    """The file's name is not valid UTF-8 (Python holds it with surrogate escapes): it cannot be stored,
    logged as text or sent in an alert's ``article.path``, so the file is set aside for a person to rename."""

    reason = "undecodable_name"


class Missing(Unreadable):
    reason = "missing"
    quarantine = False


class PermissionDenied(Unreadable):
    reason = "permission_denied"


def read_article(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    received_at: datetime | None = None,
    inbox: Path | None = None,
) -> Article:
    """Read, decode and describe ``path``. With ``inbox``, a path (or symlink) resolving outside it is
    refused, so a link planted in the inbox cannot make the daemon read ``/etc/shadow``."""
    check_name(path)
    data = _read_bytes(path, max_bytes=max_bytes, inbox=inbox)
    if not data:
        raise Empty(path, "file is empty")
    raw_text, encoding = _decode(path, data)
    text = normalise_text(raw_text)
    if not text.strip():
        raise Empty(path, "file holds only whitespace")
    if _control_ratio(text) > _MAX_CONTROL_RATIO:
        raise Binary(path, f"decoded as {encoding} but full of control characters")
    metadata = extract_metadata(text)
    return Article(
        id=article_id(text),
        path=path,
        received_at=received_at if received_at is not None else datetime.now(UTC),
        title=metadata.title,
        source=metadata.source,
        author=metadata.author,
        url=metadata.url,
        published=metadata.published,
        text=text,
        language=metadata.language,
        encoding=encoding,
    )


def check_name(path: Path) -> None:
    """Raise :class:`UndecodableName` unless ``path`` is valid UTF-8 text.

    Call it before the path goes anywhere that encodes it (SQLite, JSON for receivers): a name written
    by a tool in a legacy code page reaches Python as lone surrogates, which those refuse to encode.
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise UndecodableName(path, "file name is not valid UTF-8") from None


def normalise_text(text: str) -> str:
    """Text as hashed and analysed: no leading BOM, LF newlines only."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def article_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _read_bytes(path: Path, *, max_bytes: int, inbox: Path | None) -> bytes:
    resolved: Path | None = None
    if inbox is not None:
        try:
            resolved = path.resolve(strict=True)
        except FileNotFoundError:
            if path.is_symlink():
                raise NotAFile(path, "symlink to a file that does not exist") from None
            raise Missing(path, "file no longer exists") from None
        except (OSError, RuntimeError) as error:
            raise NotAFile(path, f"path cannot be resolved: {_describe(error)}") from None
        if not resolved.is_relative_to(inbox.resolve()):
            raise OutsideInbox(path, "resolves to a file outside the inbox")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise Missing(path, "file no longer exists") from None
    except PermissionError as error:
        raise PermissionDenied(path, _describe(error)) from None
    except OSError as error:
        if error.errno in {errno.ENXIO, errno.EISDIR, errno.ELOOP, errno.ENODEV}:
            raise NotAFile(path, f"not a regular file: {_describe(error)}") from None
        raise Unreadable(path, _describe(error)) from None
    try:
        info = os.fstat(fd)
        if inbox is not None and resolved is not None and not _opened_inside(fd, info, resolved, inbox):
            # A symlink (of the file or of a folder on its way) swapped between the check above and the
            # open: what was opened is not what was checked, and it lies outside the inbox.
            raise OutsideInbox(path, "changed between its inbox check and its opening")
        if not stat.S_ISREG(info.st_mode):
            raise NotAFile(path, f"not a regular file (mode {stat.filemode(info.st_mode)})")
        if info.st_size > max_bytes:
            raise TooLarge(path, f"{info.st_size} bytes, limit {max_bytes}")
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        try:
            data = handle.read(max_bytes + 1)
        except OSError as error:
            raise Unreadable(path, _describe(error)) from None
    if len(data) > max_bytes:
        raise TooLarge(path, f"grew past the limit of {max_bytes} bytes while being read")
    return data


def _opened_inside(fd: int, info: os.stat_result, resolved: Path, inbox: Path) -> bool:
    """Whether the file behind ``fd`` is in the inbox, asked of the open file itself.

    Linux names an open file's real path in /proc; elsewhere the open file must at least be the very file
    (device and inode) the inbox check resolved, which a swap of the final symlink cannot fake.
    """
    try:
        return Path(f"/proc/self/fd/{fd}").readlink().is_relative_to(inbox.resolve())
    except OSError:
        pass
    try:
        there = resolved.stat()
    except OSError:
        return False
    return (there.st_dev, there.st_ino) == (info.st_dev, info.st_ino)


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), codec.removesuffix("-sig")
            except UnicodeDecodeError as error:
                raise Undecodable(path, f"has a {codec} byte-order mark but is not {codec}") from error
    if b"\x00" in data:
        raise Binary(path, "contains NUL bytes and no UTF-16/32 byte-order mark")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise Undecodable(path, "not UTF-8 and no character set fits")
    text = str(best)
    encoding = best.encoding
    try:
        if data.decode("cp1252") == text:
            encoding = "cp1252"
    except UnicodeDecodeError:
        pass
    return text, encoding


def _control_ratio(text: str) -> float:
    return len(_CONTROL.findall(text)) / len(text)


def _describe(error: Exception) -> str:
    """The OS's words for an error (never the path, which the caller logs separately)."""
    return (error.strerror if isinstance(error, OSError) else None) or type(error).__name__
