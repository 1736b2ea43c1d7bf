"""The topic classifier: clause-level similarity to each topic's examples, gated and vetoed by its terms.

For every topic, each unit (sentence or clause window, see :mod:`monitor.classify.units`) that contains
one of the topic's cue terms and none of its veto terms is scored; the document's score is its best unit's
score, and the units above the threshold are the evidence. A unit is scored by

- prototypes (always available): cosine similarity to the nearest example, lowered by how much nearer
  the unit is to a counter-example (``p - max(0, n - p)``); or
- the trained head when ``topics.head.json`` has one for the topic as it is now defined: a logistic
  regression on the unit's embedding and those two similarities.

Units that contain no cue of any topic are never embedded: most sentences of most articles are off every
topic, and skipping them is what makes the classifier fast enough for a news stream. A topic that lists
``context`` terms counts no unit in an article that has none of them (a truce with no war around it), and
one that lists ``lead_vetoes`` counts none in an article whose lead has one of them: news states its
event first, and a story that opens on a rescue raid is not about a release by a party, however much of
its body talks of hostages and deals.
"""

import time
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import structlog
from pydantic import BaseModel, ConfigDict, Field

from monitor.alerts.model import Evidence, Highlight
from monitor.classify.embedder import MODEL_ID, Embedder, Vectors
from monitor.classify.head import HEAD_FILE, HeadFile, TopicHead, fingerprint, load_head, sigmoid
from monitor.classify.lexicon import Lexicon
from monitor.classify.topics import TOPICS_FILE, Topic, TopicSet, load_topics
from monitor.classify.units import Unit, units
from monitor.observability.metrics import CLASSIFIER_SECONDS

log = structlog.get_logger(__name__)

DEFAULT_THRESHOLD = 0.6
"""Used for a topic that has neither a calibrated ``threshold`` in topics.yaml nor a trained head."""
LEAD_SENTENCES = 2
"""The lead that ``lead_vetoes`` look at: a headline line and the first sentence, or two sentences."""
MAX_EVIDENCE = 3

Scores = npt.NDArray[np.float64]


class TopicResult(BaseModel):
    """The classifier's verdict on one topic for one article."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: float = Field(ge=0.0, le=1.0, description="best score of a unit that may carry the topic")
    match: bool = Field(description="score reached the calibrated threshold (vetoed units never count)")
    threshold: float = Field(ge=0.0, le=1.0)
    evidence: tuple[Evidence, ...] = Field(default=(), description="best units, highest score first")
    vetoed_by: tuple[str, ...] = Field(
        default=(),
        description="veto terms that stopped units which would otherwise have matched, and lead vetoes "
        "that stopped the whole article",
    )
    out_of_context: bool = Field(
        default=False, description="the topic asks for context terms and the article has none: nothing counts"
    )
    scorer: str = Field(description="'head' (trained) or 'prototypes' (zero-shot)")


@dataclass(frozen=True)
class TopicModel:
    """One topic ready to score: compiled terms, example vectors and, if trained, its head."""

    topic: Topic
    cues: Lexicon
    vetoes: Lexicon
    context: Lexicon
    lead_vetoes: Lexicon
    positives: Vectors
    negatives: Vectors
    head: TopicHead | None

    @property
    def threshold(self) -> float:
        if self.head is not None:
            return self.head.threshold
        return self.topic.threshold if self.topic.threshold is not None else DEFAULT_THRESHOLD


@dataclass(frozen=True)
class TopicUnits:
    """Per-unit arrays of one document for one topic (units that are not gated in carry zeros)."""

    gated: npt.NDArray[np.bool_]
    vetoed: tuple[tuple[str, ...], ...]
    similarity: Scores
    """(units, 2): nearest example and nearest counter-example cosine."""
    scores: Scores
    in_context: bool
    """The article has one of the topic's context terms outside a veto (or the topic asks for none)."""
    lead_vetoed: tuple[str, ...] = ()
    """The topic's lead vetoes found in the article's lead."""

    @property
    def unvetoed(self) -> npt.NDArray[np.bool_]:
        """Units that may carry the topic as far as they go: in context, gated in by a cue, not vetoed."""
        not_vetoed = np.array([not v for v in self.vetoed], dtype=bool)
        return np.asarray(self.gated & not_vetoed & self.in_context, dtype=bool)

    @property
    def allowed(self) -> npt.NDArray[np.bool_]:
        """Units that may carry the topic: unvetoed, in an article whose lead no lead veto stops."""
        return self.unvetoed & (not self.lead_vetoed)


@dataclass(frozen=True)
class Analysis:
    """Everything the classifier computed about one document; training reuses it."""

    units: tuple[Unit, ...]
    in_text: npt.NDArray[np.bool_]
    vectors: Vectors
    topics: dict[str, TopicUnits]


