"""``newsmon alerts`` and ``newsmon destinations``: what was delivered where, dead letters, test sends.

These commands read and write the state database next to a running daemon (SQLite WAL, short
statements): ``alerts retry`` reopens dead letters and the daemon's workers pick them up at their next
poll. URLs are only ever printed masked (scheme and host), secrets never.
"""

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitor.alerts.model import (
    Alert,
    AlertArticle,
    AlertRule,
    AlertStory,
    Evidence,
    Highlight,
    alert_id,
)
from monitor.cli_common import (
    CliContext,
    ago,
    common_options,
    iso,
    pass_cli,
    resolve_prefix,
    shorten,
    state_db,
    table,
)
from monitor.dispatch.destinations import Destination, DestinationType, SecretSourceError
from monitor.dispatch.http import HttpClient
from monitor.dispatch.notifier import Delivered, Failed, Outcome, Retry
from monitor.dispatch.policy import RetryPolicy
from monitor.dispatch.sinks import build_notifier, console
from monitor.severity import Level
from monitor.store import outbox

TEST_RULE_ID = "newsmon-destination-test"
_ERROR_CHARS = 60


def _row_json(row: outbox.OutboxRow) -> dict[str, Any]:
    return {
        "alert_id": row.alert_id,
        "destination": row.destination,
        "state": row.state,
        "attempts": row.attempts,
        "rule_id": row.rule_id,
        "queued_at": iso(row.created_at),
        "next_attempt_at": iso(row.next_attempt_at) if row.state == "pending" else None,
        "delivered_at": iso(row.delivered_at),
        "last_error": row.last_error,
    }


def _render_rows(rows: Sequence[outbox.OutboxRow], now: float) -> str:
    def when(row: outbox.OutboxRow) -> str:
        if row.state == "delivered":
            return f"delivered {ago(row.delivered_at, now)}"
        if row.state == "pending" and row.next_attempt_at > now:
            return f"next try in {max(1, int(row.next_attempt_at - now))}s"
        return f"queued {ago(row.created_at, now)}"

    body = [
        [
            r.alert_id[:12],
            r.destination,
            r.state,
            str(r.attempts),
            when(r),
            r.rule_id,
            shorten(r.last_error or "", _ERROR_CHARS),
        ]
        for r in rows
    ]
    return table(["ALERT", "DESTINATION", "STATE", "TRIES", "WHEN", "RULE", "LAST ERROR"], body)


def _echo_rows(rows: Sequence[outbox.OutboxRow], as_json: bool, empty: str) -> None:
    if as_json:
        for row in rows:
            click.echo(json.dumps(_row_json(row)))
    elif rows:
        click.echo(_render_rows(rows, time.time()))
    else:
        click.echo(empty)


# ---- newsmon alerts ----------------------------------------------------------------------------


@click.group()
def alerts() -> None:
    """Delivered, pending and dead-lettered alerts; reopen dead letters after fixing their cause."""


@alerts.command("list")
@common_options
@click.option("--status", type=click.Choice(outbox.STATES), help="Only deliveries in this state.")
@click.option("--destination", metavar="NAME", help="Only deliveries to this destination.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per delivery instead of the table.")
@pass_cli
def list_alerts(
    cli: CliContext, status: outbox.State | None, destination: str | None, limit: int, as_json: bool
) -> None:
    """The newest deliveries first: one line per alert and destination."""
    with state_db(cli.config) as conn:
        rows = outbox.entries(conn, status, destination, limit)
    _echo_rows(rows, as_json, "no alerts")


@alerts.command("dead")
@common_options
@click.option("--destination", metavar="NAME", help="Only dead letters of this destination.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dead letter instead of the table.")
@pass_cli
def dead(cli: CliContext, destination: str | None, limit: int, as_json: bool) -> None:
    """Dead letters: deliveries refused for good (a 4xx) or given up after the maximum age.

    Fix the cause (a revoked webhook URL, a receiver that rejects the payload), then
    `newsmon alerts retry ID` or `newsmon alerts retry --all`.
    """
    with state_db(cli.config) as conn:
        rows = outbox.entries(conn, "dead", destination, limit)
    _echo_rows(rows, as_json, "no dead letters")


@alerts.command("show")
@common_options
@click.argument("alert_id_prefix", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="The alert JSON and its deliveries as one object.")
@pass_cli
def show(cli: CliContext, alert_id_prefix: str, as_json: bool) -> None:
    """One alert as its receivers see it, and its delivery to each destination (ID may be a prefix)."""
    with state_db(cli.config) as conn:
        full_id = resolve_prefix(conn, alert_id_prefix, outbox.alert_ids_with_prefix, "alert")
        payload = outbox.alert_payload(conn, full_id)
        rows = outbox.entries_for_alert(conn, full_id)
    assert payload is not None  # the id was just read from the same table
    if as_json:
        click.echo(
            json.dumps({"alert": json.loads(payload), "deliveries": [_row_json(r) for r in rows]}, indent=2)
        )
        return
    alert = Alert.model_validate_json(payload)
    click.echo(f"alert {alert.id}\n")
    click.echo(console.render(alert, color=sys.stdout.isatty()), nl=False)
    click.echo(_render_rows(rows, time.time()) if rows else "not queued for any destination")


