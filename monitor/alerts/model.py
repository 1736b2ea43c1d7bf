"""The alert: the one shape every sink renders and every webhook receiver parses.

The JSON form of :class:`Alert` is a public contract (``docs/alert.schema.json``). Add optional fields
freely; renaming or removing one, or changing a meaning, bumps ``SCHEMA_VERSION``'s major number.
"""

import hashlib
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from monitor.severity import Level

SCHEMA_VERSION = "1.0"


class _Frozen(BaseModel):
    # no extra="forbid": receivers must be able to validate against an older schema after we add fields
    model_config = ConfigDict(frozen=True)


class AlertRule(_Frozen):
    id: str
    title: str
    level: Level
    tags: tuple[str, ...] = ()
    topic: str | None = Field(default=None, description="the classifier topic the rule asks for, if any")


class TopicScore(_Frozen):
    score: float = Field(ge=0.0, le=1.0, description="document-level score of the topic")
    match: bool = Field(description="the score passed the topic's calibrated threshold")


class Highlight(_Frozen):
    """A matched term inside an evidence snippet; offsets are relative to the snippet text."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    term: str = Field(description="the query term (or topic cue) that matched here")


class Evidence(_Frozen):
    """A sentence that made the rule fire, with where it sits in the article text."""

    text: str
    start: int = Field(ge=0, description="character offset of the sentence in article.text")
    end: int = Field(ge=0)
    highlights: tuple[Highlight, ...] = ()
    origin: Literal["query", "classifier"] = "query"
    score: float | None = Field(default=None, description="classifier score of the sentence")


class AlertArticle(_Frozen):
    id: str = Field(description="sha256 of the article text")
    path: str = Field(description="path of the file in the inbox when it was read")
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: date | None = None
    received_at: datetime


class AlertStory(_Frozen):
    """Near-duplicate articles (syndicated copies, re-edits) form one story; realert is per story."""

    id: str
    article_count: int = Field(ge=1)
    sources: tuple[str, ...] = ()
    first_seen: datetime


class Alert(_Frozen):
    schema_version: str = SCHEMA_VERSION
    id: str = Field(description="idempotency key: sha256(rule id, story id, revision)")
    kind: Literal["alert", "test"] = Field(
        default="alert", description="'test' for `newsmon destinations test` messages"
    )
    created_at: datetime
    revision: int = Field(default=1, ge=1, description="counts re-alerts of a rule on one story")
    rule: AlertRule
    topics: dict[str, TopicScore] = Field(default_factory=dict)
    article: AlertArticle
    evidence: tuple[Evidence, ...] = ()
    story: AlertStory


def alert_id(rule_id: str, story_id: str, revision: int) -> str:
    """Stable across retries and restarts, so receivers can drop resends of the same alert."""
    digest = hashlib.sha256(f"{rule_id}\x00{story_id}\x00{revision}".encode())
    return digest.hexdigest()[:32]


def alert_json_schema() -> dict[str, object]:
    """The published JSON Schema (``docs/alert.schema.json``); a test keeps the file in step."""
    schema = Alert.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://news-monitor.invalid/schema/alert/{SCHEMA_VERSION}"
    return schema


if __name__ == "__main__":
    import json
    import sys

    sys.stdout.write(json.dumps(alert_json_schema(), indent=2) + "\n")