def prototype_similarity(vectors: Vectors, positives: Vectors, negatives: Vectors) -> Scores:
    """Nearest-example and nearest-counter-example cosine of each (unit-length) vector."""
    pos = (vectors @ positives.T).max(axis=1) if len(positives) else np.zeros(len(vectors))
    neg = (vectors @ negatives.T).max(axis=1) if len(negatives) else np.zeros(len(vectors))
    return np.stack([pos, neg], axis=1).astype(np.float64)


def zero_shot_scores(similarity: Scores) -> Scores:
    pos, neg = similarity[:, 0], similarity[:, 1]
    return np.clip(pos - np.maximum(0.0, neg - pos), 0.0, 1.0)


def head_features(vectors: Vectors, similarity: Scores) -> Scores:
    return np.hstack([vectors.astype(np.float64), similarity])


def head_scores(head: TopicHead, features: Scores) -> Scores:
    return sigmoid(features @ np.asarray(head.weights) + head.bias)


class Classifier:
    """Scores articles against every topic of a topics file. Immutable once built, so thread-safe."""

    def __init__(self, topics: TopicSet, embedder: Embedder, head: HeadFile | None = None) -> None:
        self.topics = topics
        self.embedder = embedder
        heads = head.topics if head is not None and head.model == MODEL_ID else {}
        models: list[TopicModel] = []
        for topic in topics.topics:
            trained = heads.get(topic.name) if topic.trained_head else None
            if trained is not None and trained.fingerprint != fingerprint(topic):
                log.warning("classifier_head_stale", topic=topic.name)
                trained = None
            models.append(
                TopicModel(
                    topic=topic,
                    cues=Lexicon(topic.cues),
                    vetoes=Lexicon(topic.vetoes),
                    context=Lexicon(topic.context),
                    lead_vetoes=Lexicon(topic.lead_vetoes),
                    positives=embedder.embed(topic.examples),
                    negatives=embedder.embed(topic.counter_examples),
                    head=trained,
                )
            )
        self.models: tuple[TopicModel, ...] = tuple(models)

    @classmethod
    def load(cls, rules_dir: Path, *, threads: int = 2) -> "Classifier":
        """Read ``topics.yaml`` (and ``topics.head.json`` if present) from ``rules_dir``."""
        started = time.perf_counter()
        topics = load_topics(rules_dir / TOPICS_FILE)
        head = load_head(rules_dir / HEAD_FILE)
        classifier = cls(topics, Embedder(threads=threads), head)
        log.info(
            "classifier_loaded",
            topics=sorted(topics.names),
            trained=sorted(m.topic.name for m in classifier.models if m.head is not None),
            seconds=round(time.perf_counter() - started, 3),
        )
        return classifier

    def analyse(self, text: str, *, title: str | None = None) -> Analysis:
        """Units, their vectors and per-topic unit scores (pure given the loaded model)."""
        heading = (title or "").strip()
        # (text, its units, whether they are in ``text``): a title that is not the text's first line is
        # scored too, in front; evidence only ever comes from the text.
        text_units = units(text)
        sources = [(text, text_units, True)]
        title_apart = bool(heading) and heading not in text[: len(heading) + 200]
        if title_apart:
            sources.insert(0, (heading, [u._replace(sentence=-1) for u in units(heading)], False))
        found = [unit for _, cut, _ in sources for unit in cut]
        in_text = [inside for _, cut, inside in sources for _ in cut]
        in_context = [
            not m.context or any(_has_context(m, source) for source, _, _ in sources) for m in self.models
        ]
        # A topic out of context gates nothing, so its units cost no embedding.
        gates = [
            np.array(
                [g for source, cut, _ in sources for g in _gate(m.cues, source, cut)]
                if ok
                else [False] * len(found),
                dtype=bool,
            )
            for m, ok in zip(self.models, in_context, strict=True)
        ]
        lead = _lead(text, text_units, heading if title_apart else "")
        any_gate = np.logical_or.reduce(gates) if gates else np.zeros(len(found), dtype=bool)
        embed_rows = np.flatnonzero(any_gate)
        vectors = np.zeros((len(found), self.embedder_dimensions), dtype=np.float32)
        if len(embed_rows):
            vectors[embed_rows] = self.embedder.embed([found[i].text for i in embed_rows])
        per_topic: dict[str, TopicUnits] = {}
        for model, gated, topic_in_context in zip(self.models, gates, in_context, strict=True):
            vetoed = tuple(
                tuple(sorted({h.term for h in model.vetoes.find(u.text)})) if g else ()
                for u, g in zip(found, gated, strict=True)
            )
            similarity = np.zeros((len(found), 2))
            scores = np.zeros(len(found))
            rows = np.flatnonzero(gated)
            if len(rows):
                similarity[rows] = prototype_similarity(vectors[rows], model.positives, model.negatives)
                if model.head is not None:
                    scores[rows] = head_scores(model.head, head_features(vectors[rows], similarity[rows]))
                else:
                    scores[rows] = zero_shot_scores(similarity[rows])
            lead_vetoed = tuple(sorted({h.term for h in model.lead_vetoes.find(lead)}))
            per_topic[model.topic.name] = TopicUnits(
                gated, vetoed, similarity, scores, topic_in_context, lead_vetoed
            )
        return Analysis(tuple(found), np.array(in_text, dtype=bool), vectors, per_topic)

    @property
    def embedder_dimensions(self) -> int:
        return int(self.models[0].positives.shape[1]) if self.models else 0

    def classify(self, text: str, *, title: str | None = None) -> dict[str, "TopicResult"]:
        """A result for every topic; evidence offsets point into ``text``."""
        started = time.perf_counter()
        analysis = self.analyse(text, title=title)
        results = {model.topic.name: _result(model, analysis) for model in self.models}
        CLASSIFIER_SECONDS.observe(time.perf_counter() - started)
        return results


