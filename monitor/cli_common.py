"""What every ``newsmon`` subcommand shares: the admin config, the common options, and for the commands
that work on the state database (``alerts``, ``silence``) opening it and printing its rows alike.

Every command takes ``--rules DIR``, ``--config FILE`` and ``--state DIR``; flags win over the admin config,
which wins over the embedded defaults.
"""

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import click

from monitor.config import AdminConfig, ConfigError, load_config
from monitor.ingest.article import Article
from monitor.ingest.reader import Unreadable, read_article
from monitor.store.db import DB_NAME, connect


@dataclass
class CliContext:
    """What every subcommand needs: the admin config with command-line overrides applied."""

    config_file: Path | None = None
    rules_override: Path | None = None
    state_override: Path | None = None

    @cached_property
    def config(self) -> AdminConfig:
        try:
            config = load_config(self.config_file)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        overrides = {
            name: value
            for name, value in (
                ("rules_dir", self.rules_override),
                ("state_dir", self.state_override),
            )
            if value is not None
        }
        return config.model_copy(update=overrides)

    @property
    def rules_dir(self) -> Path:
        return self.config.rules_dir

    @property
    def state_dir(self) -> Path:
        return self.config.state_dir

    def articles(self, files: Iterable[Path], *, verb: str) -> Iterator[tuple[Path, Article]]:
        """Each file read as the daemon would read it; a file that cannot be read is reported on stderr
        (``PATH: not VERB: why``) and skipped, and once every file is done the command exits 1."""
        failed = False
        for path in files:
            try:
                yield path, read_article(path, max_bytes=self.config.limits.max_file_bytes)
            except Unreadable as exc:
                click.echo(f"{path}: not {verb}: {exc}", err=True)
                failed = True
        if failed:
            raise SystemExit(1)


def _set(field: str) -> Callable[[click.Context, click.Parameter, Path | None], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            setattr(ctx.ensure_object(CliContext), field, value)

    return callback


_COMMON_OPTIONS = (
    click.option(
        "--rules",
        type=click.Path(path_type=Path, file_okay=False),
        expose_value=False,
        callback=_set("rules_override"),
        is_eager=True,
        help="Folder of rule files and topics.yaml.  [default: rules/]",
    ),
    click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        callback=_set("config_file"),
        is_eager=True,
        help="Admin config (destinations, routes, limits).  "
        "[default: $NEWSMON_CONFIG, else monitor.yaml if present]",
    ),
    click.option(
        "--state",
        type=click.Path(path_type=Path, file_okay=False),
        expose_value=False,
        callback=_set("state_override"),
        is_eager=True,
        help="State folder (SQLite database, JSONL archive).  [default: .newsmon/]",
    ),
)

F = TypeVar("F", bound=Callable[..., object])


def common_options(func: F) -> F:
    """Give a command ``--rules``, ``--config`` and ``--state`` so they work after its name too."""
    for option in reversed(_COMMON_OPTIONS):
        func = option(func)
    return func


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


# ---- the state database, for commands that run next to the daemon ---------------------------------


@contextmanager
def state_db(config: AdminConfig, *, create: bool = False) -> Iterator[sqlite3.Connection]:
    """The daemon's state database; unless ``create``, an error (not a fresh empty database) when there is
    none yet, since that usually means a wrong ``--state`` or ``--config``."""
    if not create and not (config.state_dir / DB_NAME).exists():
        raise click.ClickException(f"no state database in {config.state_dir} (has the daemon run yet?)")
    try:
        conn = connect(config.state_dir)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise click.ClickException(f"cannot open the state database in {config.state_dir}: {exc}") from None
    try:
        yield conn
    finally:
        conn.close()


def resolve_prefix(
    conn: sqlite3.Connection,
    prefix: str,
    ids_with_prefix: Callable[[sqlite3.Connection, str], Sequence[str]],
    what: str,
) -> str:
    """A full id from a unique prefix: lists show ids shortened, and commands take them back as shown."""
    found = ids_with_prefix(conn, prefix.strip().lower())
    if not found:
        raise click.ClickException(f"no {what} with id {prefix!r}")
    if len(found) > 1:
        raise click.ClickException(f"{what} id {prefix!r} is ambiguous: give more characters")
    return found[0]


def span(seconds: float) -> str:
    """``42s``, ``7m``, ``3h``, ``2d``: the largest whole unit, enough for a table."""
    whole = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def ago(then: float | None, now: float) -> str:
    return "-" if then is None else f"{span(now - then)} ago"


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, an ellipsis marking a cut."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [header, *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )
