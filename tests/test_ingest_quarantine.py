import json
import os
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

from monitor.ingest.quarantine import QuarantineError, quarantine
from monitor.observability.metrics import REGISTRY


def _quarantined_total() -> float:
    return REGISTRY.get_sample_value("newsmon_articles_total", {"outcome": "quarantined"}) or 0.0


def test_file_is_moved_with_a_reason_file(tmp_path: Path) -> None:
    inbox, jail = tmp_path / "inbox", tmp_path / "quarantine"
    inbox.mkdir()
    bad = inbox / "bad.txt"
    bad.write_bytes(b"\x00\x01binary")
    before = _quarantined_total()
    moved = quarantine(bad, jail, "binary", "contains NUL bytes")
    assert moved == jail / "bad.txt"
    assert not bad.exists()
    assert moved.read_bytes() == b"\x00\x01binary"
    note = json.loads((jail / "bad.txt.reason.json").read_text())
    assert note["reason"] == "binary"
    assert note["detail"] == "contains NUL bytes"
    assert note["original_path"] == str(bad)
    assert note["size_bytes"] == 8
    assert datetime.fromisoformat(note["quarantined_at"]).tzinfo is not None
    assert _quarantined_total() == before + 1


def test_never_overwrites_an_earlier_quarantined_file(tmp_path: Path) -> None:
    jail = tmp_path / "quarantine"
    contents = []
    for index in range(3):
        source = tmp_path / f"in{index}" / "same.txt"
        source.parent.mkdir()
        source.write_text(f"version {index}")
        contents.append(quarantine(source, jail, "empty", "whatever").read_text())
    assert contents == ["version 0", "version 1", "version 2"]
    assert sorted(p.name for p in jail.iterdir() if not p.name.endswith(".reason.json")) == [
        "same.txt",
        "same.txt.1",
        "same.txt.2",
    ]
    assert json.loads((jail / "same.txt.2.reason.json").read_text())["original_path"].endswith("in2/same.txt")


def test_symlink_is_moved_and_its_target_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    target.write_text("keep me")
    link = tmp_path / "inbox" / "link.txt"
    link.parent.mkdir()
    link.symlink_to(target)
    moved = quarantine(link, tmp_path / "quarantine", "outside_inbox", "points outside")
    assert moved.is_symlink()
    assert moved.readlink() == target
    assert not os.path.lexists(link)
    assert target.read_text() == "keep me"


def _other_filesystem_dir() -> Path | None:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return None


@pytest.mark.skipif(_other_filesystem_dir() is None, reason="no writable tmpfs at /dev/shm")
def test_works_across_filesystems(tmp_path: Path) -> None:
    other = _other_filesystem_dir()
    assert other is not None
    with tempfile.TemporaryDirectory(dir=other) as jail_dir:
        jail = Path(jail_dir)
        assert jail.stat().st_dev != tmp_path.stat().st_dev
        source = tmp_path / "big.txt"
        source.write_bytes(b"x" * 3_000_000)
        os.utime(source, (1_000_000, 1_000_000))
        link = tmp_path / "link.txt"
        link.symlink_to(tmp_path / "elsewhere.txt")
        moved = quarantine(source, jail, "too_large", "3000000 bytes")
        moved_link = quarantine(link, jail, "not_a_file", "dangling")
        assert not source.exists()
        assert moved.read_bytes() == b"x" * 3_000_000
        assert moved.stat().st_mtime == 1_000_000
        assert moved_link.is_symlink() and moved_link.readlink() == tmp_path / "elsewhere.txt"
        assert not os.path.lexists(link)
        assert (jail / "big.txt.reason.json").exists()


def test_odd_and_overlong_names(tmp_path: Path) -> None:
    jail = tmp_path / "quarantine"
    names = [
        "with space.txt",
        "Алеппо 停火.txt",
        "new\nline.txt",
        "é" * 126 + ".t",
        os.fsdecode(b"cp1252-\xe9.txt"),
    ]
    for name in names:
        source = tmp_path / name
        source.write_text("x")
        moved = quarantine(source, jail, "empty", "odd name")
        assert moved.read_text() == "x"
        assert len(os.fsencode(moved.name + ".reason.json.tmp")) <= 255
        assert json.loads((jail / (moved.name + ".reason.json")).read_text())["original_path"] == str(source)


def test_directories_and_missing_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(QuarantineError):
        quarantine(tmp_path / "dir.txt", tmp_path / "quarantine", "not_a_file", "directory")
    with pytest.raises(QuarantineError):
        quarantine(tmp_path / "gone.txt", tmp_path / "quarantine", "missing", "gone")
    assert (tmp_path / "dir.txt").is_dir()
