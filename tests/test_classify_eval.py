"""Labelled data, metrics, calibration and the classify/topics commands on real files."""

import json
import shutil
from pathlib import Path

import click
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from monitor.classify import Classifier
from monitor.classify.cli import classify, topics
from monitor.classify.evaluation import LabelledDataError, LabelledItem, best_threshold, load_labelled, report
from monitor.classify.head import HEAD_FILE, fingerprint, load_head, sigmoid
from monitor.classify.training import DocumentUnits, cross_validated_scores, fit_head, platt_scaling
from monitor.cli_common import common_options

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
NAMES = ("ceasefire", "cross_border_shelling", "prisoner_exchange")


@click.group()
@common_options
def newsmon() -> None:
    """The two commands as the lead's ``newsmon`` group registers them."""


newsmon.add_command(classify)
newsmon.add_command(topics)


def test_the_labelled_data_meets_the_issue_minimums() -> None:
    items = load_labelled(DATA / "topics-dev.jsonl", topics=NAMES) + load_labelled(
        DATA / "topics-heldout.jsonl", topics=NAMES
    )
    raw = [
        json.loads(line) for f in ("topics-dev", "topics-heldout") for line in (DATA / f"{f}.jsonl").open()
    ]
    assert all(r["source"] and r["url"] and r["kind"] in {"verbatim", "paraphrase"} for r in raw)
    for name in NAMES:
        assert sum(name in i.labels for i in items) >= 40
    negatives = [i for i in items if not i.labels]
    # At least 60 negatives, half of them hard; real feeds add easy negatives beyond that.
    assert len(negatives) >= 60 and sum(i.hard_negative for i in negatives) >= 30
    assert not {i.id for i in load_labelled(DATA / "topics-dev.jsonl")} & {
        i.id for i in load_labelled(DATA / "topics-heldout.jsonl")
    }


def test_bad_lines_and_unknown_topics_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "x", "labels": []}\n{"id": "b", "text": "y", "labels": ["wars"]}\n')
    with pytest.raises(LabelledDataError, match=r"bad.jsonl:2: unknown topic\(s\): wars"):
        load_labelled(path, topics=NAMES)
    path.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')
    with pytest.raises(LabelledDataError, match=r"bad\.jsonl:2: duplicate id"):
        load_labelled(path)


def test_report_counts_precision_recall_f1_and_hard_negatives() -> None:
    items = [
        LabelledItem(id="1", text="t", labels=frozenset({"ceasefire"})),
        LabelledItem(id="2", text="t", labels=frozenset({"ceasefire"})),
        LabelledItem(id="3", text="t", hard_negative=True),
        LabelledItem(id="4", text="t", hard_negative=True),
    ]
    predicted = [frozenset({"ceasefire"}), frozenset(), frozenset({"ceasefire"}), frozenset()]
    rep = report(items, predicted, ["ceasefire"])
    (c,) = rep.topics
    assert (c.precision, c.recall, c.f1) == (0.5, 0.5, 0.5)
    assert rep.hard_negative_rate == 0.5
    assert rep.errors == (("2", "ceasefire", "missed"), ("3", "ceasefire", "false alarm"))


def test_report_intervals_bracket_the_estimate_and_narrow_with_more_articles() -> None:
    rng = np.random.default_rng(7)
    labels = [frozenset({"ceasefire"}) if rng.random() < 0.3 else frozenset() for _ in range(60)]
    items = [
        LabelledItem(id=str(i), text="t", labels=label, hard_negative=not label and i % 2 == 0)
        for i, label in enumerate(labels)
    ]
    # A scorer right four times in five, wrong in both directions.
    predicted = [label if rng.random() < 0.8 else frozenset({"ceasefire"}) - label for label in labels]
    small = report(items, predicted, ["ceasefire"])
    assert small.macro_f1_interval[0] < small.macro_f1 < small.macro_f1_interval[1]
    assert (
        small.hard_negative_rate_interval[0] < small.hard_negative_rate < small.hard_negative_rate_interval[1]
    )
    assert report(items, predicted, ["ceasefire"]) == small  # seeded: the same numbers every run
    many = [item.model_copy(update={"id": f"{item.id}-{k}"}) for k in range(10) for item in items]
    large = report(many, predicted * 10, ["ceasefire"])
    assert large.macro_f1 == pytest.approx(small.macro_f1)
    for wide, narrow in (
        (small.macro_f1_interval, large.macro_f1_interval),
        (small.hard_negative_rate_interval, large.hard_negative_rate_interval),
    ):
        assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 2
    perfect = report(items, labels, ["ceasefire"])
    assert perfect.macro_f1_interval == (1.0, 1.0) and perfect.hard_negative_rate_interval == (0.0, 0.0)
    assert report(items[:0], [], ["ceasefire"]).macro_f1_interval == (0.0, 0.0)


