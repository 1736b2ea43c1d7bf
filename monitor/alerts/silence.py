"""Silences: mute alerts that match a few field=value matchers for a while, as Alertmanager does.

A silence is the tool for "we know, stop telling us" (a flood of reports on one story, a noisy outlet)
without editing a rule, which would also change what ``newsmon check`` and the rule tests say. Pure:
the store loads silences, the pipeline asks :func:`silencing` about each alert it built.
"""

import difflib
from collections.abc import Iterable
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Literal, Self, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.alerts.model import Alert
from monitor.severity import Level

MatcherField = Literal["rule", "tag", "topic", "level", "source", "story"]
FIELDS: tuple[MatcherField, ...] = get_args(MatcherField)
SilenceState = Literal["pending", "active", "expired"]
MATCHER_SYNTAX = f"write FIELD=VALUE with FIELD one of {', '.join(FIELDS)}"


class MatcherError(ValueError):
    """A matcher an analyst typed cannot be understood; the message says how to write it."""


class Matcher(BaseModel):
    """``field=value``; the value is a case-insensitive glob (``*``, ``?``, ``[...]``), except for
    ``level``, which names one level exactly, and ``story``, which also matches a prefix of the id."""

    model_config = ConfigDict(frozen=True)

    field: MatcherField
    value: str

    @field_validator("field", mode="before")
    @classmethod
    def _known_field(cls, value: object) -> object:
        if isinstance(value, str) and value not in FIELDS:
            close = difflib.get_close_matches(value, FIELDS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown field '{value}'{hint}: {MATCHER_SYNTAX}")
        return value

    @model_validator(mode="after")
    def _usable_value(self) -> Self:
        if not self.value.strip():
            raise ValueError(f"no value: {MATCHER_SYNTAX}")
        if self.field == "level" and self.value.casefold() not in Level.__members__:
            raise ValueError(f"'{self.value}' is not a level: use one of {', '.join(Level)}")
        return self

    def __str__(self) -> str:
        return f"{self.field}={self.value}"

    def matches(self, alert: Alert) -> bool:
        # A level value is a validated level name, never a glob, so the glob match is an exact one.
        pattern = self.value.casefold() + ("*" if self.field == "story" else "")
        return any(fnmatchcase(subject.casefold(), pattern) for subject in _subjects(self.field, alert))


def _subjects(field: MatcherField, alert: Alert) -> Iterable[str]:
    """The values of ``field`` in ``alert`` that a matcher may match (none when the alert lacks it)."""
    match field:
        case "rule":
            return (alert.rule.id,)
        case "tag":
            return alert.rule.tags
        case "topic":
            matched = [name for name, score in alert.topics.items() if score.match]
            return [*matched, alert.rule.topic] if alert.rule.topic else matched
        case "source":
            return (alert.article.source,) if alert.article.source else ()
        case "story":
            return (alert.story.id,)
        case "level":
            return (alert.rule.level.value,)


def parse_matcher(text: str) -> Matcher:
    """``rule=ceasefire``, ``source=Reuters*``, ``level=high``: what ``newsmon silence add`` takes."""
    field, sep, value = text.partition("=")
    if not sep:
        raise MatcherError(f"'{text}' is not a matcher: {MATCHER_SYNTAX}")
    try:
        return Matcher(field=field.strip().lower(), value=value.strip())
    except ValidationError as exc:
        reason = exc.errors()[0].get("ctx", {}).get("error", exc)
        raise MatcherError(f"'{text}': {reason}") from None


class Silence(BaseModel):
    """Alerts matching every matcher are neither stored nor sent while ``starts_at <= now < ends_at``."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="uuid4 hex")
    matchers: tuple[Matcher, ...] = Field(min_length=1, description="all must match (AND)")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    created_by: str
    comment: str
    created_at: AwareDatetime
    suppressed: int = Field(default=0, ge=0, description="alerts it has stopped so far")

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        # equal is allowed: expiring a silence that had not started yet ends it before it began
        if self.ends_at < self.starts_at:
            raise ValueError("a silence cannot end before it starts")
        return self

    def state(self, now: datetime) -> SilenceState:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def matches(self, alert: Alert) -> bool:
        return all(matcher.matches(alert) for matcher in self.matchers)

    def describe(self) -> str:
        """The matchers as typed, joined as they combine: ``rule=ceasefire AND source=reuters*``."""
        return " AND ".join(map(str, self.matchers))


def silencing(silences: Iterable[Silence], alert: Alert, now: datetime) -> Silence | None:
    """The first silence that is active at ``now`` and matches ``alert``, if any."""
    return next((s for s in silences if s.state(now) == "active" and s.matches(alert)), None)
