"""Topic definitions (``rules/topics.yaml``): data that analysts edit, not code."""

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TOPICS_FILE = "topics.yaml"


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    examples: tuple[str, ...] = Field(min_length=1, description="sentences that are on the topic")
    counter_examples: tuple[str, ...] = Field(
        default=(), description="figurative and nearby senses that must not count"
    )
    cues: tuple[str, ...] = Field(
        default=(),
        description="word prefixes that make a sentence worth scoring for this topic (none: score every "
        "sentence); they are also highlighted in the evidence",
    )
    vetoes: tuple[str, ...] = Field(
        default=(),
        description="word prefixes that mark a figurative or nearby sense: a sentence containing one "
        "cannot carry the topic",
    )
    context: tuple[str, ...] = Field(
        default=(),
        description="the setting a real event has (for a ceasefire: the armed conflict): when set, an "
        "article that has none of these terms outside a veto cannot carry the topic, however its sentences "
        "score; this is what tells a truce between two armies from one between two companies",
    )
    lead_vetoes: tuple[str, ...] = Field(
        default=(),
        description="terms that, in an article's lead (its first two sentences, so a headline and the first "
        "sentence, and a title given apart), say it reports another kind of event: hostages rescued by a "
        "raid, not released by a party. Such an article cannot carry the topic, whichever sentence scores",
    )
    threshold: float | None = Field(default=None, ge=0, le=1, description="calibrated decision threshold")
    trained_head: bool = Field(
        default=True,
        description="let `newsmon topics train` fit a head for this topic; false keeps prototype scoring, "
        "for a topic whose head wins on the labelled data but loses where it counts (the rules' F1 in "
        "`newsmon topics eval --with-rules`, or paraphrases the examples cover and the data does not)",
    )

    @field_validator("cues", "vetoes", "context", "lead_vetoes")
    @classmethod
    def _no_blank_terms(cls, terms: tuple[str, ...]) -> tuple[str, ...]:
        if any(not term.strip() for term in terms):
            raise ValueError("terms must not be blank")
        for term in terms:
            if not term.strip()[0].isalnum():
                raise ValueError(
                    f"term {term.strip()!r} must start with a letter or digit: terms match at word starts"
                )
        return terms


class TopicSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: tuple[Topic, ...]

    @field_validator("topics")
    @classmethod
    def _unique(cls, topics: tuple[Topic, ...]) -> tuple[Topic, ...]:
        names = [t.name for t in topics]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate topic names: {', '.join(duplicates)}")
        return topics

    @property
    def names(self) -> frozenset[str]:
        return frozenset(t.name for t in self.topics)


class TopicsError(Exception):
    """topics.yaml is unreadable or invalid; the message names the file."""


def load_topics(path: Path) -> TopicSet:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return TopicSet.model_validate(raw)
    except OSError as exc:
        raise TopicsError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TopicsError(f"{path}: invalid YAML: {exc}") from None
    except ValidationError as exc:
        raise TopicsError(f"{path}: {exc}") from None