def test_best_threshold_separates_with_the_widest_margin() -> None:
    threshold, f1 = best_threshold([0.1, 0.2, 0.6, 0.9], [False, False, True, True])
    assert f1 == 1.0 and threshold == pytest.approx(0.4)


def test_best_threshold_keeps_within_the_hard_negative_budget() -> None:
    scores = [0.1, 0.3, 0.4, 0.5, 0.7, 0.9]
    labels = [False, True, True, False, True, True]
    hard = [False, False, False, True, False, False]
    # Best F1 overall flags every positive and the hard negative at 0.5 ...
    assert best_threshold(scores, labels) == (pytest.approx(0.2), pytest.approx(8 / 9))
    # ... within a budget of none, the threshold moves above it.
    threshold, f1 = best_threshold(scores, labels, hard_negatives=hard, max_hard_negatives=0)
    assert threshold == pytest.approx(0.6) and f1 == pytest.approx(2 / 3)
    # A hard negative at 1.0 cannot be kept out by any threshold: the budget gives way, not the topic.
    assert best_threshold(
        [1.0, 0.6, 0.2], [False, True, False], hard_negatives=[True, False, False], max_hard_negatives=0
    ) == best_threshold([1.0, 0.6, 0.2], [False, True, False])


def test_classify_json_prints_one_line_per_file_with_evidence_inside_the_text(tmp_path: Path) -> None:
    seed = sorted((ROOT / "seeds").glob("*.txt"))[0]
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = CliRunner().invoke(
        newsmon, ["classify", "--json", str(seed), str(empty), "--rules", str(ROOT / "rules")]
    )
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1 and lines[0]["path"] == str(seed)
    ceasefire = lines[0]["topics"]["ceasefire"]
    assert ceasefire["match"] is True and ceasefire["score"] >= ceasefire["threshold"]
    assert set(ceasefire) == {
        "score",
        "match",
        "threshold",
        "evidence",
        "vetoed_by",
        "out_of_context",
        "scorer",
    }
    text = seed.read_text(encoding="utf-8")
    assert all(text[e["start"] : e["end"]] == e["text"] for e in ceasefire["evidence"])
    assert "not classified" in result.stderr


def write_small_labelled_set(path: Path) -> list[dict[str, object]]:
    """Twelve cross-border shelling articles and twenty off-topic ones from dev, enough to fit a head,
    written to ``path`` as JSONL; returned as written."""
    items = [json.loads(line) for line in (DATA / "topics-dev.jsonl").open()]
    shelling = [i for i in items if "cross_border_shelling" in i["labels"]][:12]
    chosen = shelling + [i for i in items if not i["labels"]][:20]
    path.write_text("".join(json.dumps(i) + "\n" for i in chosen))
    return chosen


