"""When a rule fires: query and topic together, or the topic alone once it reaches ``fire_on_topic``."""

from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from monitor.alerts.model import Evidence
from monitor.analyse import fires
from monitor.rules.model import Rule
from monitor.severity import Level


@dataclass(frozen=True)
class Score:
    score: float
    threshold: float = 0.6
    evidence: tuple[Evidence, ...] = ()

    @property
    def match(self) -> bool:
        return self.score >= self.threshold


def rule(**fields: object) -> Rule:
    return Rule.model_validate({"id": "r", "title": "R", "level": Level.high, **fields})


@pytest.mark.parametrize(
    ("score", "query_matched", "expected"),
    [
        (0.5, True, True),  # query matched, topic over min_score
        (0.2, True, False),  # query matched, topic too weak: a figurative use
        (0.5, False, False),  # topic alone, below fire_on_topic
        (0.9, False, True),  # topic alone, sure enough: a paraphrase without the query's words
    ],
)
def test_topic_stands_in_for_the_query_only_when_sure(
    score: float, query_matched: bool, expected: bool
) -> None:
    r = rule(topic="ceasefire", min_score=0.3, fire_on_topic=0.85, query="ceasefire")
    assert fires(r, query_matched, {"ceasefire": Score(score)}) is expected


def test_without_fire_on_topic_the_query_is_required() -> None:
    r = rule(topic="ceasefire", query="ceasefire")
    assert not fires(r, False, {"ceasefire": Score(0.99)})
    assert fires(r, True, {"ceasefire": Score(0.61)})  # no min_score: the topic's calibrated threshold
    assert not fires(r, True, {"ceasefire": Score(0.59)})


def test_disabled_rules_never_fire() -> None:
    assert not fires(rule(query="ceasefire", enabled=False), True, {})


@pytest.mark.parametrize(
    "fields",
    [
        {"query": "ceasefire", "fire_on_topic": 0.8},  # no topic
        {"topic": "ceasefire", "fire_on_topic": 0.8},  # no query to stand in for
        {"topic": "ceasefire", "query": "truce", "min_score": 0.9, "fire_on_topic": 0.8},
    ],
)
def test_fire_on_topic_must_make_sense(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        rule(**fields)
