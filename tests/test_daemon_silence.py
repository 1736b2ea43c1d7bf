"""Silences against the real daemon: `newsmon silence` in another process, while `newsmon run` works.

A silence for one rule stops that rule's alert at the next article (no reload, no signal) and no other
rule's; once expired, a near duplicate of the same story alerts for that rule again, because a silenced
alert is never stored and so never counts for realert.
"""

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_harness import SEEDS, Daemon, make_project, start_daemon

SAMPLE = SEEDS / "000_805448790873fa1e.txt"  # alerts for ceasefire, cross_border_shelling, prisoner_exchange
SILENCED_RULE = "prisoner_exchange"


def newsmon(project: dict[str, Path], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "monitor", *args, "--state", str(project["state"])],
        cwd=project["root"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def archived(project: dict[str, Path]) -> list[dict[str, Any]]:
    archive = project["state"] / "alerts.jsonl"
    if not archive.exists():
        return []
    return [json.loads(line) for line in archive.read_text(encoding="utf-8").splitlines()]


def rules_of(alerts: list[dict[str, Any]], article_id: str) -> set[str]:
    return {a["rule"]["id"] for a in alerts if a["article"]["id"] == article_id}


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Daemon, dict[str, Path]]]:
    project = make_project(tmp_path, seeds=False)
    (tmp_path / "monitor.yaml").write_text(
        "destinations:\n  archive: {type: jsonl, path: alerts.jsonl}\nroutes: {default: [archive]}\n",
        encoding="utf-8",
    )
    daemon = start_daemon(project, "--metrics-port", "0")
    try:
        daemon.wait_for("daemon_ready", timeout=60)
        yield daemon, project
    finally:
        daemon.kill()


def test_a_silence_stops_one_rule_at_once_and_its_end_lets_the_story_alert_again(
    running: tuple[Daemon, dict[str, Path]],
) -> None:
    daemon, project = running
    added = newsmon(
        project, "silence", "add", f"rule={SILENCED_RULE}", "--for", "1h", "--comment", "known swap story"
    )
    silence_id = added.splitlines()[0]

    (project["inbox"] / "first.txt").write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    first = daemon.wait_for("article_processed", lambda e: e["path"].endswith("first.txt"), timeout=30)
    assert first["alerts"] == 2
    daemon.wait_until(lambda: len(archived(project)) == 2, "the two unsilenced alerts archived")
    assert rules_of(archived(project), first["article_id"]) == {"ceasefire", "cross_border_shelling"}
    suppressed = daemon.wait_for("alert_suppressed", lambda e: e["reason"] == "silenced")
    assert suppressed["silence_id"] == silence_id
    assert suppressed["rule_id"] == SILENCED_RULE
    assert (suppressed["article_id"], suppressed["story_id"]) == (first["article_id"], first["story_id"])
    assert daemon.count("alert_stored", lambda e: e["rule_id"] == SILENCED_RULE) == 0

    [listed] = [json.loads(line) for line in newsmon(project, "silence", "list", "--json").splitlines()]
    assert (listed["id"], listed["state"], listed["suppressed"]) == (silence_id, "active", 1)
    port = daemon.wait_for("metrics_listening")["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'newsmon_alerts_suppressed_total{reason="silenced"} 1.0' in metrics

    assert newsmon(project, "silence", "expire", silence_id[:8]).startswith(f"expired {silence_id[:8]}:")
    update = SAMPLE.read_text(encoding="utf-8") + "\nThe talks are to resume on Monday, officials said.\n"
    (project["inbox"] / "second.txt").write_text(update, encoding="utf-8")
    second = daemon.wait_for("article_processed", lambda e: e["path"].endswith("second.txt"), timeout=30)
    assert second["story_id"] == first["story_id"], "a near duplicate joins the first article's story"
    assert second["alerts"] == 1
    daemon.wait_until(lambda: len(archived(project)) == 3, "the third alert archived")
    assert rules_of(archived(project), second["article_id"]) == {SILENCED_RULE}
    held_back = {
        (e["rule_id"], e["reason"])
        for e in daemon.events()
        if e.get("event") == "alert_suppressed" and e["article_id"] == second["article_id"]
    }
    assert held_back == {("ceasefire", "realert"), ("cross_border_shelling", "realert")}
    assert daemon.count("alert_suppressed", lambda e: e["reason"] == "silenced") == 1
