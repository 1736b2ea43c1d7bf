"""``newsmon silence``: mute the alerts that match a few matchers for a while, next to a running daemon.

The daemon reads the active silences from the state database for each article with matches, so a
silence added or expired here applies from the next article on: no reload, no signal. ``add`` creates
the state database if there is none yet (an analyst may silence before the daemon's first run);
``list`` and ``expire`` say there is none, since that usually means a wrong ``--state`` or ``--config``.
"""

import getpass
import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import click

from monitor.alerts.silence import MATCHER_SYNTAX, Matcher, MatcherError, Silence, parse_matcher
from monitor.cli_common import (
    CliContext,
    ago,
    common_options,
    pass_cli,
    resolve_prefix,
    shorten,
    span,
    state_db,
    table,
)
from monitor.rules.model import parse_duration
from monitor.store import silences

SHORT_ID = 8
_COMMENT_CHARS = 40


def _matchers(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[Matcher, ...]:
    try:
        return tuple(parse_matcher(value) for value in values)
    except MatcherError as exc:
        raise click.BadParameter(str(exc)) from None


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not isinstance(duration, timedelta) or duration <= timedelta(0):
        raise click.BadParameter(f"'{value}' is not a duration longer than zero")
    return duration


def _time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """ISO-8601 with a timezone: a silence typed in one zone and read in another must mean one instant."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not an ISO-8601 time, like 2024-05-01T18:00+02:00") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"'{value}' has no timezone: add one, like 2024-05-01T18:00Z or +02:00")
    return parsed.astimezone(UTC)


def _whoami() -> str:
    """Who runs the command, also through ``sudo -u newsmon`` (the service owns the state database)."""
    name = os.environ.get("SUDO_USER") or os.environ.get("USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise click.UsageError("cannot tell who you are: give --author NAME") from None


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _relative(moment: datetime, now: datetime) -> str:
    if moment > now:
        return f"in {span((moment - now).total_seconds())}"
    return ago(moment.timestamp(), now.timestamp())


@click.group()
def silence() -> None:
    """Mute matching alerts for a while (a flood on one story, a noisy outlet) without editing rules.

    Silenced alerts are neither stored nor sent; `newsmon check` ignores silences.
    """


@silence.command("add")
@common_options
@click.argument("matchers", nargs=-1, callback=_matchers, metavar="MATCHER...")
@click.option("--for", "duration", callback=_duration, metavar="DURATION", help="How long: 30m, 4h, 2d, 1w.")
@click.option("--until", callback=_time, metavar="TIME", help="When it ends: ISO-8601 with a timezone.")
@click.option(
    "--start", callback=_time, metavar="TIME", help="When it starts, if not now (ISO-8601 with a timezone)."
)
@click.option("--comment", required=True, help="Why: `silence list` shows it to whoever misses the alerts.")
@click.option("--author", metavar="NAME", help="Who asks.  [default: $SUDO_USER, $USER or the login name]")
@pass_cli
def add(
    cli: CliContext,
    matchers: tuple[Matcher, ...],
    duration: timedelta | None,
    until: datetime | None,
    start: datetime | None,
    comment: str,
    author: str | None,
) -> None:
    """Stop the alerts that match every MATCHER from being stored and sent, from --start (default now)
    for --for or until --until.

    A MATCHER is FIELD=VALUE, FIELD one of rule, tag, topic, level, source, story. VALUE is
    case-insensitive and may use * globs; level names one level exactly, story also takes a prefix of
    the story id. Prints the new silence's id, then what it does.

    \b
      newsmon silence add rule=ceasefire --for 4h --comment "Gaza truce: we know"
      newsmon silence add 'source=Reuters*' tag=prisoners --until 2024-05-02T08:00+02:00 --comment "..."
    """
    if not matchers:
        raise click.UsageError(f"give at least one MATCHER: {MATCHER_SYNTAX}")
    if not comment.strip():
        raise click.UsageError("--comment must say why")
    now = datetime.now(UTC).replace(microsecond=0)
    starts_at = start or now
    match duration, until:
        case timedelta() as length, None:
            ends_at = starts_at + length
        case None, datetime() as end:
            ends_at = end
        case _:
            raise click.UsageError("give either --for or --until")
    if ends_at <= now:
        raise click.UsageError(f"the silence would end at {_at(ends_at)}, which has passed")
    if ends_at <= starts_at:
        raise click.UsageError("--until must be after --start")
    created = Silence(
        id=uuid4().hex,
        matchers=matchers,
        starts_at=max(starts_at, now),  # a start in the past is now: it cannot stop what was sent
        ends_at=ends_at,
        created_by=author or _whoami(),
        comment=comment.strip(),
        created_at=now,
    )
    with state_db(cli.config, create=True) as conn:
        silences.add(conn, created)
    begins = "now" if created.starts_at <= now else _at(created.starts_at)
    click.echo(created.id)
    click.echo(
        f"silenced {created.describe()} from {begins} until {_at(created.ends_at)} "
        f"({span((created.ends_at - created.starts_at).total_seconds())}), by {created.created_by}"
    )


@silence.command("list")
@common_options
@click.option("--all", "include_expired", is_flag=True, help="Also silences that ended in the last 7 days.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per silence instead of the table.")
@pass_cli
def list_silences(cli: CliContext, include_expired: bool, as_json: bool) -> None:
    """Active and pending silences, newest first: what they match, when, who and why, and how many alerts
    each has stopped."""
    now = datetime.now(UTC)
    with state_db(cli.config) as conn:
        found = silences.entries(conn, now.timestamp(), include_expired=include_expired)
    if as_json:
        for entry in found:
            click.echo(
                json.dumps({"id": entry.id, "state": entry.state(now), **entry.model_dump(mode="json")})
            )
        return
    if not found:
        click.echo("no silences" if include_expired else "no active or pending silences")
        return
    header = ["ID", "STATE", "MATCHERS", "STARTS", "ENDS", "AUTHOR", "SUPPRESSED", "COMMENT"]
    rows = [
        [
            entry.id[:SHORT_ID],
            entry.state(now),
            entry.describe(),
            _relative(entry.starts_at, now),
            _relative(entry.ends_at, now),
            entry.created_by,
            str(entry.suppressed),
            shorten(entry.comment, _COMMENT_CHARS),
        ]
        for entry in found
    ]
    click.echo(table(header, rows))


@silence.command("expire")
@common_options
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@pass_cli
def expire(cli: CliContext, ids: tuple[str, ...]) -> None:
    """End silences now (ID may be a prefix, as `silence list` shows it): the next article alerts again.

    Exit code 1 if an ID is unknown, ambiguous or already expired; the other IDs are expired all the same.
    """
    now = datetime.now(UTC).timestamp()
    failed = False
    with state_db(cli.config) as conn:
        for prefix in ids:
            try:
                click.echo(_expire_one(conn, prefix, now))
            except click.ClickException as exc:
                click.echo(f"Error: {exc.message}", err=True)
                failed = True
    if failed:
        raise SystemExit(1)


def _expire_one(conn: sqlite3.Connection, prefix: str, now: float) -> str:
    full_id = resolve_prefix(conn, prefix, silences.ids_with_prefix, "silence")
    found = silences.get(conn, full_id)
    if found is not None and silences.expire(conn, full_id, now):
        stopped = f"{found.suppressed} alert{'s' * (found.suppressed != 1)}"
        return f"expired {full_id[:SHORT_ID]}: {found.describe()} (it stopped {stopped})"
    ended = "" if found is None else f" {ago(found.ends_at.timestamp(), now)}"
    raise click.ClickException(f"silence {full_id[:SHORT_ID]} already expired{ended}")


__all__ = ["silence"]
