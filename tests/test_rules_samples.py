"""The bundled rules on the five sample articles, through the real engine (classifier + rules), and the
``rules`` commands and ``--explain`` on the same real files."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import AdminConfig
from monitor.engine import Engine, load_engine
from monitor.ingest.reader import read_article
from monitor.rules.cli import rules
from monitor.rules.explain import explain, render_explanations

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

EXPECTED = {
    "000_805448790873fa1e.txt": {"ceasefire", "prisoner_exchange", "cross_border_shelling"},
    "001_ce9271161a6415bd.txt": {"ceasefire", "prisoner_exchange", "cross_border_shelling"},
    "002_da3e7f07827a03a9.txt": {"ceasefire", "prisoner_exchange"},
    "003_677e52f2b0f5540b.txt": {"ceasefire", "prisoner_exchange"},
    "004_1d082853e5d5db67.txt": {"ceasefire", "prisoner_exchange"},
}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine(AdminConfig(rules_dir=ROOT / "rules"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_rules_on_the_samples(engine: Engine, name: str) -> None:
    article = read_article(SEEDS / name)
    fired = {m.rule.id for m in engine.analyser.analyse(article).matches}
    assert fired == EXPECTED[name]


def test_explain_agrees_with_the_analysis_and_highlights_spans(engine: Engine) -> None:
    article = read_article(SEEDS / "003_677e52f2b0f5540b.txt")
    analysis = engine.analyser.analyse(article)
    explanations = explain(engine.analyser.ruleset, article, analysis.topics)
    assert {e.rule.id for e in explanations if e.fired} == {m.rule.id for m in analysis.matches}
    shelling = next(e for e in explanations if e.rule.id == "cross_border_shelling")
    assert shelling.query is not None and not shelling.query.holds
    plain = render_explanations(explanations, color=False)
    assert "FIRED  ceasefire" in plain
    assert "not fired  cross_border_shelling" in plain
    assert "[Ceasefire]" in plain  # the headline's term, bracketed without colour
    assert "topic ceasefire " in plain and "(min_score)" in plain
    colored = render_explanations(explanations, color=True)
    assert "\x1b[" in colored and "[Ceasefire]" not in colored


def test_explain_says_when_a_topic_is_out_of_context(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "truce.txt"
    path.write_text("Microsoft and Google called a truce in their regulatory fight on Monday.\n")
    article = read_article(path)
    analysis = engine.analyser.analyse(article)
    assert analysis.topics["ceasefire"].out_of_context and not analysis.matches
    plain = render_explanations(explain(engine.analyser.ruleset, article, analysis.topics), color=False)
    assert "topic ceasefire 0.00 < 0.20 (min_score)" in plain
    assert "out of context: the article has none of the topic's context terms" in plain


def test_explain_names_the_veto_that_stopped_a_topic(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "rescue.txt"
    path.write_text(
        "Commandos rescue four hostages in Gaza raid\n"
        "GAZA - Israeli special forces freed four hostages held by Hamas in a raid on Saturday. Mediators "
        "have spent months on a deal under which Hamas would release the hostages in exchange for "
        "Palestinian prisoners.\n"
    )
    article = read_article(path)
    analysis = engine.analyser.analyse(article)
    assert "prisoner_exchange" not in {m.rule.topic for m in analysis.matches}
    plain = render_explanations(explain(engine.analyser.ruleset, article, analysis.topics), color=False)
    assert "topic prisoner_exchange 0.00 < 0.20 (min_score)" in plain
    assert "vetoed by rescu* (it stopped what would have reached the threshold)" in plain


def test_rules_test_passes_on_the_bundled_rules() -> None:
    result = CliRunner().invoke(rules, ["test", "--rules", str(ROOT / "rules")])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output
    assert "rules/benign/armistice_day.txt" in result.output or "armistice_day.txt" in result.output


def test_rules_test_fails_when_a_rule_misses_its_own_example(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules_dir)
    text = (rules_dir / "ceasefire.yaml").read_text()
    text = text.replace(
        "    no_match:\n", "    no_match:\n      - Syria has offered a ceasefire in war-torn Aleppo.\n", 1
    )
    (rules_dir / "ceasefire.yaml").write_text(text)
    (rules_dir / "benign" / "noisy.txt").write_text(
        "Militants fired rockets from Gaza into southern Israel.\n"
    )
    result = CliRunner().invoke(rules, ["test", "--rules", str(rules_dir)])
    assert result.exit_code == 1
    assert "FAIL no_match Syria has offered a ceasefire in war-torn Aleppo." in result.output
    assert "fired: cross_border_shelling" in result.output
    assert "2 failed" in result.output


def test_rules_check_reports_located_errors_and_exits_2(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(ROOT / "rules" / "topics.yaml", rules_dir)
    (rules_dir / "syria.yaml").write_text(
        "- id: aleppo\n  title: Aleppo\n  level: high\n  topic: ceasfire\n  query: truce NEAR5 aleppo\n"
    )
    result = CliRunner().invoke(rules, ["check", "--rules", str(rules_dir)])
    assert result.exit_code == 2
    assert "syria.yaml:5:16: unknown operator 'NEAR5'; did you mean NEAR/5?" in result.output
    ok = CliRunner().invoke(rules, ["check", "--rules", str(ROOT / "rules")])
    assert ok.exit_code == 0 and "3 rules OK" in ok.output


def test_rules_schema_describes_a_list_of_rules(tmp_path: Path) -> None:
    result = CliRunner().invoke(rules, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["type"] == "array"
    rule = schema["$defs"]["Rule"]
    assert {"id", "title", "level"} <= set(rule["required"])
    assert rule["additionalProperties"] is False
    out = tmp_path / "rule.schema.json"
    assert CliRunner().invoke(rules, ["schema", "--output", str(out)]).exit_code == 0
    assert json.loads(out.read_text()) == schema


def test_check_reports_an_unreadable_file_and_exits_1_after_the_others(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    seed = SEEDS / "003_677e52f2b0f5540b.txt"
    result = CliRunner().invoke(main, ["check", str(empty), str(seed), "--rules", str(ROOT / "rules")])
    assert result.exit_code == 1
    assert f"{empty}: not checked: file is empty" in result.stderr
    assert f"{seed}: 2 alerts" in result.stdout
