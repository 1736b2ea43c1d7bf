"""The ``newsmon`` command. Each pipeline package contributes its own subcommands."""

import click

from monitor import __version__
from monitor.cli_common import CliContext, common_options, pass_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="newsmon")
@common_options
def main() -> None:
    """news-monitor: watch an inbox of news articles and alert on analysts' rules."""


@main.command("config")
@common_options
@pass_cli
def show_config(cli: CliContext) -> None:
    """Print the effective admin config (secrets masked)."""
    click.echo(cli.config.model_dump_json(indent=2))
