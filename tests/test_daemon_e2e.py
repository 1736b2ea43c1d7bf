"""The walking skeleton end to end: `newsmon run` as a subprocess on the samples, alerts to a real webhook.

The receiver is a real HTTP server on 127.0.0.1; the daemon is the installed entry point's module, run on
a copy of the bundled rules and of the sample inbox in a temporary folder.
"""

import hashlib
import hmac
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_harness import SEEDS, Daemon, make_project, start_daemon
from tests.receiver import Receiver

SECRET = "test-signing-secret-123"

# (sample file, topic) pairs that must alert: issue #2's table.
EXPECTED = {
    ("000_805448790873fa1e.txt", "ceasefire"),
    ("000_805448790873fa1e.txt", "prisoner_exchange"),
    ("000_805448790873fa1e.txt", "cross_border_shelling"),
    ("001_ce9271161a6415bd.txt", "ceasefire"),
    ("001_ce9271161a6415bd.txt", "prisoner_exchange"),
    ("001_ce9271161a6415bd.txt", "cross_border_shelling"),
    ("002_da3e7f07827a03a9.txt", "ceasefire"),
    ("002_da3e7f07827a03a9.txt", "prisoner_exchange"),
    ("003_677e52f2b0f5540b.txt", "ceasefire"),
    ("003_677e52f2b0f5540b.txt", "prisoner_exchange"),
    ("004_1d082853e5d5db67.txt", "ceasefire"),
    ("004_1d082853e5d5db67.txt", "prisoner_exchange"),
}
SAMPLES = sorted(p.name for p in SEEDS.glob("*.txt"))


def write_config(project: dict[str, Path]) -> Path:
    config = project["root"] / "monitor.yaml"
    config.write_text(
        "destinations:\n"
        "  hook: {type: webhook, url_env: NEWSMON_TEST_HOOK, secret_env: NEWSMON_TEST_SECRET}\n"
        "  console: {type: console}\n"
        "  archive: {type: jsonl, path: alerts.jsonl}\n"
        "routes:\n"
        "  default: [hook, console, archive]\n"
        "limits: {rescan_seconds: 1}\n",  # periodic rescans run during the tests, too
        encoding="utf-8",
    )
    return config


def start(project: dict[str, Path], receiver: Receiver, *extra: str) -> Daemon:
    return start_daemon(
        project, *extra, env={"NEWSMON_TEST_HOOK": receiver.url, "NEWSMON_TEST_SECRET": SECRET}
    )


def delivered_pairs(receiver: Receiver) -> set[tuple[str, str]]:
    return {(Path(r.json()["article"]["path"]).name, r.json()["rule"]["topic"]) for r in receiver.delivered()}


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Path]:
    made = make_project(tmp_path)
    write_config(made)
    return made


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


@pytest.fixture
def daemon(project: dict[str, Path], receiver: Receiver) -> Iterator[Daemon]:
    running = start(project, receiver)
    try:
        running.wait_for("daemon_ready", timeout=60)
        running.wait_until(lambda: running.count("article_processed") >= len(SAMPLES), "the samples", 60)
        yield running
    finally:
        running.kill()


def test_samples_alert_as_the_table_says_and_arrive_signed(
    daemon: Daemon, receiver: Receiver, project: dict[str, Path]
) -> None:
    assert daemon.count("article_processed") == len(SAMPLES), daemon.output()
    stored = daemon.count("alert_stored")
    daemon.wait_until(lambda: len(receiver.delivered()) >= stored, "every stored alert delivered")
    assert delivered_pairs(receiver) == EXPECTED

    for request in receiver.delivered():
        body = request.json()
        assert body["schema_version"] == "1.0"
        assert body["article"]["path"].endswith(".txt")
        assert body["evidence"], "every alert quotes the sentence that made it fire"
        timestamp = request.header("x-newsmon-timestamp")
        signature = request.header("x-newsmon-signature")
        assert timestamp is not None and signature is not None
        expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
        assert hmac.compare_digest(signature, "sha256=" + expected.hexdigest())
        assert request.header("idempotency-key") == body["id"]

    archive_file = project["state"] / "alerts.jsonl"
    daemon.wait_until(archive_file.exists, "the JSONL archive")
    archive = archive_file.read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["id"] for line in archive} == {r.json()["id"] for r in receiver.delivered()}
    assert SECRET not in daemon.output()
    assert receiver.url not in daemon.output()


def test_console_shows_one_readable_block_per_alert(daemon: Daemon) -> None:
    daemon.wait_until(
        lambda: "Syria Proposes Aleppo Ceasefire, Prisoner Swap" in daemon.output(), "the console block"
    )
    text = daemon.output()
    assert "prisoner_exchange" in text
    assert "The Moscow Times" in text


