"""Delivery through the real daemon: SIGKILL with a request in flight, then a `run --once` restart that
meets a 429 first. Every alert must reach the receiver, in order, resends only under the same key.

One scenario with two daemon runs, because each run loads the classifier (about ten seconds here).
"""

import signal
import sqlite3
from collections import defaultdict
from pathlib import Path

from tests.daemon_harness import Daemon, make_project, start_daemon
from tests.receiver import Receiver, Reply

SECRET = "daemon-test-signing-secret"


def write_config(root: Path) -> Path:
    config = root / "monitor.yaml"
    config.write_text(
        "destinations:\n"
        "  hook: {type: webhook, url_env: NEWSMON_TEST_HOOK, secret_env: NEWSMON_TEST_SECRET, timeout: 60}\n"
        "routes:\n"
        "  default: [hook]\n"
        "limits: {rescan_seconds: 3600}\n",
        encoding="utf-8",
    )
    return config


def start(project: dict[str, Path], receiver: Receiver, *extra: str) -> Daemon:
    env = {"NEWSMON_TEST_HOOK": receiver.url, "NEWSMON_TEST_SECRET": SECRET}
    return start_daemon(project, *extra, env=env)


def outbox_rows(state: Path) -> list[tuple[str, str]]:
    """(alert id, state) of the hook's outbox rows in delivery order."""
    with sqlite3.connect(state / "state.sqlite3") as conn:
        return conn.execute(
            "SELECT alert_id, state FROM outbox WHERE destination = 'hook' ORDER BY seq"
        ).fetchall()


def test_sigkill_in_flight_then_run_once_through_a_429_delivers_everything(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    write_config(project["root"])
    with Receiver() as rx:
        # the third request never gets an answer: the daemon is killed while it waits for it
        rx.script(Reply(200), Reply(200), Reply(delay=Reply.HANG))
        first = start(project, rx)
        try:
            rx.wait_for(3, timeout=90)
            first.signal(signal.SIGKILL)
            assert first.process.wait(timeout=10) == -signal.SIGKILL
        finally:
            first.kill()
        before_restart = len(rx.requests)
        in_flight = rx.requests[2]
        assert in_flight.status is None

        # the restart is a one-shot run, and the receiver is rate limiting it at first
        rx.script(Reply(429, body=b"rate limited", headers={"Retry-After": "2"}))
        second = start(project, rx, "--once", "--drain-timeout", "60")
        assert second.process.wait(timeout=120) == 0, second.output()
        requests = rx.requests

    rows = outbox_rows(project["state"])
    assert len(rows) >= 3 and {state for _, state in rows} == {"delivered"}, second.output()
    resumed = requests[before_restart:]
    limited, retried = resumed[0], resumed[1]
    assert limited.status == 429 and retried.header("idempotency-key") == limited.header("idempotency-key")
    assert retried.at - limited.at >= 2.0 - 0.01  # the one-shot run waited the demanded time

    # every alert delivered; any alert sent twice carries one key and one body
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for request in requests:
        key = request.header("idempotency-key")
        assert key is not None and key == request.json()["id"]
        bodies[key].add(request.body)
    assert set(bodies) == {alert_id for alert_id, _ in rows}
    assert all(len(b) == 1 for b in bodies.values())
    # the request that was in flight at the kill is the first one sent again
    assert limited.header("idempotency-key") == in_flight.header("idempotency-key")

    # order per destination: first deliveries follow the outbox order
    first_delivery: list[str] = []
    for request in requests:
        key = request.header("idempotency-key")
        if request.status == 200 and key not in first_delivery:
            assert key is not None
            first_delivery.append(key)
    assert first_delivery == [alert_id for alert_id, _ in rows]
    assert SECRET not in first.output() + second.output()
    assert rx.url not in first.output() + second.output()
