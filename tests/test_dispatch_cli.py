"""``newsmon alerts`` and ``newsmon destinations`` on a real state folder and real loopback receivers."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.config import load_config
from monitor.dispatch.cli import alerts, destinations
from tests.receiver import Receiver, Reply
from tests.test_dispatch_support import prepare, run_dispatcher, sample_alert, states

TOKEN = "T0001/B0002/zZsEcReTzZ"


def write_config(root: Path, hook_url: str) -> Path:
    config = root / "monitor.yaml"
    config.write_text(
        "destinations:\n"
        "  hook: {type: webhook, url_env: NEWSMON_CLI_HOOK, secret: s3cret-signing-key}\n"
        f"  chat: {{type: slack, url: 'https://hooks.slack.com/services/{TOKEN}', min_level: high}}\n"
        "  archive: {type: jsonl, path: alerts.jsonl}\n"
        "routes: {default: [hook, archive]}\n"
        "operator_destinations: [archive]\n",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Receiver]]:
    """A config, a state folder with three alerts (the first dead-lettered by a 400), and the receiver."""
    with Receiver() as rx:
        monkeypatch.setenv("NEWSMON_CLI_HOOK", rx.url)
        config_file = write_config(tmp_path, rx.url)
        config = load_config(config_file)
        prepare(config.state_dir, [sample_alert(i) for i in range(3)], ["hook"], time.time())
        rx.script(Reply(400, body=b"bad payload"))
        assert run_dispatcher(config, config.state_dir)
        yield config_file, rx


def invoke(group: object, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(group, list(args), catch_exceptions=False)  # type: ignore[arg-type]
    return result.exit_code, result.stdout, result.stderr


def test_alerts_list_shows_each_delivery_newest_first(project: tuple[Path, Receiver]) -> None:
    config, _ = project
    code, out, _ = invoke(alerts, "list", "--config", str(config))
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split()[:5] == ["ALERT", "DESTINATION", "STATE", "TRIES", "WHEN"]
    assert [line.split()[:3] for line in lines] == [
        [sample_alert(2).id[:12], "hook", "delivered"],
        [sample_alert(1).id[:12], "hook", "delivered"],
        [sample_alert(0).id[:12], "hook", "dead"],
    ]
    assert lines[2].endswith("HTTP 400: bad payload")

    code, out, _ = invoke(alerts, "list", "--status", "delivered", "--json", "--config", str(config))
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["alert_id"] for r in rows] == [sample_alert(2).id, sample_alert(1).id]
    assert all(r["state"] == "delivered" and r["delivered_at"] for r in rows)


def test_alerts_dead_show_and_retry_reopen_a_dead_letter(project: tuple[Path, Receiver]) -> None:
    config, rx = project
    dead_id = sample_alert(0).id
    code, out, _ = invoke(alerts, "dead", "--json", "--config", str(config))
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert (row["alert_id"], row["last_error"], row["attempts"]) == (dead_id, "HTTP 400: bad payload", 1)

    code, out, _ = invoke(alerts, "show", dead_id[:8], "--config", str(config))
    assert code == 0
    assert f"alert {dead_id}" in out and "Ceasefire proposed, agreed or broken around Aleppo" in out
    assert "*ceasefire*" in out and "dead" in out

    code, out, _ = invoke(alerts, "show", dead_id, "--json", "--config", str(config))
    shown = json.loads(out)
    assert shown["alert"]["id"] == dead_id and shown["deliveries"][0]["state"] == "dead"

    code, out, _ = invoke(alerts, "retry", dead_id[:10], "--config", str(config))
    assert code == 0 and out.startswith("reopened 1 dead letter;")
    code, _, err = invoke(alerts, "retry", dead_id, "--config", str(config))
    assert code == 1 and "nothing to retry" in err

    # the daemon's dispatcher picks the reopened row up and delivers it
    loaded = load_config(config)
    assert run_dispatcher(loaded, loaded.state_dir)
    assert rx.keys()[-1] == dead_id
    assert states(loaded.state_dir)[(dead_id, "hook")] == ("delivered", 1, None)
    code, out, _ = invoke(alerts, "dead", "--config", str(config))
    assert out.strip() == "no dead letters"


def test_alerts_retry_all_and_bad_ids(project: tuple[Path, Receiver]) -> None:
    config, _ = project
    code, _, err = invoke(alerts, "show", "ffffffffffff", "--config", str(config))
    assert code == 1 and "no alert with id 'ffffffffffff'" in err
    code, _, err = invoke(alerts, "retry", "--config", str(config))
    assert code == 2 and "give an alert ID or --all" in err
    code, _, err = invoke(alerts, "retry", "--all", "--destination", "nope", "--config", str(config))
    assert code == 2 and "no destination named 'nope'" in err
    code, out, _ = invoke(alerts, "retry", "--all", "--destination", "hook", "--config", str(config))
    assert code == 0 and out.startswith("reopened 1 dead letter;")


def test_alerts_commands_need_an_existing_state_database(tmp_path: Path) -> None:
    code, _, err = invoke(alerts, "list", "--state", str(tmp_path / "missing"))
    assert code == 1 and "no state database in" in err
    assert not (tmp_path / "missing").exists()


def test_destinations_list_masks_urls_and_shows_limits(project: tuple[Path, Receiver]) -> None:
    config, _ = project
    code, out, _ = invoke(destinations, "list", "--config", str(config))
    assert code == 0
    assert TOKEN not in out and "zZsEcReTzZ" not in out and "s3cret-signing-key" not in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "https://hooks.slack.com/*** (inline)" in lines["chat"]
    assert "1/s burst 3" in lines["chat"] and " high " in lines["chat"]
    assert "(env NEWSMON_CLI_HOOK)" in lines["hook"] and " yes " in lines["hook"]
    assert lines["archive"].split()[1] == "(operator)"
    assert lines["archive"].endswith("alerts.jsonl")

    code, out, _ = invoke(destinations, "list", "--json", "--config", str(config))
    facts = {f["name"]: f for f in map(json.loads, out.splitlines())}
    assert facts["chat"]["rate_per_second"] == 1.0 and facts["hook"]["signed"] is True
    assert facts["hook"]["rate_per_second"] is None and TOKEN not in out


def test_destinations_test_sends_a_marked_signed_test_alert(project: tuple[Path, Receiver]) -> None:
    config, rx = project
    before = len(rx.requests)
    code, out, _ = invoke(destinations, "test", "hook", "--config", str(config))
    assert code == 0 and out.startswith("hook: test alert ") and "delivered to http://127.0.0.1:" in out
    request = rx.requests[before]
    body = request.json()
    assert body["kind"] == "test" and body["rule"]["id"] == "newsmon-destination-test"
    assert request.header("idempotency-key") == body["id"]
    assert (request.header("x-newsmon-signature") or "").startswith("sha256=")
    # not queued: the outbox is untouched
    assert len(states(load_config(config).state_dir)) == 3

    invoke(destinations, "test", "hook", "--config", str(config))
    assert rx.requests[-1].json()["id"] != body["id"]  # a fresh id each time: receivers show both


def test_destinations_test_reports_refusals_and_missing_urls(
    project: tuple[Path, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, rx = project
    rx.script(Reply(403, body=b"invalid_token"))
    code, _, err = invoke(destinations, "test", "hook", "--config", str(config))
    assert code == 1 and err.strip() == "hook: refused: HTTP 403: invalid_token"

    rx.script(Reply(429, headers={"Retry-After": "30"}))
    code, _, err = invoke(destinations, "test", "hook", "--config", str(config))
    assert code == 1 and "try again later: HTTP 429" in err and "wait 30 s" in err

    monkeypatch.delenv("NEWSMON_CLI_HOOK")
    code, _, err = invoke(destinations, "test", "hook", "--config", str(config))
    assert code == 1 and "environment variable NEWSMON_CLI_HOOK is not set" in err

    code, _, err = invoke(destinations, "test", "nope", "--config", str(config))
    assert code == 2 and "known: hook, chat, archive" in err


def test_destinations_test_on_a_file_destination(project: tuple[Path, Receiver]) -> None:
    config, _ = project
    code, out, _ = invoke(destinations, "test", "archive", "--config", str(config))
    archive = load_config(config).state_dir / "alerts.jsonl"
    assert code == 0 and out.strip().endswith(f"delivered to {archive}")
    last = json.loads(archive.read_text().splitlines()[-1])
    assert last["kind"] == "test" and last["article"]["title"].startswith("Test alert")
