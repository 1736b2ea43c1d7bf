"""Labelled data and the numbers it gives: per-topic precision, recall and F1, and hard-negative flag rate.

The same report serves the classifier alone and the bundled rules, so the two can be compared on one
file. A labelled file is JSON Lines, one article per line::

    {"id": "p001", "text": "...", "labels": ["ceasefire"], "hard_negative": false, "source": "..."}

``labels`` lists the topics the article is on (empty: on none); ``hard_negative`` marks an article that uses
a topic's words in another sense (a trade "truce", "shelling out $40"), whose flag rate is reported apart
because it is what analysts notice first. Other keys (source, url, notes) are kept for people, not read.
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


@dataclass(frozen=True)
class Report:
    topics: tuple[TopicMetrics, ...]
    documents: int
    hard_negatives: int
    hard_negatives_flagged: int
    errors: tuple[tuple[str, str, str], ...]
    """(item id, topic, "missed" or "false alarm") for every wrong decision."""

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
            "hard_negatives": self.hard_negatives,
            "hard_negatives_flagged": self.hard_negatives_flagged,
            "hard_negative_rate": round(self.hard_negative_rate, 4),
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
    metrics = []
    errors: list[tuple[str, str, str]] = []
    for topic in topics:
        tp = fp = fn = 0
        for item, flagged in zip(items, predicted, strict=True):
            truth, guess = topic in item.labels, topic in flagged
            tp += truth and guess
            fp += guess and not truth
            fn += truth and not guess
            if truth != guess:
                errors.append((item.id, topic, "missed" if truth else "false alarm"))
        metrics.append(TopicMetrics(topic, tp, fp, fn))
    hard = [flagged for item, flagged in zip(items, predicted, strict=True) if item.hard_negative]
    return Report(
        topics=tuple(metrics),
        documents=len(items),
        hard_negatives=len(hard),
        hard_negatives_flagged=sum(1 for flagged in hard if flagged & frozenset(topics)),
        errors=tuple(sorted(errors)),
    )


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
