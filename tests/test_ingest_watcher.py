"""The inbox watcher with real watchdog observers (inotify, and polling) on real folders.

Each scenario runs on an asyncio loop, as in the daemon: the watcher reports on the loop's thread, and the
test awaits what it reports. "Never reported" is checked against a sentinel file written afterwards: once
the sentinel is reported, any event for the earlier files has been handled too.
"""

import asyncio
import errno
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from monitor.ingest import watcher as watcher_module
from monitor.ingest.watcher import INOTIFY_LOGGER, InboxWatcher

SETTLE = 0.2
TIMEOUT = 10.0


@dataclass
class Reports:
    ready: list[Path] = field(default_factory=list)
    contents: dict[Path, bytes] = field(default_factory=dict)
    lost: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_ready(self, path: Path) -> None:
        self.changed.set()
        self.ready.append(path)
        try:
            self.contents[path] = path.read_bytes()  # what a reader would see at this very moment
        except OSError:
            self.contents[path] = b"<unreadable>"

    def on_overflow(self) -> None:
        self.changed.set()
        self.lost += 1


async def eventually(reports: Reports, condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition`` holds, re-checking it after each report."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while not condition():
                reports.changed.clear()
                await reports.changed.wait()
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def watch(
    inbox: Path,
    scenario: Callable[[Reports, InboxWatcher], Awaitable[None]],
    **options: object,
) -> Reports:
    reports = Reports()

    async def main() -> None:
        watcher = InboxWatcher(
            inbox,
            asyncio.get_running_loop(),
            reports.on_ready,
            reports.on_overflow,
            settle_seconds=SETTLE,
            poll_interval=0.1,
            **options,  # type: ignore[arg-type]
        )
        watcher.start()
        try:
            await scenario(reports, watcher)
        finally:
            watcher.stop()

    asyncio.run(main())
    return reports


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def test_a_file_counts_once_closed_after_writing(inbox: Path) -> None:
    article = inbox / "a.txt"

    async def scenario(reports: Reports, watcher: InboxWatcher) -> None:
        assert not watcher.polling
        article.write_text("Aleppo ceasefire.\n")
        await eventually(reports, lambda: article in reports.ready, "the closed file")
        await asyncio.sleep(SETTLE * 3)

    reports = watch(inbox, scenario)
    assert reports.ready == [article]
    assert reports.contents[article] == b"Aleppo ceasefire.\n"


def test_a_slow_writer_is_not_read_early(inbox: Path) -> None:
    """Half an article sits open for several settle periods; only the closed, whole file is reported."""
    article = inbox / "slow.txt"

    async def scenario(reports: Reports, _watcher: InboxWatcher) -> None:
        with article.open("wb") as handle:
            handle.write(b"First half of the article. ")
            handle.flush()
            await asyncio.sleep(SETTLE * 5)
            assert reports.ready == []
            handle.write(b"Second half.\n")
        await eventually(reports, lambda: bool(reports.ready), "the finished file")

    reports = watch(inbox, scenario)
    assert reports.ready == [article]
    assert reports.contents[article] == b"First half of the article. Second half.\n"


def test_moved_in_from_elsewhere_and_renamed_into_place(inbox: Path, tmp_path: Path) -> None:
    outside = tmp_path / "staging.txt"
    outside.write_text("moved in\n")
    partial = inbox / "b.txt.part"
    moved, renamed = inbox / "moved.txt", inbox / "b.txt"

    async def scenario(reports: Reports, _watcher: InboxWatcher) -> None:
        os.rename(outside, moved)
        partial.write_text("renamed into place\n")
        os.rename(partial, renamed)
        await eventually(reports, lambda: {moved, renamed} <= set(reports.ready), "both files")
        await asyncio.sleep(SETTLE * 3)

    reports = watch(inbox, scenario)
    assert sorted(reports.ready) == [renamed, moved]  # the .part name itself is never reported
    assert reports.contents[renamed] == b"renamed into place\n"


def test_dotfiles_swap_part_and_tmp_files_are_ignored(inbox: Path) -> None:
    ignored = [
        inbox / ".hidden.txt",
        inbox / ".article.txt.swp",
        inbox / "article.txt~",
        inbox / "download.part",
        inbox / "x.TMP",
        inbox / "page.crdownload",
        inbox / "#autosave#",
    ]
    (inbox / ".git").mkdir()
    ignored.append(inbox / ".git" / "objects.txt")
    (inbox / "state").mkdir()
    ignored.append(inbox / "state" / "alerts.jsonl")
    sentinel = inbox / "sentinel.txt"

    async def scenario(reports: Reports, _watcher: InboxWatcher) -> None:
        for path in ignored:
            path.write_text("ignored\n")
        sentinel.write_text("counted\n")
        await eventually(reports, lambda: sentinel in reports.ready, "the sentinel")
        await asyncio.sleep(SETTLE * 3)

    reports = watch(inbox, scenario, excluded=(inbox / "state",))
    assert reports.ready == [sentinel]


def test_files_in_new_subfolders_and_odd_names(inbox: Path) -> None:
    """``mkdir d && write d/f`` can beat the new folder's watch: the created event settles it instead."""
    names = [inbox / "with space.txt", inbox / "Алеппо 停火.txt", inbox / "new\nline.txt"]
    deep = inbox.joinpath(*[f"level{n}" for n in range(12)]) / "deep.txt"

    async def scenario(reports: Reports, _watcher: InboxWatcher) -> None:
        for path in names:
            path.write_text(path.name)
        deep.parent.mkdir(parents=True)
        deep.write_text("deep")
        await eventually(reports, lambda: set(names) | {deep} <= set(reports.ready), "every file")

    reports = watch(inbox, scenario)
    assert reports.contents[deep] == b"deep"
    for path in names:
        assert reports.contents[path] == path.name.encode()


def test_inotify_overflow_asks_for_one_rescan(inbox: Path) -> None:
    """watchdog's only overflow signal is a warning on its logger; a flurry of them means one rescan."""

    async def scenario(reports: Reports, _watcher: InboxWatcher) -> None:
        for _ in range(5):
            logging.getLogger(INOTIFY_LOGGER).warning("Inotify queue overflowed")
        await eventually(reports, lambda: reports.lost >= 1, "the overflow callback")
        await asyncio.sleep(0.2)
        logging.getLogger(INOTIFY_LOGGER).warning("Some other inotify warning")
        await asyncio.sleep(0.2)

    reports = watch(inbox, scenario)
    assert reports.lost == 1


def test_the_watcher_stays_enabled_even_if_logging_is_turned_down(inbox: Path) -> None:
    logger = logging.getLogger(INOTIFY_LOGGER)
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:

        async def scenario(reports: Reports, _watcher: InboxWatcher) -> None:
            logger.warning("Inotify queue overflowed")
            await eventually(reports, lambda: reports.lost == 1, "the overflow callback")

        watch(inbox, scenario)
    finally:
        logger.setLevel(previous)


def test_a_removed_and_recreated_inbox_is_watched_again_and_rescanned(inbox: Path) -> None:
    """Losing the watch asks for a rescan; so does getting it back (files may have come in between)."""
    after = inbox / "after.txt"

    async def scenario(reports: Reports, watcher: InboxWatcher) -> None:
        shutil.rmtree(inbox)
        await eventually(reports, lambda: reports.lost == 1, "a rescan request when the watch died")
        await asyncio.to_thread(inbox.mkdir)
        await eventually(reports, lambda: reports.lost == 2, "a rescan request after the restart")
        assert not reports.ready
        assert not watcher.polling  # a missing folder is no reason to give up inotify for good
        after.write_text("after the restart\n")
        await eventually(reports, lambda: after in reports.ready, "a file written after the restart")

    reports = watch(inbox, scenario)
    assert reports.contents[after] == b"after the restart\n"


def test_polling_waits_for_size_and_mtime_to_settle(inbox: Path) -> None:
    """No close events when polling: a file still growing is not ready; a quiet one is, once."""
    article = inbox / "nfs.txt"

    async def scenario(reports: Reports, watcher: InboxWatcher) -> None:
        assert watcher.polling
        with article.open("wb") as handle:
            for chunk in range(6):
                handle.write(f"chunk {chunk}\n".encode())
                handle.flush()
                os.utime(article)  # a coarse-mtime filesystem still sees the size change
                await asyncio.sleep(SETTLE / 2)
            assert reports.ready == []
        await eventually(reports, lambda: bool(reports.ready), "the settled file")
        await asyncio.sleep(SETTLE * 3)

    reports = watch(inbox, scenario, polling=True)
    assert reports.ready == [article]
    assert reports.contents[article] == b"".join(f"chunk {n}\n".encode() for n in range(6))


def test_stop_is_clean_and_start_again_works(inbox: Path) -> None:
    first, second = inbox / "one.txt", inbox / "two.txt"

    async def scenario(reports: Reports, watcher: InboxWatcher) -> None:
        first.write_text("1")
        await eventually(reports, lambda: first in reports.ready, "the first file")
        watcher.stop()
        watcher.start()
        second.write_text("2")
        await eventually(reports, lambda: second in reports.ready, "the second file")

    assert watch(inbox, scenario).ready == [first, second]


def test_falls_back_to_polling_when_inotify_is_exhausted(
    inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of inotify instances (``fs.inotify.max_user_instances``): poll rather than see nothing."""

    def exhausted() -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(watcher_module, "_inotify_observer", exhausted)
    article = inbox / "a.txt"

    async def scenario(reports: Reports, watcher: InboxWatcher) -> None:
        assert watcher.polling
        article.write_text("still seen\n")
        await eventually(reports, lambda: article in reports.ready, "the file, by polling")

    assert watch(inbox, scenario).ready == [article]
