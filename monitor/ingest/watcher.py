"""Which inbox files are ready to read, from filesystem events and from scans.

A file is ready when its writer is done with it, never while it is half written: reading early would hash,
analyse and alert on half an article, and then again on the whole one.

- **inotify** (the default on Linux): a file is ready when it is closed after writing (``IN_CLOSE_WRITE``) or
  renamed or moved into the inbox (``rsync``, ``mv x.part x.txt``, a move from another folder). A created
  file that nobody opens is settled by size and mtime instead: that is what watchdog reports for files found
  in a directory that appeared (``mkdir d && echo x > d/f`` can finish before the new directory is watched),
  and for hard links.
- **polling** (NFS and CIFS give no inotify events, and watchdog's polling observer no close events): a file
  is ready once its size and mtime have not changed for ``settle_seconds``. A writer that stalls longer than
  that mid-file is indistinguishable from a finished one; prefer writers that rename into place.
- **scans** (start-up, overflow, periodic): :func:`scan_inbox` lists every candidate; ``min_age`` skips
  files modified too recently, whose close event is still to come.

Events are lost when the kernel's inotify queue overflows; watchdog then only logs a warning on
``watchdog.observers.inotify_c``, so the watcher listens for that record and calls ``on_overflow`` (the daemon
rescans). It does the same when the observer's threads die (the inbox was removed, an emitter crashed),
after restarting them. All callbacks run on the asyncio loop's thread.

Paths are reported under ``inbox`` exactly as given (relative if it is relative), the same way by events and
by scans, so one file has one path.
"""

import asyncio
import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from watchdog.events import (
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from monitor.ingest.reader import NotAFile, OutsideInbox

log = structlog.get_logger(__name__)

IGNORED_SUFFIXES = (
    # editors: vim swap files, temporary saves
    ".swp",
    ".swo",
    ".swn",
    ".swx",
    ".tmp",
    ".temp",
    # downloads and copies in progress
    ".part",
    ".partial",
    ".crdownload",
    ".download",
)
INOTIFY_LOGGER = "watchdog.observers.inotify_c"
OVERFLOW_MESSAGE = "Inotify queue overflowed"
_RESTART_BACKOFF_MAX = 30.0
# inotify itself is unusable (rather than the inbox being missing or unreadable): watch by polling instead.
_NO_INOTIFY = frozenset({errno.ENOSPC, errno.EMFILE, errno.ENFILE, errno.ENOSYS, errno.ENOMEM})

ReadyCallback = Callable[[Path], None]
RefusedCallback = Callable[[Path, str], None]


def is_candidate(path: Path, inbox: Path, *, excluded: Collection[Path] = ()) -> bool:
    """Whether ``path`` names a file the daemon should read, by its name alone (no filesystem access).

    Refused: anything outside ``inbox`` or under an ``excluded`` folder (a quarantine folder kept inside the
    inbox), dotfiles and anything under a dot-directory (``.git``, rsync's ``.name.XXXXXX``, emacs
    ``.#lock``), editor backups (``name~``, ``#name#``) and the IGNORED_SUFFIXES, case-insensitively.
    """
    try:
        parts = path.relative_to(inbox).parts
    except ValueError:
        return False
    if not parts or any(path.is_relative_to(folder) for folder in excluded):
        return False
    *directories, name = parts
    return not any(_hidden(directory) for directory in directories) and _candidate_name(name)


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _candidate_name(name: str) -> bool:
    return not (
        _hidden(name)
        or name.endswith("~")
        or (len(name) > 1 and name.startswith("#") and name.endswith("#"))
        or name.lower().endswith(IGNORED_SUFFIXES)
    )


def scan_inbox(
    inbox: Path,
    *,
    excluded: Collection[Path] = (),
    min_age: float = 0.0,
    on_refused: RefusedCallback | None = None,
) -> list[Path]:
    """Every candidate file under ``inbox``, oldest mtime first, then by path.

    Directory symlinks are never followed (the tree they point into is either the inbox, scanned anyway, or
    not ours). A file symlink is listed when it resolves inside the inbox; one that resolves outside it or
    nowhere is passed to ``on_refused`` with the reader's reason word (the daemon quarantines the link), as
    is any special file (FIFO, socket, device). Files vanishing mid-scan are skipped; only a missing inbox
    raises.
    """
    root = inbox.resolve(strict=True)
    now = time.time()
    found: list[tuple[int, str, Path]] = []
    pending = [inbox]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as iterator:
                entries = list(iterator)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as error:
            log.warning("inbox_directory_unreadable", directory=str(directory), error=error.strerror)
            continue
        for entry in entries:
            path = directory / entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not _hidden(entry.name) and not any(path == folder for folder in excluded):
                        pending.append(path)
                    continue
                if not is_candidate(path, inbox, excluded=excluded):
                    continue
                info = _target_stat(path, entry, root)
            except _Refused as refused:
                log.warning(
                    "inbox_entry_refused", file=entry.name, reason=refused.reason, detail=refused.detail
                )
                if on_refused is not None:
                    on_refused(path, refused.reason)
                continue
            except FileNotFoundError:
                continue
            except OSError as error:
                log.warning("inbox_entry_unreadable", file=entry.name, error=error.strerror)
                continue
            if info is None or (min_age > 0 and now - info.st_mtime < min_age):
                continue
            found.append((info.st_mtime_ns, str(path), path))
    found.sort(key=lambda item: (item[0], item[1]))
    return [path for _, _, path in found]


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _target_stat(path: Path, entry: os.DirEntry[str], root: Path) -> os.stat_result | None:
    """The stat of the regular file ``entry`` stands for; None for a link to a directory; raises _Refused."""
    if entry.is_symlink():
        try:
            resolved = path.resolve(strict=True)
        except FileNotFoundError:
            raise _Refused(NotAFile.reason, "symlink to nothing") from None
        except RuntimeError:
            raise _Refused(NotAFile.reason, "symlink loop") from None
        if not resolved.is_relative_to(root):
            raise _Refused(OutsideInbox.reason, "symlink resolves outside the inbox")
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            return None
    else:
        info = entry.stat(follow_symlinks=False)
    if not stat.S_ISREG(info.st_mode):
        raise _Refused(NotAFile.reason, f"special file ({stat.filemode(info.st_mode)})")
    return info


@dataclass
class _Pending:
    """A file seen created or modified, not yet known to be complete."""

    signature: tuple[int, int, int] | None
    stable_since: float
    open_for_writing: bool = False


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino)


