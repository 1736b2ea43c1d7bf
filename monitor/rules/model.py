"""The rule schema: what one entry of a rule file may say (its JSON Schema is ``newsmon rules schema``)."""

import re
from datetime import timedelta
from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from monitor.severity import Level

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_PATTERN = r"^\s*\d+\s*[smhdw]\s*$"


def parse_duration(value: object) -> object:
    """``"30m"``, ``"6h"``, ``"2d"`` (also ``s`` and ``w``) to a timedelta; other types pass to pydantic."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a duration: write a number and a unit, like 30m, 6h or 2d")
        return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["30m", "6h", "2d"]}),
]


class RuleTests(BaseModel):
    """Sentences the rule must match and must not match; ``newsmon rules test`` runs them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: tuple[str, ...] = ()
    no_match: tuple[str, ...] = ()


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        max_length=100,
        description="unique across all rule files; lower case, digits, '-', '_', '.'",
    )
    title: str = Field(min_length=1, description="one line shown at the top of every alert")
    description: str = ""
    level: Level
    status: Literal["experimental", "test", "stable", "deprecated"] = "experimental"
    tags: tuple[str, ...] = ()
    topic: str | None = Field(default=None, description="a topic name from topics.yaml")
    min_score: float | None = Field(
        default=None, ge=0.0, le=1.0, description="topic score needed; default: the topic's threshold"
    )
    query: str | None = Field(default=None, min_length=1, description="see docs/rules.md")
    fire_on_topic: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="topic score at which the rule fires even when its query does not match "
        "(reporters' paraphrases); below it, topic and query must both hold",
    )
    notify: tuple[str, ...] = Field(
        default=(), description="destination names from the admin config; empty: the default route"
    )
    realert: Duration | None = Field(
        default=None, description="at most one alert per story in this period (30m, 6h, 2d)"
    )
    enabled: bool = True
    tests: RuleTests = RuleTests()

    @model_validator(mode="after")
    def _needs_a_condition(self) -> Self:
        if self.topic is None and self.query is None:
            raise ValueError("a rule needs a query, a topic, or both")
        if self.min_score is not None and self.topic is None:
            raise ValueError("min_score applies to a topic: add topic, or remove min_score")
        if self.fire_on_topic is not None and (self.topic is None or self.query is None):
            raise ValueError(
                "fire_on_topic lets a topic stand in for the query: it needs both topic and query"
            )
        if (
            self.fire_on_topic is not None
            and self.min_score is not None
            and self.fire_on_topic < self.min_score
        ):
            raise ValueError("fire_on_topic below min_score would never apply: raise it above min_score")
        return self
