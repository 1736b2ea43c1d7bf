"""The daemon as systemd and operators see it: a real `newsmon run` subprocess.

- lifecycle: READY, WATCHDOG, STATUS, RELOADING/READY on SIGHUP and STOPPING on SIGTERM arrive on a fake
  ``NOTIFY_SOCKET`` (a real Unix datagram socket); /healthz, /readyz and /metrics answer on 127.0.0.1;
  ``newsmon status`` sees the running daemon;
- hostile input: random bytes, 0 bytes, 50 MB, invalid UTF-8, a FIFO, symlinks out of the inbox, deep
  folders and odd names leave the daemon running and every good file processed;
- shutdown: SIGTERM mid-burst, and a second SIGTERM, leave a consistent database; a later run finishes
  the rest with nothing lost or processed twice;
- burst: a couple of thousand files dropped at once are all accounted for.
"""

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from monitor.observability.cli import status
from monitor.store.db import DB_NAME
from tests.daemon_harness import SEEDS, Daemon, make_project
from tests.daemon_harness import start_daemon as start

SAMPLES = sorted(SEEDS.glob("*.txt"))
START_TIMEOUT = 60.0


class NotifyListener:
    """What systemd's manager would receive: one datagram per notification, kept in arrival order."""

    def __init__(self) -> None:
        self._folder = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")  # sun_path is short; tmp_path is not
        self.path = os.path.join(self._folder, "notify")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.1)
        self.messages: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                datagram = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in datagram.decode().splitlines() if "=" in line)
            with self._lock:
                self.messages.append(fields)

    def keys(self) -> list[str]:
        """The first key of each message: READY, WATCHDOG, STATUS, RELOADING, STOPPING."""
        with self._lock:
            return [next(iter(message)) for message in self.messages]

    def wait_for(self, key: str, *, after: int = 0, timeout: float = 30.0) -> int:
        """Index of the first ``key`` message at or after position ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            keys = self.keys()
            for index in range(after, len(keys)):
                if keys[index] == key:
                    return index
            time.sleep(0.02)
        raise AssertionError(f"no {key} notification after #{after}; got {self.keys()}")

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        self._sock.close()
        shutil.rmtree(self._folder, ignore_errors=True)


def query(state: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the daemon's database the way `newsmon status` does: read-only, while it writes."""
    with contextlib.closing(sqlite3.connect(f"{(state / DB_NAME).as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def integrity(state: Path) -> str:
    with contextlib.closing(sqlite3.connect(state / DB_NAME)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def unique_article(sample: Path, marker: str) -> bytes:
    """A sample with one extra line, so that each copy is a new article (not a duplicate by content)."""
    return sample.read_bytes() + f"\nReference {marker}.\n".encode()


@pytest.fixture
def notify() -> Iterator[NotifyListener]:
    listener = NotifyListener()
    yield listener
    listener.close()


def test_systemd_lifecycle_health_endpoints_and_status(tmp_path: Path, notify: NotifyListener) -> None:
    project = make_project(tmp_path, seeds=False)
    samples = SAMPLES[:2]
    for sample in samples:
        shutil.copy(sample, project["inbox"] / sample.name)
    daemon = start(
        project,
        "--metrics-port",
        "0",
        env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"},  # a ping every 0.5 s
    )
    try:
        ready_event = daemon.wait_for("daemon_ready", timeout=START_TIMEOUT)
        port = daemon.wait_for("metrics_listening")["port"]
        ready = notify.wait_for("READY")
        assert "STOPPING" not in notify.keys()[:ready]
        status_index = notify.wait_for("STATUS", after=ready)
        assert notify.messages[status_index]["STATUS"] == f"watching {project['inbox']}"
        first_ping = notify.wait_for("WATCHDOG", after=ready)
        notify.wait_for("WATCHDOG", after=first_ping + 1)  # it keeps pinging while the pipeline is alive

        base = f"http://127.0.0.1:{port}"
        daemon.wait_until(lambda: daemon.count("article_processed") == len(samples), "the samples")
        with httpx.Client(timeout=5) as client:
            live = client.get(base + "/healthz")
            assert live.status_code == 200
            assert live.json()["status"] == "ok"
            readiness = client.get(base + "/readyz")
            assert readiness.status_code == 200
            assert readiness.json()["rules"] == ready_event["rules"]
            metrics = client.get(base + "/metrics").text
        assert f'newsmon_articles_total{{outcome="processed"}} {float(len(samples))}' in metrics
        assert f"newsmon_rules_loaded {float(ready_event['rules'])}" in metrics
        assert 'newsmon_inbox_rescans_total{reason="startup"} 1.0' in metrics
        assert f"newsmon_ingest_to_alert_seconds_count {float(len(samples))}" in metrics

        result = CliRunner().invoke(status, ["--state", str(project["state"]), "--json"])
        report = json.loads(result.output)
        assert report["daemon"]["state"] == "running"
        assert report["daemon"]["heartbeat"]["pid"] == daemon.process.pid
        assert report["articles"]["processed"] == len(samples)

        before_reload = len(notify.keys())
        daemon.signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING", after=before_reload)
        assert int(notify.messages[reloading]["MONOTONIC_USEC"]) > 0
        notify.wait_for("READY", after=reloading + 1)
        daemon.wait_for("rules_reloaded")
        # An invalid rule file (picked up without a signal) is refused; the old set keeps serving.
        before_bad_edit = len(notify.keys())
        (project["rules"] / "broken.yaml").write_text("- id: broken\n  query: '(ceasefire AND'\n")
        failed = daemon.wait_for("rules_reload_failed")
        assert failed["kept_rules"] == ready_event["rules"]
        reloading = notify.wait_for("RELOADING", after=before_bad_edit)
        notify.wait_for("READY", after=reloading + 1)
        with httpx.Client(timeout=5) as client:
            metrics = client.get(base + "/metrics").text
            assert client.get(base + "/readyz").status_code == 200
        assert 'newsmon_rule_reloads_total{outcome="ok"} 1.0' in metrics
        assert 'newsmon_rule_reloads_total{outcome="failed"} 1.0' in metrics
        assert f"newsmon_rules_loaded {float(ready_event['rules'])}" in metrics
        article = project["inbox"] / "after-failed-reload.txt"
        article.write_bytes(unique_article(SAMPLES[0], "after-failed-reload"))
        daemon.wait_for("article_processed", lambda e: e["path"] == str(article))

        before_stop = len(notify.keys())
        assert daemon.stop() == 0
        stopping = notify.wait_for("STOPPING", after=before_stop)
        assert "READY" not in notify.keys()[stopping:]
        daemon.wait_for("daemon_stopped")
    finally:
        daemon.kill()
    assert integrity(project["state"]) == "ok"


def hostile_files(inbox: Path, outside: Path) -> dict[str, Path]:
    """Files a production inbox will eventually see; keyed by what they are."""
    rng = random.Random(6)
    files: dict[str, Path] = {}

    def put(key: str, name: str | bytes, content: bytes) -> None:
        path = Path(os.fsdecode(os.path.join(os.fsencode(inbox), os.fsencode(name))))
        path.write_bytes(content)
        files[key] = path

    put("random_bytes", "random.bin", bytes(rng.randrange(256) for _ in range(64 * 1024)))
    put("empty", "empty.txt", b"")
    put("fifty_megabytes", "huge.txt", b"All quiet in Aleppo today. " * (50 * 1024 * 1024 // 27))
    put("invalid_utf8", "latin.txt", b"Cessez-le-feu \xe0 Alep \xff\xfe\xfd \xc3\x28 " * 40)
    put("nul_in_text", "nul.txt", b"Ceasefire in Aleppo.\x00\x00\x00 More text." * 10)
    secret = outside / "secret.txt"
    secret.write_text("not for the daemon\n", encoding="utf-8")
    (inbox / "escape.txt").symlink_to(secret)
    files["symlink_out"] = inbox / "escape.txt"
    (inbox / "nowhere.txt").symlink_to(outside / "missing.txt")
    files["dangling_symlink"] = inbox / "nowhere.txt"
    (inbox / "outdir").symlink_to(outside)
    os.mkfifo(inbox / "pipe.txt")
    files["fifo"] = inbox / "pipe.txt"
    (inbox / "folder.txt").mkdir()
    return files


def good_files(inbox: Path) -> list[Path]:
    names = [
        "plain.txt",
        "with space and (parens).txt",
        "Алеппо 停火 وقف إطلاق النار.txt",
        "new\nline.txt" + "x" * 200,
    ]
    deep = inbox.joinpath(*[f"d{level}" for level in range(40)])
    deep.mkdir(parents=True)
    paths = [inbox / name for name in names]
    paths.append(deep / "deep.txt")
    for index, path in enumerate(paths):
        path.write_bytes(unique_article(SAMPLES[index % len(SAMPLES)], f"good-{index}"))
    return paths


def outcomes(daemon: Daemon) -> dict[str, str]:
    """File path → what the daemon did with it, from its log lines."""
    found: dict[str, str] = {}
    for event in daemon.events():
        name = event.get("event")
        if name in ("article_processed", "article_skipped", "article_duplicate"):
            found[event["path"]] = name.removeprefix("article_")
        elif name == "article_quarantined":
            found[event["file"]] = f"quarantined:{event['reason']}"
    return found


def test_hostile_files_leave_the_daemon_running_and_good_files_processed(tmp_path: Path) -> None:
    project = make_project(tmp_path, seeds=False)
    inbox = project["inbox"]
    outside = tmp_path / "outside"
    outside.mkdir()
    daemon = start(project)
    try:
        daemon.wait_for("daemon_ready", timeout=START_TIMEOUT)
        hostile = hostile_files(inbox, outside)
        good = good_files(inbox)
        expected = {
            "random.bin": "quarantined:binary",
            "huge.txt": "quarantined:too_large",
            "nul.txt": "quarantined:binary",
            "escape.txt": "quarantined:outside_inbox",
            "outdir": "quarantined:outside_inbox",
            "pipe.txt": "quarantined:not_a_file",
            str(hostile["empty"]): "skipped",  # an empty file may still be written to: left in place
            **{str(path): "processed" for path in good},
        }
        latin = str(hostile["invalid_utf8"])
        daemon.wait_until(
            lambda: expected.keys() <= outcomes(daemon).keys() and latin in outcomes(daemon),
            "an outcome for every file",
        )
        seen = outcomes(daemon)
        assert {key: seen[key] for key in expected} == expected
        # Invalid UTF-8 content is decoded by charset detection or set aside as undecodable; never a crash.
        assert seen[latin] in ("processed", "quarantined:undecodable")
        for name in ("random.bin", "huge.txt", "nul.txt", "escape.txt", "pipe.txt"):
            assert not os.path.lexists(inbox / name)
            note = json.loads((project["state"] / "quarantine" / f"{name}.reason.json").read_text())
            assert f"quarantined:{note['reason']}" == expected[name]
        assert (outside / "secret.txt").read_text() == "not for the daemon\n"  # the link's target untouched
        assert (inbox / "folder.txt").is_dir()  # a folder named like an article is just a folder

        assert daemon.process.poll() is None
        for failure in ("article_read_failed", "background_task_failed", "article_analysis_failed"):
            assert daemon.count(failure) == 0, daemon.output()
        assert daemon.stop() == 0
    finally:
        daemon.kill()
    assert integrity(project["state"]) == "ok"
    processed = query(project["state"], "SELECT COUNT(*) FROM articles WHERE status = 'processed'")
    assert processed[0][0] in (len(good), len(good) + 1)  # + the invalid-UTF-8 file if it decoded


def test_a_file_name_that_is_not_utf8_is_quarantined(tmp_path: Path) -> None:
    project = make_project(tmp_path, seeds=False)
    daemon = start(project)
    try:
        daemon.wait_for("daemon_ready", timeout=START_TIMEOUT)
        name = os.fsdecode(b"cessez-le-feu-\xe0-alep.txt")
        (project["inbox"] / name).write_bytes(unique_article(SAMPLES[0], "cp1252-name"))
        daemon.wait_until(
            lambda: name in outcomes(daemon) or daemon.count("article_read_failed") > 0,
            "the file's outcome",
        )
        assert daemon.count("article_read_failed") == 0
        assert outcomes(daemon)[name] == "quarantined:undecodable_name"
    finally:
        assert daemon.stop() == 0


def drop_burst(inbox: Path, count: int, *, distinct: int) -> list[Path]:
    """``count`` files as fast as Python can write them; ``distinct`` different contents among them.

    The contents match no rule: the subject is intake and state, and alerts would only add delivery time.
    """
    paths = []
    for index in range(count):
        path = inbox / f"burst-{index:05d}.txt"
        variant = index % distinct
        path.write_text(
            f"Market bulletin {variant}\n\nShares in company number {variant} rose on Tuesday.\n",
            encoding="utf-8",
        )
        paths.append(path)
    return paths


def test_sigterm_mid_burst_then_a_second_one_leave_a_consistent_database(tmp_path: Path) -> None:
    project = make_project(tmp_path, seeds=False)
    daemon = start(project)
    try:
        daemon.wait_for("daemon_ready", timeout=START_TIMEOUT)
        paths = drop_burst(project["inbox"], 100, distinct=100)
        daemon.wait_until(lambda: daemon.count("article_processed") >= 20, "some progress")
        daemon.signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=30) == 0
        assert daemon.count("daemon_stopped") == 1
    finally:
        daemon.kill()
    assert integrity(project["state"]) == "ok"
    (first,) = query(project["state"], "SELECT COUNT(*) FROM articles")[0]
    assert 20 <= int(first) < len(paths)  # it stopped early rather than finishing the burst

    second = start(project)
    try:
        second.wait_for("daemon_ready", timeout=START_TIMEOUT)
        second.wait_until(lambda: second.count("article_processed") >= 5, "progress after restart")
        second.signal(signal.SIGTERM)
        time.sleep(0.02)
        second.signal(signal.SIGTERM)  # impatient operator: exit now
        code = second.process.wait(timeout=30)
        assert code in (0, 128 + signal.SIGTERM)
    finally:
        second.kill()
    assert integrity(project["state"]) == "ok"

    final = start(project, "--once")
    try:
        assert final.process.wait(timeout=120) == 0, final.output()
    finally:
        final.kill()
    assert integrity(project["state"]) == "ok"
    rows = query(project["state"], "SELECT path FROM inbox_files")
    assert {Path(str(row[0])).name for row in rows} == {p.name for p in paths}
    assert query(project["state"], "SELECT COUNT(*) FROM articles")[0] == (len(paths),)


def test_a_burst_of_files_loses_none(tmp_path: Path) -> None:
    """2,000 files at once: every path is recorded; 200 distinct contents are 200 articles."""
    project = make_project(tmp_path, seeds=False)
    daemon = start(project)
    try:
        daemon.wait_for("daemon_ready", timeout=START_TIMEOUT)
        paths = drop_burst(project["inbox"], 2000, distinct=200)

        def recorded() -> int:
            return int(query(project["state"], "SELECT COUNT(*) FROM inbox_files")[0][0])  # type: ignore[call-overload]

        daemon.wait_until(lambda: recorded() >= len(paths), "every file recorded", timeout=90)
        assert daemon.process.poll() is None
        assert daemon.stop() == 0
    finally:
        daemon.kill()
    rows = query(project["state"], "SELECT path FROM inbox_files")
    assert sorted(Path(str(row[0])).name for row in rows) == sorted(p.name for p in paths)
    assert query(project["state"], "SELECT COUNT(*) FROM articles WHERE status = 'processed'")[0] == (200,)
    assert integrity(project["state"]) == "ok"
