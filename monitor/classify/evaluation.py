"""Labelled data and the numbers it gives: per-topic precision, recall and F1, and hard-negative flag rate.

The same report serves the classifier alone and the bundled rules, so the two can be compared on one
file. A labelled file is JSON Lines, one article per line::

    {"id": "p001", "text": "...", "labels": ["ceasefire"], "hard_negative": false, "source": "..."}

``labels`` lists the topics the article is on (empty: on none); ``hard_negative`` marks an article that uses
a topic's words in another sense (a trade "truce", "shelling out $40"), whose flag rate is reported apart
because it is what analysts notice first. Other keys (source, url, notes) are kept for people, not read.

Macro-F1 and the hard-negative rate come with 95 % bootstrap intervals. On a few hundred labelled articles
one or two of them move macro-F1 by 0.01, and every tuning decision invites reading such a move as
progress; the interval says how far the number would wander on another sample of the same kind.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class LabelledItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    labels: frozenset[str] = frozenset()
    hard_negative: bool = False


class LabelledDataError(Exception):
    """The labelled file is unreadable or a line is invalid; the message names the file and line."""


def load_labelled(path: Path, *, topics: Iterable[str] | None = None) -> list[LabelledItem]:
    """Every item of a JSONL file; with ``topics``, a label that names no topic is an error, not a zero."""
    known = frozenset(topics) if topics is not None else None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LabelledDataError(f"{path}: cannot read: {exc.strerror}") from None
    items: list[LabelledItem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = LabelledItem.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise LabelledDataError(f"{path}:{number}: {exc}") from None
        if item.id in seen:
            raise LabelledDataError(f"{path}:{number}: duplicate id {item.id!r}")
        if known is not None and not item.labels <= known:
            unknown = ", ".join(sorted(item.labels - known))
            raise LabelledDataError(f"{path}:{number}: unknown topic(s): {unknown}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise LabelledDataError(f"{path}: no labelled items")
    return items


@dataclass(frozen=True)
class TopicMetrics:
    topic: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        relevant = self.true_positives + self.false_negatives
        return self.true_positives / relevant if relevant else 0.0

    @property
    def f1(self) -> float:
        return f1_score(self.true_positives, self.false_positives, self.false_negatives)


Interval = tuple[float, float]
Flags = npt.NDArray[np.bool_]
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
"""Fixed, so that evaluating the same predictions twice prints the same intervals."""


@dataclass(frozen=True)
class Report:
    topics: tuple[TopicMetrics, ...]
    documents: int
    hard_negatives: int
    hard_negatives_flagged: int
    errors: tuple[tuple[str, str, str], ...]
    """(item id, topic, "missed" or "false alarm") for every wrong decision."""
    macro_f1_interval: Interval
    hard_negative_rate_interval: Interval
    """95 % bootstrap percentile intervals over articles (see :func:`bootstrap_intervals`)."""

    @property
    def macro_f1(self) -> float:
        return sum(t.f1 for t in self.topics) / len(self.topics) if self.topics else 0.0

    @property
    def hard_negative_rate(self) -> float:
        return self.hard_negatives_flagged / self.hard_negatives if self.hard_negatives else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "macro_f1": round(self.macro_f1, 4),
            "macro_f1_interval": [round(v, 4) for v in self.macro_f1_interval],
            "hard_negatives": self.hard_negatives,
            "hard_negatives_flagged": self.hard_negatives_flagged,
            "hard_negative_rate": round(self.hard_negative_rate, 4),
            "hard_negative_rate_interval": [round(v, 4) for v in self.hard_negative_rate_interval],
            "topics": {
                t.topic: {
                    "precision": round(t.precision, 4),
                    "recall": round(t.recall, 4),
                    "f1": round(t.f1, 4),
                    "true_positives": t.true_positives,
                    "false_positives": t.false_positives,
                    "false_negatives": t.false_negatives,
                }
                for t in self.topics
            },
            "errors": [{"id": i, "topic": t, "kind": k} for i, t, k in self.errors],
        }


def f1_score(true_positives: int, false_positives: int, false_negatives: int) -> float:
    denominator = 2 * true_positives + false_positives + false_negatives
    return 2 * true_positives / denominator if denominator else 0.0


def report(
    items: Sequence[LabelledItem], predicted: Sequence[frozenset[str]], topics: Sequence[str]
) -> Report:
    """Score predictions (the topics flagged for each item, in item order) against the labels."""
    if len(items) != len(predicted):
        raise ValueError("one prediction per item")
    truth = _flags([item.labels for item in items], topics)
    guess = _flags(predicted, topics)
    hard = np.array([item.hard_negative for item in items], dtype=bool)
    tp, fp, fn = _counts(truth, guess)
    errors = [
        (item.id, topic, "missed" if truth[i, j] else "false alarm")
        for j, topic in enumerate(topics)
        for i, item in enumerate(items)
        if truth[i, j] != guess[i, j]
    ]
    macro_interval, hard_interval = bootstrap_intervals(truth, guess, hard)
    return Report(
        topics=tuple(
            TopicMetrics(topic, int(tp[j]), int(fp[j]), int(fn[j])) for j, topic in enumerate(topics)
        ),
        documents=len(items),
        hard_negatives=int(hard.sum()),
        hard_negatives_flagged=int(guess[hard].any(axis=1).sum()),
        errors=tuple(sorted(errors)),
        macro_f1_interval=macro_interval,
        hard_negative_rate_interval=hard_interval,
    )


def _flags(sets: Sequence[frozenset[str]], topics: Sequence[str]) -> Flags:
    """(items, topics) matrix: whether each item's set holds each topic."""
    return np.array([[t in s for t in topics] for s in sets], dtype=bool).reshape(len(sets), len(topics))


