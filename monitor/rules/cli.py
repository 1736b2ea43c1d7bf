"""``newsmon rules check|test|schema``: what analysts run before (and after) editing a rule file."""

import json
import sys
from pathlib import Path

import click

from monitor.classify.topics import TOPICS_FILE, TopicsError, load_topics
from monitor.cli_common import CliContext, common_options, pass_cli
from monitor.engine import EngineError, load_engine
from monitor.ingest.reader import Unreadable, read_article
from monitor.rules.loader import RuleSetError, load_rules
from monitor.rules.model import Rule
from monitor.rules.testing import BENIGN_DIR, render_report, run_rule_tests


@click.group()
def rules() -> None:
    """Validate, test and describe the analysts' rule files."""


@rules.command()
@common_options
@pass_cli
def check(cli: CliContext) -> None:
    """Validate every rule file; exit 2 listing each error at its file:line:column."""
    config = cli.config
    try:
        known_topics = load_topics(config.rules_dir / TOPICS_FILE).names
        ruleset = load_rules(
            config.rules_dir, known_topics=known_topics, known_destinations=config.destinations.keys()
        )
    except (RuleSetError, TopicsError) as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None
    click.echo(f"{len(ruleset)} rules OK in {config.rules_dir}")
    if ruleset.unindexed:
        click.echo(f"note: evaluated on every article (no term to index): {', '.join(ruleset.unindexed)}")


@rules.command()
@common_options
@pass_cli
def test(cli: CliContext) -> None:
    """Run every rule's tests and the benign articles through the full analysis; exit 1 on a failure."""
    config = cli.config
    try:
        engine = load_engine(config)
    except EngineError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None
    benign = []
    benign_dir = config.rules_dir / BENIGN_DIR
    for path in sorted(benign_dir.glob("*.txt")) if benign_dir.is_dir() else []:
        try:
            benign.append(read_article(path, max_bytes=config.limits.max_file_bytes))
        except Unreadable as exc:
            click.echo(f"{path}: cannot read: {exc}", err=True)
            raise SystemExit(2) from None
    results = run_rule_tests(engine.analyser, benign)
    click.echo(render_report(results, color=sys.stdout.isatty()))
    raise SystemExit(0 if all(r.passed for r in results) else 1)


@rules.command()
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write to a file.")
@common_options
def schema(output: Path | None) -> None:
    """Print the JSON Schema of a rule file (a list of rules), for editors' completion and checks."""
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "news-monitor rule file",
        "type": "array",
        "items": {"$ref": "#/$defs/Rule"},
    }
    item = Rule.model_json_schema(ref_template="#/$defs/{model}")
    document["$defs"] = {**item.pop("$defs", {}), "Rule": item}
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