def _gate(cues: Lexicon, source: str, found: Sequence[Unit]) -> list[bool]:
    """Which units hold a cue, as searching each unit's own text would say (all, if the topic has none).

    One scan of the whole source instead of one per unit: units overlap (sentences and their clause
    windows), and on a news feed the scan, not the model, would otherwise dominate off-topic articles. A
    hit lying wholly inside a unit gates it; only a unit that a hit crosses into or out of (a phrase cut
    by a clause break, a unit cut at its length limit) is searched on its own, as the scan of the whole
    text may have found a different term there.
    """
    if not cues:
        return [True] * len(found)
    hits = cues.find(source)
    starts = [hit.start for hit in hits]
    gated = []
    for unit in found:
        first = bisect_left(starts, unit.start)
        if first < len(hits) and hits[first].end <= unit.end:
            gated.append(True)
        elif (first > 0 and hits[first - 1].end > unit.start) or (
            first < len(hits) and hits[first].start < unit.end
        ):
            gated.append(bool(cues.find(unit.text)))
        else:
            gated.append(False)
    return gated


def _lead(text: str, cut: Sequence[Unit], title: str) -> str:
    """A title given apart and the text up to the end of its ``LEAD_SENTENCES``-th sentence."""
    end = max((u.end for u in cut if u.sentence < LEAD_SENTENCES), default=0)
    return f"{title}\n{text[:end]}" if title else text[:end]


def _has_context(model: TopicModel, source: str) -> bool:
    """A context term that is not part of a veto: the "war" of "trade war" is no armed conflict."""
    context = model.context.find(source)
    if not context:
        return False
    vetoed = [(hit.start, hit.end) for hit in model.vetoes.find(source)]
    return any(not any(start < hit.end and hit.start < end for start, end in vetoed) for hit in context)


def _result(model: TopicModel, analysis: Analysis) -> TopicResult:
    topic = analysis.topics[model.topic.name]
    threshold = model.threshold
    scores = np.where(topic.allowed, topic.scores, 0.0)
    best = float(scores.max()) if len(scores) else 0.0
    vetoed_by = {
        term for v, s in zip(topic.vetoed, topic.scores, strict=True) if v and s >= threshold for term in v
    }
    if topic.lead_vetoed and bool((topic.scores[topic.unvetoed] >= threshold).any()):
        vetoed_by.update(topic.lead_vetoed)
    evidence: list[Evidence] = []
    taken: list[tuple[int, int]] = []
    for i in np.argsort(-scores, kind="stable"):
        score = float(scores[i])
        if score <= 0.0 or len(evidence) >= MAX_EVIDENCE or (evidence and score < threshold):
            break
        unit = analysis.units[i]
        if not analysis.in_text[i] or any(unit.start < end and start < unit.end for start, end in taken):
            continue
        taken.append((unit.start, unit.end))
        highlights = tuple(
            Highlight(start=h.start, end=h.end, term=h.term) for h in model.cues.find(unit.text)
        )
        evidence.append(
            Evidence(
                text=unit.text,
                start=unit.start,
                end=unit.end,
                highlights=highlights,
                origin="classifier",
                score=round(score, 4),
            )
        )
    return TopicResult(
        score=round(min(max(best, 0.0), 1.0), 4),
        match=best >= threshold,
        threshold=round(threshold, 4),
        evidence=tuple(evidence),
        vetoed_by=tuple(sorted(vetoed_by)),
        out_of_context=not topic.in_context,
        scorer="head" if model.head is not None else "prototypes",
    )
