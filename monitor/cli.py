"""The ``newsmon`` command. Each pipeline package contributes its own subcommands."""

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from monitor import __version__
from monitor.alerts.build import build_alert, new_story
from monitor.alerts.cli import silence
from monitor.classify.cli import classify, topics
from monitor.cli_common import CliContext, common_options, pass_cli
from monitor.daemon import run_daemon
from monitor.dispatch.cli import alerts, destinations
from monitor.dispatch.sinks import console, webhook
from monitor.engine import EngineError, load_engine
from monitor.logs import configure_logging
from monitor.observability.cli import status
from monitor.rules.cli import rules
from monitor.rules.explain import explain as explain_rules
from monitor.rules.explain import render_explanations


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="newsmon")
@common_options
def main() -> None:
    """news-monitor: watch an inbox of news articles and alert on analysts' rules."""
    # One-shot commands keep stdout for their output (tables, JSON); `run` logs to stdout for journald.
    configure_logging("WARNING", stream=sys.stderr)


@main.command("config")
@common_options
@pass_cli
def show_config(cli: CliContext) -> None:
    """Print the effective admin config (secrets masked)."""
    click.echo(cli.config.model_dump_json(indent=2))


@main.command()
@common_options
@click.option(
    "--inbox",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to watch for articles.  [default: seeds/, or `inbox:` in the admin config]",
)
@click.option("--once", is_flag=True, help="Process what is in the inbox, deliver, and exit.")
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="With --once: seconds to wait for the outbox to drain before exiting.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve /healthz, /readyz and /metrics on localhost:PORT (0: any free port).",
)
@click.option(
    "--polling", is_flag=True, help="Poll the inbox instead of inotify (network filesystems: NFS, CIFS)."
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@pass_cli
def run(
    cli: CliContext,
    inbox: Path | None,
    once: bool,
    drain_timeout: float,
    metrics_port: int | None,
    polling: bool,
    log_level: str,
) -> None:
    """Run the daemon: watch the inbox, analyse each article, deliver alerts.

    Exit codes: 0 stopped cleanly (or, with --once, everything delivered or dead-lettered),
    2 invalid rules or config, 3 --once gave up waiting for deliveries.
    """
    configure_logging(log_level)
    config = cli.config
    updates: dict[str, object] = {}
    if inbox is not None:
        updates["inbox"] = inbox
    if metrics_port is not None:
        updates["metrics"] = config.metrics.model_copy(update={"port": metrics_port})
    config = config.model_copy(update=updates)
    if not config.inbox.is_dir():
        raise click.ClickException(f"inbox {config.inbox} is not a folder")
    raise SystemExit(run_daemon(config, once=once, drain_timeout=drain_timeout, polling=polling))


@main.command()
@common_options
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@click.option("--json", "as_json", is_flag=True, help="One alert per line, exactly as a webhook receives it.")
@click.option("--explain", is_flag=True, help="For every rule: matched or not, and why, spans marked.")
@pass_cli
def check(cli: CliContext, files: tuple[Path, ...], as_json: bool, explain: bool) -> None:
    """Dry run: what would alert on FILE... and why. Reads and writes no state.

    Each file counts as a story of its own, as it would in an empty state folder. Exit code 1 if a
    file could not be read, 2 if the rules are invalid.
    """
    try:
        engine = load_engine(cli.config)
    except EngineError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None
    color = sys.stdout.isatty()
    for path, article in cli.articles(files, verb="checked"):
        analysis = engine.analyser.analyse(article)
        now = datetime.now(UTC)
        story = new_story(article, now)
        alerts = [
            build_alert(
                match=m, article=article, topics=analysis.topics, story=story, revision=1, created_at=now
            )
            for m in analysis.matches
        ]
        if as_json:
            for alert in alerts:
                click.echo(webhook.render(alert).decode())
        else:
            click.echo(f"{path}: {len(alerts)} alert{'s' * (len(alerts) != 1)}\n")
            for alert in alerts:
                click.echo(console.render(alert, color=color))
        if explain:
            explanations = explain_rules(engine.analyser.ruleset, article, analysis.topics)
            click.echo(render_explanations(explanations, color=color), err=as_json)


for command in (rules, classify, topics, alerts, destinations, silence, status):
    main.add_command(command)
