"""The one interface every integration implements, as in Alertmanager's ``notify`` package.

A sink renders a message purely (testable without a network) and ``send`` reports one attempt's
:data:`Outcome`. Whether and when to try again, rate limits and dead letters are the dispatcher's
business, decided once for all sinks from that outcome.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from monitor import __version__
from monitor.alerts.model import SCHEMA_VERSION, Alert

USER_AGENT = f"news-monitor/{__version__}"


@dataclass(frozen=True)
class Delivered:
    """The destination accepted the message."""


@dataclass(frozen=True)
class Retry:
    """A transient failure (connect error, timeout, 5xx, 429): the same message may succeed later.

    ``retry_after`` is the destination's own demand (seconds), which overrides our backoff.
    """

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Failed:
    """The destination refused the message for good (a 4xx other than 408/429, a bad URL)."""

    reason: str


Outcome = Delivered | Retry | Failed


class Notice(BaseModel):
    """A message to the operators (a dead letter, a failed rule reload), not an analyst's alert."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: str = SCHEMA_VERSION
    kind: Literal["operator"] = "operator"
    id: str
    event: str
    message: str
    created_at: datetime

    @classmethod
    def create(cls, event: str, message: str, created_at: datetime) -> "Notice":
        digest = hashlib.sha256(f"{event}\x00{message}\x00{created_at.isoformat()}".encode())
        return cls(id=digest.hexdigest()[:32], event=event, message=message, created_at=created_at)


Message = Alert | Notice


class Notifier(Protocol):
    """One destination's delivery: a single attempt, no retries, no sleeping."""

    async def send(self, message: Message) -> Outcome: ...
