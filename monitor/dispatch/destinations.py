"""Destination settings from the admin config. URLs and secrets never come from rule files.

A URL or secret may be given inline, by environment variable (``*_env``) or by file (``*_file``,
relative paths resolved against ``$CREDENTIALS_DIRECTORY`` for systemd ``LoadCredential=``).
Whatever the source, the value is only ever shown masked (:meth:`Destination.describe_url`).
"""

import os
from enum import StrEnum
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from monitor.severity import Level


class DestinationType(StrEnum):
    slack = "slack"
    webhook = "webhook"
    teams = "teams"
    discord = "discord"
    jsonl = "jsonl"
    console = "console"


HTTP_TYPES = frozenset(
    {DestinationType.slack, DestinationType.webhook, DestinationType.teams, DestinationType.discord}
)

# Requests per second when the config names none. Slack's incoming webhooks allow about one message a
# second with short bursts and may disable an app that keeps going after a 429; Discord allows 30 a
# minute per webhook. Receivers we do not know get no limit: they answer 429 if they need one.
_DEFAULT_RATE = {DestinationType.slack: 1.0, DestinationType.discord: 0.5}


class SecretSourceError(ValueError):
    """A URL or secret could not be read from where the config says it is (never shows the value)."""


class Destination(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: DestinationType
    url: SecretStr | None = None
    url_env: str | None = None
    url_file: Path | None = None
    secret: SecretStr | None = None
    secret_env: str | None = None
    secret_file: Path | None = None
    path: Path | None = Field(default=None, description="jsonl: file to append to (state dir relative)")
    min_level: Level = Level.informational
    timeout: float = Field(default=10.0, gt=0, description="seconds for one delivery attempt")
    rate_per_second: float | None = Field(
        default=None, gt=0, description="requests per second; default 1 for slack, 0.5 for discord"
    )
    burst: int = Field(default=3, ge=1, description="requests allowed back to back before the rate applies")
    max_age_hours: float = Field(default=48.0, gt=0, description="dead-letter after this long")

    @model_validator(mode="after")
    def _sources_fit_type(self) -> Self:
        given = [x for x in (self.url, self.url_env, self.url_file) if x is not None]
        if self.type in HTTP_TYPES and len(given) != 1:
            raise ValueError(f"a {self.type} destination needs exactly one of url, url_env, url_file")
        if self.type not in HTTP_TYPES and given:
            raise ValueError(f"a {self.type} destination takes no url")
        secrets = sum(x is not None for x in (self.secret, self.secret_env, self.secret_file))
        if secrets > 1:
            raise ValueError("give at most one of secret, secret_env, secret_file")
        if secrets and self.type is not DestinationType.webhook:
            raise ValueError("only webhook destinations sign their requests; remove the secret")
        if (self.type is DestinationType.jsonl) != (self.path is not None):
            raise ValueError("a jsonl destination needs a path, and only jsonl destinations take one")
        return self

    @property
    def rate(self) -> float | None:
        """Requests per second this destination is held to, if any."""
        return self.rate_per_second if self.rate_per_second is not None else _DEFAULT_RATE.get(self.type)

    def resolve_url(self) -> SecretStr | None:
        return _resolve(self.url, self.url_env, self.url_file, "url")

    def resolve_secret(self) -> SecretStr | None:
        return _resolve(self.secret, self.secret_env, self.secret_file, "secret")

    def describe_url(self) -> str:
        """Where the URL comes from and its scheme and host, for `newsmon destinations list`.

        The path and query of a webhook URL are its credential (Slack, Teams and Discord put the token
        there), so only the scheme and host are shown, and only when the value can be read.
        """
        if self.url_env is not None:
            origin = f"env {self.url_env}"
        elif self.url_file is not None:
            origin = f"file {self.url_file}"
        elif self.url is not None:
            origin = "inline"
        else:
            return "-"
        try:
            url = self.resolve_url()
        except SecretSourceError:
            return f"({origin}: not available)"
        return f"{mask_url(url.get_secret_value()) if url else '-'} ({origin})"


def mask_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/XYZ`` → ``https://hooks.slack.com/***``."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme or '?'}://{host}/***"


def _resolve(inline: SecretStr | None, env: str | None, file: Path | None, what: str) -> SecretStr | None:
    if inline is not None:
        return inline
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise SecretSourceError(f"{what}: environment variable {env} is not set")
        return SecretStr(value.strip())
    if file is not None:
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        full = file if file.is_absolute() or not credentials else Path(credentials) / file
        try:
            return SecretStr(full.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise SecretSourceError(f"{what}: cannot read {full}: {exc.strerror}") from None
    return None
