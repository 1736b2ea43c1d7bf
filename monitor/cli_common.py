"""What every ``newsmon`` subcommand shares: the admin config and the common options.

Every command takes ``--rules DIR``, ``--config FILE`` and ``--state DIR``; flags win over the admin config,
which wins over the embedded defaults.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import click

from monitor.config import AdminConfig, ConfigError, load_config
from monitor.ingest.article import Article
from monitor.ingest.reader import Unreadable, read_article


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
