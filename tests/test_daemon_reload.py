"""Hot reload while running: an edited rule file takes effect; a broken one keeps the last good set."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.classify.head import HEAD_FILE, HeadFile, save_head
from tests.daemon_harness import Daemon, make_project, start_daemon
from tests.receiver import Receiver

NEW_RULE = """\
- id: zebra-truce
  title: Zebra truce
  level: low
  query: zebra AND truce
  notify: [hook]
"""
BROKEN_RULE = """\
- id: broken
  title: Broken
  level: low
  query: ceasefire NEAR5 aleppo
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


@pytest.fixture
def daemon(tmp_path: Path, receiver: Receiver) -> Iterator[tuple[Daemon, dict[str, Path]]]:
    project = make_project(tmp_path, seeds=False)
    (tmp_path / "monitor.yaml").write_text(
        "destinations:\n"
        "  hook: {type: webhook, url_env: NEWSMON_TEST_HOOK}\n"
        "  archive: {type: jsonl, path: alerts.jsonl}\n"
        "routes: {default: [archive]}\n"
        "operator_destinations: [hook]\n",
        encoding="utf-8",
    )
    running = start_daemon(project, env={"NEWSMON_TEST_HOOK": receiver.url})
    try:
        running.wait_for("daemon_ready", timeout=60)
        yield running, project
    finally:
        running.kill()


def drop(project: dict[str, Path], name: str, text: str) -> None:
    (project["inbox"] / name).write_text(text, encoding="utf-8")


def test_a_new_rule_file_is_picked_up_while_running(
    daemon: tuple[Daemon, dict[str, Path]], receiver: Receiver
) -> None:
    running, project = daemon
    (project["rules"] / "zoo.yaml").write_text(NEW_RULE, encoding="utf-8")
    running.wait_for("rules_reloaded", timeout=20)
    drop(project, "zoo.txt", "Keepers said the zebra truce at the zoo held through the night.\n")
    running.wait_for("alert_stored", lambda e: e["rule_id"] == "zebra-truce", timeout=20)
    [request] = receiver.wait_for(1, timeout=20)
    assert request.json()["rule"]["id"] == "zebra-truce"


def test_a_broken_rule_file_keeps_the_last_good_set_and_tells_the_operator(
    daemon: tuple[Daemon, dict[str, Path]], receiver: Receiver
) -> None:
    running, project = daemon
    ready = running.wait_for("daemon_ready")
    (project["rules"] / "zoo.yaml").write_text(NEW_RULE + BROKEN_RULE, encoding="utf-8")
    failed = running.wait_for("rules_reload_failed", timeout=20)
    assert any("zoo.yaml:9:" in error and "NEAR/5" in error for error in failed["errors"]), failed
    assert failed["kept_rules"] == ready["rules"]
    [notice] = receiver.wait_for(1, timeout=20)
    assert "zoo.yaml:9:" in notice.body.decode()

    # the last good set still runs: the zebra rule (only in the broken file) does not exist yet
    drop(project, "zoo.txt", "Keepers said the zebra truce at the zoo held through the night.\n")
    running.wait_for("article_processed", lambda e: e["path"].endswith("zoo.txt"), timeout=20)
    assert running.count("alert_stored", lambda e: e["rule_id"] == "zebra-truce") == 0

    (project["rules"] / "zoo.yaml").write_text(NEW_RULE, encoding="utf-8")
    reloaded = running.wait_for("rules_reloaded", timeout=20)
    assert reloaded["rules"] == ready["rules"] + 1
    time.sleep(0.2)
    assert running.process.poll() is None


def test_editing_lists_yaml_changes_the_rules_that_use_it(
    daemon: tuple[Daemon, dict[str, Path]], receiver: Receiver
) -> None:
    running, project = daemon
    ready = running.wait_for("daemon_ready")
    lists = project["rules"] / "lists.yaml"
    bundled = lists.read_text(encoding="utf-8")  # the bundled rules use its lists too
    lists.write_text(bundled + "animals: [zebra]\n", encoding="utf-8")
    (project["rules"] / "zoo.yaml").write_text(
        NEW_RULE.replace("zebra AND truce", "'@animals AND truce'"), encoding="utf-8"
    )
    running.wait_for("rules_reloaded", lambda e: e["rules"] == ready["rules"] + 1, timeout=20)
    drop(project, "okapi1.txt", "Keepers said the okapi truce at the zoo held through the night.\n")
    running.wait_for("article_processed", lambda e: e["path"].endswith("okapi1.txt"), timeout=20)
    assert running.count("alert_stored", lambda e: e["rule_id"] == "zebra-truce") == 0

    reloads = running.count("rules_reloaded")
    lists.write_text(bundled + "animals: [zebra, okapi]\n", encoding="utf-8")
    running.wait_until(
        lambda: running.count("rules_reloaded") > reloads, "the reload after lists.yaml changed"
    )
    drop(project, "okapi2.txt", "Keepers said a second okapi truce held at the zoo.\n")
    running.wait_for("alert_stored", lambda e: e["rule_id"] == "zebra-truce", timeout=20)


def test_retrained_heads_are_picked_up_and_a_broken_heads_file_is_refused(
    daemon: tuple[Daemon, dict[str, Path]], receiver: Receiver
) -> None:
    running, project = daemon
    first = running.wait_for("classifier_loaded")
    assert set(first["trained"]) == {"cross_border_shelling", "prisoner_exchange"}
    path = project["rules"] / HEAD_FILE
    heads = HeadFile.model_validate_json(path.read_bytes())
    retrained = heads.model_copy(
        update={"topics": {"cross_border_shelling": heads.topics["cross_border_shelling"]}}
    )
    save_head(path, retrained)  # as `newsmon topics train` writes it: a dotfile, then a rename
    running.wait_until(lambda: running.count("classifier_loaded") == 2, "the classifier reload", timeout=20)
    second = [e for e in running.events() if e.get("event") == "classifier_loaded"][-1]
    assert second["trained"] == ["cross_border_shelling"]

    path.write_text('{"model": "all-MiniLM', encoding="utf-8")  # half written
    failed = running.wait_for("rules_reload_failed", timeout=20)
    assert any(HEAD_FILE in error for error in failed["errors"]), failed
    [notice] = receiver.wait_for(1, timeout=20)
    assert HEAD_FILE in notice.body.decode()
    assert running.count("classifier_loaded") == 2  # the running classifier is kept