def test_train_writes_a_head_next_to_topics_yaml_and_eval_reports_it(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(ROOT / "rules" / "topics.yaml", rules / "topics.yaml")
    data = tmp_path / "small.jsonl"
    chosen = write_small_labelled_set(data)
    runner = CliRunner()
    trained = runner.invoke(newsmon, ["topics", "train", str(data), "--rules", str(rules)])
    assert trained.exit_code == 0, trained.output
    head = load_head(rules / HEAD_FILE)
    assert head is not None and head.documents == 32
    assert set(head.topics) <= {"cross_border_shelling"}
    assert "cross_border_shelling" in trained.stdout
    evaluated = runner.invoke(newsmon, ["topics", "eval", "--json", str(data), "--rules", str(rules)])
    assert evaluated.exit_code == 0, evaluated.output
    line = next(line for line in evaluated.stdout.splitlines() if line.startswith("{"))
    numbers = json.loads(line)["classifier"]
    assert numbers["documents"] == 32
    assert numbers["topics"]["cross_border_shelling"]["recall"] >= 0.75
    assert {e["id"] for e in numbers["errors"]} <= {i["id"] for i in chosen}
    low, high = numbers["macro_f1_interval"]
    assert low <= numbers["macro_f1"] <= high
    text = runner.invoke(newsmon, ["topics", "eval", str(data), "--rules", str(rules)]).stdout
    assert f"(95% interval {low:.3f}-{high:.3f})" in text


def test_a_topic_with_trained_head_false_gets_no_head_and_ignores_one_on_disk(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(ROOT / "rules" / HEAD_FILE, rules / HEAD_FILE)
    bundled = load_head(rules / HEAD_FILE)
    assert bundled is not None and "cross_border_shelling" in bundled.topics
    definitions = yaml.safe_load((ROOT / "rules" / "topics.yaml").read_text(encoding="utf-8"))
    for topic in definitions["topics"]:
        topic["trained_head"] = topic["name"] != "cross_border_shelling"
    (rules / "topics.yaml").write_text(yaml.safe_dump(definitions), encoding="utf-8")
    # The bundled head still matches the topic's fingerprint, and is still not used.
    models = {m.topic.name: m for m in Classifier.load(rules).models}
    shelling_topic = models["cross_border_shelling"].topic
    assert bundled.topics["cross_border_shelling"].fingerprint == fingerprint(shelling_topic)
    assert models["cross_border_shelling"].head is None
    assert models["prisoner_exchange"].head is not None

    data = tmp_path / "small.jsonl"
    write_small_labelled_set(data)
    trained = CliRunner().invoke(newsmon, ["topics", "train", str(data), "--rules", str(rules)])
    assert trained.exit_code == 0, trained.output
    assert "off (trained_head: false)" in trained.stdout
    head = load_head(rules / HEAD_FILE)
    assert head is not None and "cross_border_shelling" not in head.topics


def test_platt_scaling_spreads_squeezed_scores_without_reordering_them() -> None:
    squeezed = np.array([0.0, 0.47, 0.48, 0.49, 0.51, 0.52, 0.53, 0.0])
    labels = [False, False, False, True, False, True, True, False]
    slope, intercept = platt_scaling(squeezed, labels)
    spread = sigmoid(slope * np.log(squeezed[1:7] / (1 - squeezed[1:7])) + intercept)
    assert slope > 1.0
    assert spread.max() - spread.min() > 5 * (0.53 - 0.47)
    assert list(np.argsort(spread)) == list(np.argsort(squeezed[1:7]))
    # One class only among scorable articles: nothing to learn, scores unchanged.
    assert platt_scaling(squeezed, [False] * 8) == (1.0, 0.0)


def synthetic_article(
    rng: np.random.Generator, centre: tuple[float, float], *, hard: bool = False, lead_vetoed: bool = False
) -> DocumentUnits:
    """Three units scattered around ``centre`` in a two-feature space."""
    features = np.asarray(centre) + rng.normal(0.0, 0.05, size=(3, 2))
    return DocumentUnits(
        features=features, prototype=np.full(3, 0.5), hard_negative=hard, lead_vetoed=lead_vetoed
    )


def test_hard_negative_articles_weigh_more_in_the_head() -> None:
    """A hard negative close to the positives is pushed further down when it is marked hard."""
    rng = np.random.default_rng(7)
    positives = [synthetic_article(rng, (1.0, 0.0)) for _ in range(8)]
    easy = [synthetic_article(rng, (-1.0, 0.0)) for _ in range(20)]
    labels = [True] * 8 + [False] * 23

    def hard_score(marked: bool) -> float:
        hard = [synthetic_article(rng, (0.4, 0.6), hard=marked) for _ in range(3)]
        weights, bias = fit_head([*positives, *easy, *hard], labels, l2=1.0)
        return float(sigmoid(np.array([0.4, 0.6]) @ weights + bias))

    assert hard_score(marked=True) < hard_score(marked=False) - 0.05


def test_a_lead_vetoed_article_scores_zero_but_still_teaches_the_head() -> None:
    """As at run time, an article a lead veto stops scores 0; its units still count as negatives."""
    rng = np.random.default_rng(3)
    positives = [synthetic_article(rng, (1.0, 0.0)) for _ in range(10)]
    negatives = [synthetic_article(rng, (-1.0, 0.0)) for _ in range(10)]
    rescues = [synthetic_article(rng, (0.6, 0.8), lead_vetoed=True) for _ in range(5)]
    labels = [True] * 10 + [False] * 15
    scores = cross_validated_scores([*positives, *negatives, *rescues], labels, l2=1.0)
    assert (scores[20:] == 0.0).all() and (scores[:10] > 0.5).all()
    assert rescues[0].best_prototype == 0.0 and positives[0].best_prototype == 0.5

    def rescue_score(docs: list[DocumentUnits]) -> float:
        weights, bias = fit_head(docs, [True] * 10 + [False] * (len(docs) - 10), l2=1.0)
        return float(sigmoid(np.array([0.6, 0.8]) @ weights + bias))

    assert rescue_score([*positives, *negatives, *rescues]) < rescue_score([*positives, *negatives]) - 0.05


def test_classify_says_which_veto_stopped_a_topic(tmp_path: Path) -> None:
    story = tmp_path / "rescue.txt"
    story.write_text(
        "Commandos rescue four hostages in Gaza raid\n"
        "GAZA - Israeli special forces freed four hostages held by Hamas in a raid on Saturday. Mediators "
        "have spent months on a deal under which Hamas would release the hostages in exchange for "
        "Palestinian prisoners.\n"
    )
    result = CliRunner().invoke(newsmon, ["classify", str(story), "--rules", str(ROOT / "rules")])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("prisoner_exchange"))
    assert line.endswith("- (vetoed by rescu*)")
