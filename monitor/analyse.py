"""Analysis: which rules fire on an article, combining keyword queries with classifier topics.

Pure: takes the compiled rule set and the classifier's topic results, returns matches. Rules and
topics are swapped together on reload as one :class:`Analyser`, so no article ever meets a rule set
that is half old and half new.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.alerts.model import Evidence
from monitor.ingest.article import Article
from monitor.rules import RuleSet
from monitor.rules.model import Rule

TOPIC_EVIDENCE = 2  # classifier sentences quoted per matched topic


class TopicResultLike(Protocol):
    @property
    def score(self) -> float: ...
    @property
    def match(self) -> bool: ...
    @property
    def threshold(self) -> float: ...
    @property
    def evidence(self) -> tuple[Evidence, ...]: ...
    @property
    def out_of_context(self) -> bool: ...
    @property
    def vetoed_by(self) -> tuple[str, ...]: ...


class TopicScorer(Protocol):
    def classify(self, text: str, *, title: str | None = None) -> Mapping[str, TopicResultLike]: ...


@dataclass(frozen=True)
class Match:
    rule: Rule
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Analysis:
    topics: Mapping[str, TopicResultLike]
    matches: Sequence[Match]


def topic_passes(rule: Rule, topics: Mapping[str, TopicResultLike]) -> bool:
    """A rule's topic condition: its own ``min_score`` if set, else the topic's calibrated threshold."""
    if rule.topic is None:
        return True
    result = topics.get(rule.topic)
    if result is None:
        return False
    return result.score >= rule.min_score if rule.min_score is not None else result.match


def topic_stands_in(rule: Rule, topics: Mapping[str, TopicResultLike]) -> bool:
    """The topic score reaches ``fire_on_topic``: sure enough to fire without the query's words."""
    if rule.fire_on_topic is None or rule.topic is None:
        return False
    result = topics.get(rule.topic)
    return result is not None and result.score >= rule.fire_on_topic


def fires(rule: Rule, query_matched: bool, topics: Mapping[str, TopicResultLike]) -> bool:
    """Whether a rule fires, given whether its query matched: the one definition the analysis and
    ``check --explain`` share. A query and a topic must both hold, unless the topic alone is sure."""
    if not rule.enabled:
        return False
    query_holds = rule.query is None or query_matched or topic_stands_in(rule, topics)
    return query_holds and topic_passes(rule, topics)


def evaluate(ruleset: RuleSet, article: Article, topics: Mapping[str, TopicResultLike]) -> list[Match]:
    """Rules that fire, with their evidence: the query's sentences first, then the classifier's."""
    query_evidence = {hit.rule.id: hit.evidence for hit in ruleset.match(article)}
    matches = []
    for rule in ruleset.rules:
        if not fires(rule, rule.id in query_evidence, topics):
            continue
        evidence = query_evidence.get(rule.id, ())
        if rule.topic is not None:
            evidence = _merge(evidence, topics[rule.topic].evidence[:TOPIC_EVIDENCE])
        matches.append(Match(rule=rule, evidence=evidence))
    return matches


def _merge(query: tuple[Evidence, ...], classifier: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    """Query evidence first; a classifier sentence only if it quotes something not quoted yet.

    The classifier scores clauses, so its evidence is often a piece of a sentence the query already
    quotes, and a title repeated as the first line reads the same twice: neither adds anything.
    """
    merged = list(query)
    for extra in classifier:
        if any(_covers(quoted, extra) for quoted in merged):
            continue
        merged.append(extra)
    return tuple(merged)


def _covers(quoted: Evidence, extra: Evidence) -> bool:
    inside = quoted.end > quoted.start and quoted.start <= extra.start and extra.end <= quoted.end
    return inside or extra.text.strip() in quoted.text


@dataclass(frozen=True)
class Analyser:
    """The active rule set and classifier, replaced as a whole on reload."""

    ruleset: RuleSet
    scorer: TopicScorer

    def analyse(self, article: Article) -> Analysis:
        topics = self.scorer.classify(article.text, title=article.title)
        return Analysis(topics=topics, matches=evaluate(self.ruleset, article, topics))