def test_new_file_alerts_and_a_copy_of_it_does_not(
    daemon: Daemon, project: dict[str, Path], receiver: Receiver
) -> None:
    stored = daemon.count("alert_stored")
    # The samples' alerts are all in first.
    daemon.wait_until(lambda: len(receiver.delivered()) >= stored, "the samples' alerts delivered")
    before = len(receiver.delivered())
    article = (
        "Truce agreed on the Lebanese border\n\n"
        "Israel and Hezbollah agreed to a ceasefire on Tuesday after weeks of cross-border shelling, "
        "mediators said. Rockets fired from southern Lebanon had hit Israeli border towns.\n"
    )
    (project["inbox"] / "fresh.txt").write_text(article, encoding="utf-8")
    processed = daemon.wait_for("article_processed", lambda e: e["path"].endswith("fresh.txt"), timeout=20)
    assert processed["alerts"] >= 1
    daemon.wait_until(
        lambda: len(receiver.delivered()) == before + processed["alerts"], "the new alerts delivered"
    )
    topics = {r.json()["rule"]["topic"] for r in receiver.delivered()[before:]}
    assert "ceasefire" in topics

    delivered = len(receiver.delivered())
    alerts = daemon.count("alert_stored")
    shutil.copy(project["inbox"] / "fresh.txt", project["inbox"] / "fresh-copy.txt")
    daemon.wait_for("article_duplicate", lambda e: e["path"].endswith("fresh-copy.txt"), timeout=20)
    time.sleep(0.5)
    assert daemon.count("alert_stored") == alerts
    assert len(receiver.delivered()) == delivered


def test_half_written_file_is_not_read_early(daemon: Daemon, project: dict[str, Path]) -> None:
    text = (SEEDS / "001_ce9271161a6415bd.txt").read_text(encoding="utf-8") + "\nA later paragraph.\n"
    half = len(text) // 2
    target = project["inbox"] / "slow.txt"
    with target.open("w", encoding="utf-8") as writer:
        writer.write(text[:half])
        writer.flush()
        time.sleep(3)  # longer than the settle time, across periodic rescans: only the close counts
        assert daemon.count("article_processed", lambda e: e["path"].endswith("slow.txt")) == 0
        writer.write(text[half:])
    event = daemon.wait_for("article_processed", lambda e: e["path"].endswith("slow.txt"), timeout=20)
    assert event["article_id"] == hashlib.sha256(text.encode()).hexdigest()
    assert daemon.count("article_processed", lambda e: e["path"].endswith("slow.txt")) == 1


def test_empty_and_undecodable_files_are_skipped_and_the_daemon_goes_on(
    daemon: Daemon, project: dict[str, Path]
) -> None:
    (project["inbox"] / "empty.txt").write_bytes(b"")
    (project["inbox"] / "garbage.txt").write_bytes(bytes(range(256)) * 64)
    daemon.wait_for("article_skipped", lambda e: e["path"].endswith("empty.txt"), timeout=20)
    daemon.wait_for("article_quarantined", lambda e: e.get("file") == "garbage.txt", timeout=20)
    quarantined = project["state"] / "quarantine"
    assert (quarantined / "garbage.txt").exists()
    assert not (project["inbox"] / "garbage.txt").exists()

    shutil.copy(SEEDS / "004_1d082853e5d5db67.txt", project["inbox"] / "after.txt")
    daemon.wait_for("article_duplicate", lambda e: e["path"].endswith("after.txt"), timeout=20)
    assert daemon.process.poll() is None


def test_restart_does_not_realert(project: dict[str, Path], receiver: Receiver, daemon: Daemon) -> None:
    stored = daemon.count("alert_stored")
    assert stored >= len(EXPECTED)
    daemon.wait_until(lambda: len(receiver.delivered()) >= stored, "every stored alert delivered")
    assert daemon.stop() == 0
    assert "daemon_stopped" in {e.get("event") for e in daemon.events()}

    second = start(project, receiver)
    try:
        second.wait_for("daemon_ready", timeout=60)
        time.sleep(1.0)
        assert second.count("alert_stored") == 0
        assert second.count("article_processed") == 0
        assert len(receiver.delivered()) == stored
    finally:
        assert second.stop() == 0

    with sqlite3.connect(project["state"] / "state.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT COUNT(*) FROM alerts").fetchone() == (stored,)


def test_run_once_processes_delivers_and_exits(project: dict[str, Path], receiver: Receiver) -> None:
    once = start(project, receiver, "--once", "--drain-timeout", "60")
    assert once.process.wait(timeout=120) == 0, once.output()
    assert delivered_pairs(receiver) == EXPECTED
    assert len(receiver.delivered()) == once.count("alert_stored")


def test_check_json_prints_what_the_webhook_receives(project: dict[str, Path], receiver: Receiver) -> None:
    once = start(project, receiver, "--once")
    assert once.process.wait(timeout=120) == 0, once.output()
    sample = project["inbox"] / "002_da3e7f07827a03a9.txt"
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "check", "--json", "--rules", str(project["rules"]), str(sample)],
        cwd=project["root"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    received = [r.json() for r in receiver.delivered() if r.json()["article"]["path"].endswith(sample.name)]
    assert {a["rule"]["id"] for a in printed} == {a["rule"]["id"] for a in received}
    assert set(printed[0]) == set(received[0])
    assert not (project["root"] / ".newsmon").exists(), "check reads and writes no state"


def test_sigint_stops_cleanly(project: dict[str, Path], receiver: Receiver) -> None:
    running = start(project, receiver)
    try:
        running.wait_for("daemon_ready", timeout=60)
        running.signal(signal.SIGINT)
        assert running.process.wait(timeout=30) == 0
        running.wait_for("daemon_stopped", timeout=5)
    finally:
        running.kill()
