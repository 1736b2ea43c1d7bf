"""``newsmon status``: the daemon's health and the state database's facts, for a person or a script.

Exit codes (for cron jobs and monitoring checks):
  0  healthy: the daemon runs and no alert is dead-lettered;
  1  unhealthy: the daemon is stopped or unresponsive, there is no state database, or dead letters exist;
  2  the admin config or the state database could not be read.
"""

import sqlite3

import click

from monitor.cli_common import CliContext, common_options, pass_cli
from monitor.observability.status import Status, collect_status

EXIT_UNHEALTHY = 1
EXIT_CANNOT_CHECK = 2


@click.command("status")
@common_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
@pass_cli
def status(cli: CliContext, as_json: bool) -> None:
    """Show whether the daemon runs, what it processed, and what waits in the outbox.

    Exit codes: 0 healthy; 1 daemon not running or unresponsive, no state database, or dead letters
    present; 2 the admin config or the state database could not be read.
    """
    try:
        config = cli.config
    except click.ClickException as exc:
        raise CannotCheck(exc.message) from None
    try:
        report = collect_status(config.state_dir, config)
    except sqlite3.DatabaseError as exc:
        raise CannotCheck(f"cannot read the state database in {config.state_dir}: {exc}") from None
    if as_json:
        click.echo(report.model_dump_json())
    else:
        click.echo(render(report))
    if not report.healthy:
        click.get_current_context().exit(EXIT_UNHEALTHY)


class CannotCheck(click.ClickException):
    """The facts could not be gathered at all: distinct from "gathered, and unhealthy"."""

    exit_code = EXIT_CANNOT_CHECK


def render(report: Status) -> str:
    """The table a person reads; every figure also appears in ``--json``."""
    now = report.checked_at
    daemon = report.daemon
    heartbeat = daemon.heartbeat
    if daemon.state == "stopped":
        daemon_line = "stopped" + (f" (last pid {heartbeat.pid})" if heartbeat else "")
    else:
        assert heartbeat is not None
        up = f", up {_duration(now - heartbeat.started_at)}" if heartbeat.started_at else ""
        daemon_line = f"{daemon.state}  pid {heartbeat.pid}{up}, heartbeat {_ago(heartbeat.written_at, now)}"
    lines = [f"state       {report.state_dir}", f"daemon      {daemon_line}"]
    if heartbeat is not None:
        lines.append(f"rules       {_rules_line(report)}")
        if heartbeat.last_rescan:
            lines.append(f"rescan      {_event_line(heartbeat.last_rescan, now)}")
    articles = report.articles
    lines.append(
        f"articles    {articles.processed:,} processed, {articles.quarantined:,} quarantined; "
        f"last {_ago(articles.last_processed_at, now)}"
    )
    silenced = report.silences_active
    lines.append(
        f"alerts      {report.alerts:,} stored, {report.outbox_pending:,} pending, "
        f"{report.dead_letters:,} dead"
        + (f"; {silenced:,} silence{'s' * (silenced != 1)} active" if silenced else "")
    )
    lines.extend(_destination_table(report))
    lines.extend(f"PROBLEM     {problem}" for problem in report.problems)
    lines.extend(f"warning     {warning}" for warning in report.warnings)
    lines.append("healthy" if report.healthy else "UNHEALTHY")
    return "\n".join(lines)


def _rules_line(report: Status) -> str:
    heartbeat = report.daemon.heartbeat
    assert heartbeat is not None
    loaded = "?" if heartbeat.rules_loaded is None else f"{heartbeat.rules_loaded:,}"
    reload = heartbeat.last_reload
    if not reload:
        return f"{loaded} loaded; not reloaded since start"
    outcome = "ok" if reload.get("ok") else "FAILED (previous rules kept)"
    at = reload.get("at")
    when = f" {_ago(float(at), report.checked_at)}" if isinstance(at, int | float) else ""
    return f"{loaded} loaded; last reload {outcome}{when}"


def _event_line(event: dict[str, object], now: float) -> str:
    at = event.get("at")
    when = _ago(float(at), now) if isinstance(at, int | float) else ""
    rest = ", ".join(f"{key} {value}" for key, value in event.items() if key not in ("at", "ok", "errors"))
    return ", ".join(part for part in (when, rest) if part)


def _destination_table(report: Status) -> list[str]:
    header = ("destination", "pending", "oldest", "delivered", "dead")
    rows = [
        (
            d.name + ("" if d.configured else " (not configured)"),
            f"{d.pending:,}",
            _duration(d.oldest_pending_age_seconds) if d.oldest_pending_age_seconds is not None else "-",
            f"{d.delivered:,}",
            f"{d.dead:,}",
        )
        for d in report.destinations
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    table = ["  ".join(_cells(row, widths)) for row in (header, *rows)]
    return [f"{'outbox' if n == 0 else '':<12}{line.rstrip()}" for n, line in enumerate(table)]


def _cells(row: tuple[str, ...], widths: list[int]) -> list[str]:
    """The name column flush left, the figures flush right."""
    return [row[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True))]


def _ago(at: float | None, now: float) -> str:
    return "never" if at is None else f"{_duration(now - at)} ago"


def _duration(seconds: float) -> str:
    """``42s``, ``7m05s``, ``3h12m``, ``2d04h``: exact enough for a glance, short enough for a table."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
