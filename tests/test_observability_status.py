"""``newsmon status`` and the heartbeat, on a real state folder with a real SQLite database."""

import json
import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.alerts.silence import Silence, parse_matcher
from monitor.config import AdminConfig, load_config
from monitor.observability.cli import EXIT_CANNOT_CHECK, EXIT_UNHEALTHY, _duration, render, status
from monitor.observability.status import (
    HEARTBEAT_NAME,
    Heartbeat,
    collect_status,
    daemon_status,
    read_heartbeat,
    write_heartbeat,
)
from monitor.store import silences
from monitor.store.db import DB_NAME, connect


def write_config(root: Path) -> Path:
    config = root / "monitor.yaml"
    config.write_text(
        "destinations:\n"
        "  hook: {type: webhook, url_env: NEWSMON_STATUS_TEST_HOOK}\n"
        "  archive: {type: jsonl, path: alerts.jsonl}\n"
        "routes: {default: [hook, archive]}\n"
        "state_dir: state\n",
        encoding="utf-8",
    )
    return config


def add_article(conn: sqlite3.Connection, article_id: str, status: str, processed_at: float) -> None:
    conn.execute(
        "INSERT INTO articles (id, path, received_at, processed_at, status) VALUES (?, ?, ?, ?, ?)",
        (article_id, f"inbox/{article_id}.txt", processed_at - 1, processed_at, status),
    )


def add_alert(conn: sqlite3.Connection, alert_id: str, created_at: float) -> None:
    conn.execute(
        "INSERT INTO alerts (id, rule_id, story_id, article_id, revision, level, created_at, payload)"
        " VALUES (?, 'aleppo-ceasefire', 's1', 'a1', 1, 'high', ?, '{}')",
        (alert_id, created_at),
    )


def add_outbox(
    conn: sqlite3.Connection, alert_id: str, destination: str, state: str, created_at: float
) -> None:
    conn.execute(
        "INSERT INTO outbox (alert_id, destination, state, created_at, next_attempt_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (alert_id, destination, state, created_at, created_at),
    )


def populate(state: Path, now: float, *, dead: int = 0) -> None:
    """Three processed articles and one quarantined; three alerts in various delivery states."""
    conn = connect(state)
    try:
        add_article(conn, "a1", "processed", now - 300)
        add_article(conn, "a2", "processed", now - 200)
        add_article(conn, "a3", "processed", now - 42)
        add_article(conn, "q1", "quarantined", now - 10)
        for index in range(3):
            add_alert(conn, f"al{index}", now - 600 + index)
        add_outbox(conn, "al0", "hook", "delivered", now - 600)
        add_outbox(conn, "al1", "hook", "pending", now - 125)
        add_outbox(conn, "al2", "hook", "pending", now - 5)
        for index in range(3):
            add_outbox(conn, f"al{index}", "archive", "delivered", now - 600)
        add_outbox(conn, "al0", "retired-slack", "pending", now - 3600)
        for index in range(dead):
            add_outbox(conn, f"al{index + 1}", "archive-dead", "dead", now - 60)
    finally:
        conn.close()


def live_heartbeat(state: Path, **extra: object) -> None:
    write_heartbeat(
        state,
        {"pid": os.getpid(), "started_at": time.time() - 3 * 3600 - 60, "rules_loaded": 3, **extra},
    )