class InboxWatcher:
    """Reports ready inbox files to ``on_ready`` and lost events to ``on_overflow``, on ``loop``'s thread.

    Start it before the start-up scan so nothing slips between the two; a file reported by both is read
    twice and deduplicated by content hash downstream.
    """

    def __init__(
        self,
        inbox: Path,
        loop: asyncio.AbstractEventLoop,
        on_ready: ReadyCallback,
        on_overflow: Callable[[], None],
        *,
        polling: bool = False,
        settle_seconds: float = 0.5,
        poll_interval: float = 1.0,
        excluded: Collection[Path] = (),
    ) -> None:
        self._inbox = inbox
        self._loop = loop
        self._on_ready = on_ready
        self._on_overflow = on_overflow
        self._polling = polling
        self._settle_seconds = settle_seconds
        self._poll_interval = poll_interval
        self._excluded = tuple(excluded)
        self._tick = min(0.25, max(0.02, settle_seconds / 4))
        self._lock = threading.Lock()
        self._pending: dict[Path, _Pending] = {}
        self._overflow_scheduled = False
        self._observer: BaseObserver | None = None
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._handler = _EventHandler(self)
        self._log_handler = _OverflowLogHandler(self.notify_events_lost)
        self._restart_backoff = 1.0
        self._next_restart = 0.0

    @property
    def polling(self) -> bool:
        """Whether readiness is judged by settling (asked for, or inotify was unavailable)."""
        return self._polling

    def start(self) -> None:
        """Watch the inbox (which must exist); raises OSError if it cannot be watched at all."""
        inotify_logger = logging.getLogger(INOTIFY_LOGGER)
        if not inotify_logger.isEnabledFor(logging.WARNING):
            # The overflow warning is our only sign of lost events: it must not be filtered out.
            inotify_logger.setLevel(logging.WARNING)
        inotify_logger.addHandler(self._log_handler)
        self._stopping.clear()
        self._observer = self._start_observer()
        self._supervisor = threading.Thread(target=self._supervise, name="inbox-watcher", daemon=True)
        self._supervisor.start()
        log.info("inbox_watch_started", inbox=str(self._inbox), polling=self._polling)

    def stop(self) -> None:
        """Stop watching; pending (unsettled) files are dropped and found again by the next start-up scan."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
            self._supervisor = None
        observer, self._observer = self._observer, None
        if observer is not None:
            _stop_observer(observer)
        logging.getLogger(INOTIFY_LOGGER).removeHandler(self._log_handler)
        with self._lock:
            self._pending.clear()

    def notify_events_lost(self) -> None:
        """Called (from any thread) when events were lost: forget half-known state and ask for a rescan."""
        with self._lock:
            self._pending.clear()
            if self._overflow_scheduled:
                return
            self._overflow_scheduled = True
        log.warning("inbox_events_lost", inbox=str(self._inbox))
        self._call_soon(self._run_overflow)

    def _run_overflow(self) -> None:
        with self._lock:
            self._overflow_scheduled = False
        self._on_overflow()

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            # The loop closed under us during shutdown; the next start-up scan finds the file.
            log.debug("inbox_event_after_loop_closed")

    def _start_observer(self) -> BaseObserver:
        if not self._polling:
            try:
                return self._schedule(_inotify_observer())
            except (ImportError, OSError) as error:
                if isinstance(error, OSError) and error.errno not in _NO_INOTIFY:
                    raise  # e.g. the inbox is missing: polling would not help, a later restart may
                # No inotify (not Linux), or out of inotify instances or watches (fs.inotify.max_user_*).
                log.warning(
                    "inbox_watch_polling_fallback", reason=getattr(error, "strerror", None) or str(error)
                )
                self._polling = True
        return self._schedule(PollingObserver(timeout=self._poll_interval))

    def _schedule(self, observer: BaseObserver) -> BaseObserver:
        observer.schedule(self._handler, str(self._inbox), recursive=True)
        try:
            observer.start()
        except BaseException:
            _stop_observer(observer)
            raise
        return observer

    def _supervise(self) -> None:
        while not self._stopping.wait(self._tick):
            try:
                self._settle()
                self._check_observer()
            except Exception:
                log.exception("inbox_watcher_error")

    def _settle(self) -> None:
        now = time.monotonic()
        with self._lock:
            candidates = [
                (path, entry) for path, entry in self._pending.items() if not entry.open_for_writing
            ]
        for path, entry in candidates:
            signature = _signature(path)
            with self._lock:
                if self._pending.get(path) is not entry or entry.open_for_writing:
                    continue
                if signature is None:
                    del self._pending[path]
                elif signature != entry.signature:
                    entry.signature, entry.stable_since = signature, now
                elif now - entry.stable_since >= self._settle_seconds:
                    del self._pending[path]
                    self._call_soon(self._on_ready, path)

    def _check_observer(self) -> None:
        observer = self._observer
        if observer is not None and observer.is_alive() and all(e.is_alive() for e in observer.emitters):
            return
        now = time.monotonic()
        if now < self._next_restart:
            return
        if observer is not None:
            log.error("inbox_watch_died", inbox=str(self._inbox))
            self._observer = None
            _stop_observer(observer)
            self.notify_events_lost()
        try:
            self._observer = self._start_observer()
        except OSError as error:
            log.error(
                "inbox_watch_restart_failed", inbox=str(self._inbox), error=error.strerror or str(error)
            )
            self._next_restart = now + self._restart_backoff
            self._restart_backoff = min(self._restart_backoff * 2, _RESTART_BACKOFF_MAX)
            return
        self._restart_backoff = 1.0
        log.warning("inbox_watch_restarted", inbox=str(self._inbox))
        self.notify_events_lost()

    def on_event(self, event: FileSystemEvent) -> None:
        """Observer thread: turn one watchdog event into readiness or pending state."""
        if event.is_directory:
            return
        path = Path(os.fsdecode(event.src_path))
        if isinstance(event, FileMovedEvent):
            with self._lock:
                self._pending.pop(path, None)
            if not event.dest_path:
                return
            destination = Path(os.fsdecode(event.dest_path))
            if self._is_candidate(destination):
                with self._lock:
                    self._pending.pop(destination, None)
                self._call_soon(self._on_ready, destination)
            return
        if isinstance(event, FileDeletedEvent):
            with self._lock:
                self._pending.pop(path, None)
            return
        if not self._is_candidate(path):
            return
        if isinstance(event, FileClosedEvent):
            with self._lock:
                self._pending.pop(path, None)
            self._call_soon(self._on_ready, path)
        elif isinstance(event, FileCreatedEvent) or (self._polling and isinstance(event, FileModifiedEvent)):
            with self._lock:
                if path not in self._pending:
                    self._pending[path] = _Pending(_signature(path), time.monotonic())
        elif isinstance(event, FileOpenedEvent | FileModifiedEvent):
            with self._lock:
                if entry := self._pending.get(path):
                    entry.open_for_writing = True
        elif isinstance(event, FileClosedNoWriteEvent):
            with self._lock:
                if entry := self._pending.get(path):
                    entry.open_for_writing = False
                    entry.stable_since = time.monotonic()

    def _is_candidate(self, path: Path) -> bool:
        return is_candidate(path, self._inbox, excluded=self._excluded)


def _inotify_observer() -> BaseObserver:
    from watchdog.observers.inotify import InotifyObserver  # Linux only

    observer: BaseObserver = InotifyObserver(generate_full_events=True)
    return observer


def _stop_observer(observer: BaseObserver) -> None:
    try:
        observer.stop()
        if observer.is_alive():
            observer.join(timeout=5)
    except RuntimeError:
        # Never started: nothing to join.
        pass
    except OSError as error:
        log.warning("inbox_watch_stop_failed", error=error.strerror)


class _EventHandler(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher) -> None:
        super().__init__()
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        # An exception here would kill watchdog's observer thread: log it and keep watching.
        try:
            self._watcher.on_event(event)
        except Exception:
            log.exception("inbox_event_failed", event_type=event.event_type)


class _OverflowLogHandler(logging.Handler):
    """Turns watchdog's "Inotify queue overflowed" warning, its only overflow signal, into a callback."""

    def __init__(self, callback: Callable[[], None]) -> None:
        super().__init__(level=logging.WARNING)
        self._callback = callback

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == INOTIFY_LOGGER and record.getMessage().startswith(OVERFLOW_MESSAGE):
            self._callback()
