import os
from pathlib import Path

import pytest

from monitor.ingest import watcher
from monitor.ingest.watcher import is_candidate, scan_inbox


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("a.txt", True),
        ("no extension", True),
        ("sub/deeper/a.md", True),
        ("Алеппо 停火 (1).txt", True),
        ("new\nline.txt", True),
        ("#notes#", False),
        ("#", True),
        (".hidden.txt", False),
        (".a.txt.swp", False),
        ("a.txt.swx", False),
        ("a.txt~", False),
        (".#a.txt", False),
        ("a.txt.part", False),
        ("a.txt.PART", False),
        ("a.tmp", False),
        ("a.txt.crdownload", False),
        ("a.partial", False),
        ("a.txt.download", False),
        (".git/objects/ab", False),
        ("sub/.cache/a.txt", False),
        ("quarantine/a.txt", False),
        ("quarantined.txt", True),
    ],
)
def test_candidate_names(tmp_path: Path, relative: str, expected: bool) -> None:
    assert is_candidate(tmp_path / relative, tmp_path, excluded=[tmp_path / "quarantine"]) is expected


def test_outside_and_the_inbox_itself_are_not_candidates(tmp_path: Path) -> None:
    assert not is_candidate(tmp_path.parent / "x.txt", tmp_path)
    assert not is_candidate(tmp_path, tmp_path)


def _write(path: Path, mtime: float, text: str = "An article.\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def test_scan_lists_candidates_recursively_oldest_first_then_by_path(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    newest = _write(inbox / "a.txt", 3_000)
    oldest = _write(inbox / "sub" / "z.txt", 1_000)
    tie_b = _write(inbox / "b.txt", 2_000)
    tie_a = _write(inbox / "sub" / "a.txt", 2_000)
    _write(inbox / ".hidden" / "x.txt", 1)
    _write(inbox / "quarantine" / "bad.txt", 1)
    _write(inbox / "draft.txt.swp", 1)
    _write(inbox / "download.part", 1)
    assert scan_inbox(inbox, excluded=[inbox / "quarantine"]) == [oldest, tie_b, tie_a, newest]


def test_scan_refuses_links_out_of_the_inbox_and_special_files(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inside = _write(inbox / "inside.txt", 1_000)
    secret = _write(tmp_path / "secret.txt", 1_000)
    (tmp_path / "elsewhere").mkdir()
    _write(tmp_path / "elsewhere" / "other.txt", 1_000)
    (inbox / "out.txt").symlink_to(secret)
    (inbox / "outdir").symlink_to(tmp_path / "elsewhere")
    (inbox / "loop").symlink_to(inbox)
    (inbox / "dangling.txt").symlink_to(tmp_path / "nowhere")
    (inbox / "link.txt").symlink_to(inside)
    os.mkfifo(inbox / "pipe.txt")
    refused: list[tuple[Path, str]] = []
    found = scan_inbox(inbox, on_refused=lambda path, reason: refused.append((path, reason)))
    assert sorted(found) == [inside, inbox / "link.txt"]
    assert sorted(refused) == [
        (inbox / "dangling.txt", "not_a_file"),
        (inbox / "out.txt", "outside_inbox"),
        (inbox / "outdir", "outside_inbox"),
        (inbox / "pipe.txt", "not_a_file"),
    ]


def test_scan_handles_deep_trees_and_odd_names(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    deep = inbox.joinpath(*["d"] * 300)
    expected = [_write(deep / "bottom.txt", 1_000)]
    for index, name in enumerate(["with space.txt", "Алеппо 停火.txt", "new\nline.txt"]):
        expected.append(_write(inbox / name, 2_000 + index))
    assert scan_inbox(inbox) == expected


def test_scan_skips_files_that_vanish_mid_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    doomed = _write(inbox / "doomed.txt", 1_000)
    kept = _write(inbox / "kept.txt", 1_000)
    real_scandir = os.scandir

    class ListThenDelete:
        def __init__(self, path: Path) -> None:
            self._iterator = real_scandir(path)

        def __enter__(self) -> "ListThenDelete":
            return self

        def __exit__(self, *args: object) -> None:
            self._iterator.close()

        def __iter__(self):  # type: ignore[no-untyped-def]
            entries = list(self._iterator)
            doomed.unlink(missing_ok=True)
            return iter(entries)

    monkeypatch.setattr(watcher.os, "scandir", ListThenDelete)
    assert scan_inbox(inbox) == [kept]


def test_scan_min_age_skips_files_still_being_written(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    old = _write(inbox / "old.txt", 1_000)
    (inbox / "fresh.txt").write_text("still arriving")
    assert scan_inbox(inbox, min_age=30) == [old]


def test_scan_of_a_missing_inbox_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        scan_inbox(tmp_path / "nope")