def run_status(config: Path, state: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(status, ["--config", str(config), "--state", str(state), *args])
    return result.exit_code, result.output


def test_heartbeat_is_replaced_atomically_and_read_back(tmp_path: Path) -> None:
    before = time.time()
    write_heartbeat(tmp_path, {"pid": 1234, "rules_loaded": 7, "pending_files": 2})
    write_heartbeat(tmp_path, {"pid": 1234, "rules_loaded": 8, "pending_files": 0})
    assert sorted(p.name for p in tmp_path.iterdir()) == [HEARTBEAT_NAME]  # no temporary left behind
    heartbeat = read_heartbeat(tmp_path)
    assert heartbeat is not None
    assert heartbeat.rules_loaded == 8
    assert before <= heartbeat.written_at <= time.time()
    assert heartbeat.model_extra == {"pending_files": 0}  # newer daemons may say more


@pytest.mark.parametrize("content", [None, b"", b"{not json", b'{"pid": "many"}', b"[]"])
def test_missing_or_garbled_heartbeat_reads_as_none(tmp_path: Path, content: bytes | None) -> None:
    if content is not None:
        (tmp_path / HEARTBEAT_NAME).write_bytes(content)
    assert read_heartbeat(tmp_path) is None


def exited_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_daemon_state_from_heartbeat_and_pid() -> None:
    now = time.time()
    mine = os.getpid()
    assert daemon_status(None, now).state == "stopped"
    assert daemon_status(Heartbeat(pid=mine, written_at=now - 5), now).state == "running"
    stale = daemon_status(Heartbeat(pid=mine, written_at=now - 120), now)
    assert stale.state == "unresponsive"
    assert stale.describe_hang() == f"pid {mine} wrote no heartbeat for 120 s"
    stalled = daemon_status(Heartbeat(pid=mine, written_at=now - 1, alive=False), now)
    assert stalled.state == "unresponsive"
    assert stalled.describe_hang() == f"pid {mine} reports its pipeline stalled"
    assert daemon_status(Heartbeat(pid=exited_pid(), written_at=now), now).state == "stopped"
    assert daemon_status(Heartbeat(pid=0, written_at=now), now).state == "stopped"


def test_healthy_daemon_table_and_json(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    state = tmp_path / "state"
    now = time.time()
    populate(state, now)
    live_heartbeat(state, last_reload={"ok": True, "at": now - 7800, "rules": 3})

    code, table = run_status(config, state)
    assert code == 0, table
    lines = table.splitlines()
    assert lines[0] == f"state       {state}"
    assert lines[1].startswith(f"daemon      running  pid {os.getpid()}, up 3h01m, heartbeat ")
    assert lines[2].startswith("rules       3 loaded; last reload ok 2h10m ago")
    assert lines[3].startswith("articles    3 processed, 1 quarantined; last 4")  # 42 s ago, give or take
    assert lines[4] == "alerts      3 stored, 3 pending, 0 dead"
    outbox = lines[5:9]
    assert outbox[0].split() == ["outbox", "destination", "pending", "oldest", "delivered", "dead"]
    assert outbox[1].split() == ["hook", "2", "2m05s", "1", "0"]
    assert outbox[2].split() == ["archive", "0", "-", "3", "0"]
    assert outbox[3].split() == ["retired-slack", "(not", "configured)", "1", "1h00m", "0", "0"]
    assert len({len(line) for line in outbox[:3]}) == 1  # right-aligned figures: one width
    assert lines[9] == "warning     pending alerts for destinations no longer configured: retired-slack"
    assert lines[-1] == "healthy"

    code, raw = run_status(config, state, "--json")
    assert code == 0
    report = json.loads(raw)
    assert report["healthy"] is True
    assert report["problems"] == []
    assert report["outbox_pending"] == 3
    assert report["articles"]["processed"] == 3
    assert report["daemon"]["state"] == "running"
    assert [d["name"] for d in report["destinations"]] == ["hook", "archive", "retired-slack"]


def test_dead_letters_and_a_failed_reload_are_reported(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    state = tmp_path / "state"
    now = time.time()
    populate(state, now, dead=2)
    live_heartbeat(state, last_reload={"ok": False, "at": now - 30, "errors": ["x.yaml: bad query"]})
    code, table = run_status(config, state)
    assert code == EXIT_UNHEALTHY
    assert "PROBLEM     2 dead letter(s): see `newsmon alerts`" in table
    assert "last reload FAILED (previous rules kept)" in table
    assert "warning     last rule reload failed; the previous rules are still in use" in table
    assert table.splitlines()[-1] == "UNHEALTHY"


def test_stopped_daemon_and_no_database(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    write_heartbeat(state, {"pid": exited_pid(), "started_at": time.time() - 60})
    code, table = run_status(config, state)
    assert code == EXIT_UNHEALTHY
    assert "daemon      stopped (last pid" in table
    assert f"PROBLEM     no state database at {state / DB_NAME}" in table
    assert "PROBLEM     daemon not running" in table
    report = collect_status(state, load_config(config))
    assert [d.name for d in report.destinations] == ["hook", "archive"]


def test_unreadable_database_or_config_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    (state / DB_NAME).write_bytes(b"this is not a database, just sixteen+ bytes of text" * 100)
    code, output = run_status(config, state)
    assert code == EXIT_CANNOT_CHECK
    assert "cannot read the state database" in output
    broken = tmp_path / "broken.yaml"
    broken.write_text("destinations: [", encoding="utf-8")
    code, output = run_status(broken, state)
    assert code == EXIT_CANNOT_CHECK
    assert "invalid YAML" in output


def test_reads_while_the_daemon_writes_and_never_writes_itself(tmp_path: Path) -> None:
    """A writer holds the database open with rows only in the WAL; status sees them and changes nothing."""
    state = tmp_path / "state"
    now = time.time()
    writer = connect(state)
    try:
        add_article(writer, "a1", "processed", now)
        add_alert(writer, "al0", now)
        add_outbox(writer, "al0", "archive", "pending", now - 1)
        assert (state / f"{DB_NAME}-wal").stat().st_size > 0
        before = {p.name: p.read_bytes() for p in state.iterdir() if not p.name.endswith("-shm")}
        report = collect_status(state, AdminConfig())
        after = {p.name: p.read_bytes() for p in state.iterdir() if not p.name.endswith("-shm")}
    finally:
        writer.close()
    assert report.articles.processed == 1
    assert report.alerts == 1
    assert report.outbox_pending == 1
    assert before == after


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (42, "42s"), (425, "7m05s"), (3 * 3600 + 12 * 60, "3h12m"), (2 * 86400 + 4 * 3600, "2d04h")],
)
def test_durations_read_at_a_glance(seconds: float, text: str) -> None:
    assert _duration(seconds) == text


def test_render_of_a_never_started_daemon(tmp_path: Path) -> None:
    report = collect_status(tmp_path, AdminConfig())
    text = render(report)
    assert "daemon      stopped\n" in text
    assert "articles    0 processed, 0 quarantined; last never" in text


def test_active_silences_are_counted_on_the_alerts_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    state = tmp_path / "state"
    now = time.time()
    populate(state, now)
    live_heartbeat(state)

    def at(offset: float) -> datetime:
        return datetime.fromtimestamp(now + offset, UTC)

    conn = connect(state)
    try:
        # active, active, pending, expired
        for sid, starts, ends in (("a", -60, 3600), ("b", -60, 60), ("c", 600, 3600), ("d", -7200, -3600)):
            silence = Silence(
                id=sid * 32,
                matchers=(parse_matcher("rule=x"),),
                starts_at=at(starts),
                ends_at=at(ends),
                created_by="alice",
                comment="why",
                created_at=at(-7200),
            )
            silences.add(conn, silence)
    finally:
        conn.close()
    code, table = run_status(config, state)
    assert code == 0, table
    assert table.splitlines()[4] == "alerts      3 stored, 3 pending, 0 dead; 2 silences active"
    code, raw = run_status(config, state, "--json")
    assert json.loads(raw)["silences_active"] == 2