def _counts(truth: Flags, guess: Flags) -> tuple[npt.NDArray[np.int64], ...]:
    """True positives, false positives and false negatives per topic (the last axis)."""
    return tuple(
        np.asarray(m.sum(axis=-2), dtype=np.int64) for m in (truth & guess, guess & ~truth, truth & ~guess)
    )


def bootstrap_intervals(
    truth: Flags, guess: Flags, hard: Flags, *, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[Interval, Interval]:
    """95 % percentile intervals of macro-F1 and of the hard-negative flag rate, resampling articles.

    ``truth`` and ``guess`` are (articles, topics), ``hard`` is (articles,). Resamples without a hard
    negative say nothing about the rate and are left out of its interval.
    """
    if truth.size == 0:
        return (0.0, 0.0), (0.0, 0.0)
    rows = np.random.default_rng(BOOTSTRAP_SEED).integers(0, len(truth), size=(resamples, len(truth)))
    drawn, hard_drawn = guess[rows], hard[rows]
    tp, fp, fn = _counts(truth[rows], drawn)
    denominator = 2 * tp + fp + fn
    macro = np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0).mean(axis=1)
    hard_counts = hard_drawn.sum(axis=1)
    flagged = (drawn.any(axis=2) & hard_drawn).sum(axis=1)
    rates = flagged[hard_counts > 0] / hard_counts[hard_counts > 0]

    def interval(values: npt.NDArray[np.float64]) -> Interval:
        if not len(values):
            return 0.0, 0.0
        low, high = np.percentile(values, [2.5, 97.5])
        return float(low), float(high)

    return interval(macro), interval(rates)


def best_threshold(
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    hard_negatives: npt.ArrayLike | None = None,
    max_hard_negatives: float = float("inf"),
) -> tuple[float, float]:
    """The document-score threshold with the best F1, and that F1.

    Candidates are midpoints between consecutive distinct scores; among equally good ones the widest gap
    wins, so the threshold sits as far as the data allows from the scores it separates. With
    ``hard_negatives`` (one flag per document), only thresholds that flag at most ``max_hard_negatives``
    of them compete: F1 is often flat over a wide range of thresholds while the hard negatives flagged
    fall by half across it, and those are the false alarms analysts notice. When no threshold keeps
    within the budget (hard negatives scoring 1.0), the budget is dropped rather than the topic.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    hard = np.zeros_like(y) if hard_negatives is None else np.asarray(hard_negatives, dtype=bool)
    if not y.any():
        raise ValueError("calibration needs at least one positive document")
    if hard.shape != y.shape or s.shape != y.shape:
        raise ValueError("scores, labels and hard-negative flags must have one entry per document")
    distinct = np.unique(np.concatenate([s, [0.0, 1.0]]))
    cuts = (distinct[:-1] + distinct[1:]) / 2.0
    gaps = distinct[1:] - distinct[:-1]
    best: tuple[float, float, float] = (-1.0, -1.0, 0.5)
    for cut, gap in zip(cuts, gaps, strict=True):
        flagged = s >= cut
        if int((flagged & hard).sum()) > max_hard_negatives:
            continue
        f1 = f1_score(int((flagged & y).sum()), int((flagged & ~y).sum()), int((~flagged & y).sum()))
        if (f1, gap) > best[:2]:
            best = (f1, float(gap), float(cut))
    if best[0] < 0:
        return best_threshold(s, y)
    return round(best[2], 4), best[0]