@alerts.command("retry")
@common_options
@click.argument("alert_id_prefix", metavar="[ID]", required=False)
@click.option("--all", "all_dead", is_flag=True, help="Reopen every dead letter instead of one alert's.")
@click.option("--destination", metavar="NAME", help="Only the dead letters of this destination.")
@pass_cli
def retry(cli: CliContext, alert_id_prefix: str | None, all_dead: bool, destination: str | None) -> None:
    """Reopen dead letters so that the daemon delivers them again, with a fresh maximum age.

    A reopened alert keeps its place: it goes out before anything queued after it for the same
    destination. Exit code 1 when there was nothing to reopen.
    """
    if (alert_id_prefix is None) == (not all_dead):
        raise click.UsageError("give an alert ID or --all (not both)")
    config = cli.config
    if destination is not None and destination not in config.destinations:
        raise click.UsageError(f"no destination named {destination!r} in the admin config")
    with state_db(config) as conn:
        full_id = (
            None
            if alert_id_prefix is None
            else resolve_prefix(conn, alert_id_prefix, outbox.alert_ids_with_prefix, "alert")
        )
        count = outbox.retry(conn, full_id, time.time(), destination)
    if count == 0:
        click.echo("nothing to retry: no matching dead letters", err=True)
        raise SystemExit(1)
    poll = RetryPolicy().poll_interval
    click.echo(
        f"reopened {count} dead letter{'s' * (count != 1)}; "
        f"a running daemon sends {'them' if count != 1 else 'it'} within {poll:g} s"
    )


# ---- newsmon destinations ----------------------------------------------------------------------


@click.group()
def destinations() -> None:
    """The admin config's destinations: check them and send each a test alert."""


def _target(destination: Destination, state_dir: Path) -> str:
    if destination.type is DestinationType.console:
        return "standard output"
    if destination.type is DestinationType.jsonl:
        assert destination.path is not None
        return str(destination.path if destination.path.is_absolute() else state_dir / destination.path)
    return destination.describe_url()


def _signed(destination: Destination) -> str:
    if destination.type is not DestinationType.webhook:
        return "-"
    return "yes" if any((destination.secret, destination.secret_env, destination.secret_file)) else "no"


@destinations.command("list")
@common_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per destination instead of the table.")
@pass_cli
def list_destinations(cli: CliContext, as_json: bool) -> None:
    """Name, type, minimum level, rate limit, signing and target (URLs masked to scheme and host)."""
    config = cli.config
    operators = set(config.operator_destinations)
    rows = []
    for name, d in config.destinations.items():
        rate, target = d.rate, _target(d, config.state_dir)
        if as_json:
            facts = {
                "name": name,
                "type": d.type.value,
                "min_level": d.min_level.value,
                "rate_per_second": rate,
                "burst": d.burst if rate is not None else None,
                "signed": _signed(d) == "yes",
                "operator": name in operators,
                "target": target,
            }
            click.echo(json.dumps(facts))
        rows.append(
            [
                name + (" (operator)" if name in operators else ""),
                d.type.value,
                d.min_level.value,
                f"{rate:g}/s burst {d.burst}" if rate is not None else "-",
                _signed(d),
                target,
            ]
        )
    if not as_json:
        click.echo(table(["NAME", "TYPE", "MIN LEVEL", "RATE", "SIGNED", "TARGET"], rows))


def make_test_alert(now: datetime) -> Alert:
    """A clearly marked test alert (``kind: "test"``, "[TEST]" in every title) with a fresh id.

    The id changes with every call, so receivers that drop repeated ``Idempotency-Key`` values still
    show a second test.
    """
    sentence = "This is a test alert from news-monitor: no action is needed."
    start = sentence.index("test alert")
    story = f"destination-test-{now.isoformat()}"
    return Alert(
        id=alert_id(TEST_RULE_ID, story, 1),
        kind="test",
        created_at=now,
        rule=AlertRule(id=TEST_RULE_ID, title="news-monitor destination test", level=Level.informational),
        article=AlertArticle(
            id="0" * 64,
            path="(newsmon destinations test)",
            title="Test alert: this destination is set up correctly",
            source="news-monitor",
            received_at=now,
        ),
        evidence=(
            Evidence(
                text=sentence,
                start=0,
                end=len(sentence),
                highlights=(Highlight(start=start, end=start + len("test alert"), term="test alert"),),
            ),
        ),
        story=AlertStory(id=story, article_count=1, sources=("news-monitor",), first_seen=now),
    )


async def _send_once(destination: Destination, alert: Alert, state_dir: Path) -> Outcome:
    client = HttpClient()
    try:
        try:
            notifier = build_notifier(destination, state_dir=state_dir, client=client)
        except SecretSourceError as exc:
            return Failed(f"destination not usable: {exc}")
        return await notifier.send(alert)
    finally:
        await client.aclose()


@destinations.command("test")
@common_options
@click.argument("name")
@pass_cli
def test_destination(cli: CliContext, name: str) -> None:
    """Send one clearly marked test alert to destination NAME now, bypassing the outbox.

    Exit code 0 when the destination accepted it, 1 otherwise (the reason is printed; URLs masked).
    """
    config = cli.config
    destination = config.destinations.get(name)
    if destination is None:
        known = ", ".join(config.destinations) or "none"
        raise click.UsageError(f"no destination named {name!r} in the admin config (known: {known})")
    alert = make_test_alert(datetime.now(UTC))
    outcome = asyncio.run(_send_once(destination, alert, config.state_dir))
    target = _target(destination, config.state_dir)
    match outcome:
        case Delivered():
            click.echo(f"{name}: test alert {alert.id[:12]} delivered to {target}")
        case Retry(reason, retry_after):
            wait = f" (it asks to wait {retry_after:g} s)" if retry_after is not None else ""
            click.echo(f"{name}: not delivered, try again later: {reason}{wait}", err=True)
            raise SystemExit(1)
        case Failed(reason):
            click.echo(f"{name}: refused: {reason}", err=True)
            raise SystemExit(1)


__all__ = ["alerts", "destinations", "make_test_alert"]
