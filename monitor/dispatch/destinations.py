"""Destination settings from the admin config. URLs and secrets never come from rule files.

A URL or secret may be given inline, by environment variable (``*_env``) or by file (``*_file``,
relative paths resolved against ``$CREDENTIALS_DIRECTORY`` for systemd ``LoadCredential=``).
"""

import os
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from monitor.severity import Level


class DestinationType(StrEnum):
    slack = "slack"
    webhook = "webhook"
    teams = "teams"
    discord = "discord"
    jsonl = "jsonl"
    console = "console"


_NEEDS_URL = {
    DestinationType.slack,
    DestinationType.webhook,
    DestinationType.teams,
    DestinationType.discord,
}


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
    rate_per_second: float | None = Field(default=None, gt=0)
    burst: int = Field(default=3, ge=1)
    max_age_hours: float = Field(default=48.0, gt=0, description="dead-letter after this long")

    @model_validator(mode="after")
    def _one_url_source(self) -> Self:
        given = [x for x in (self.url, self.url_env, self.url_file) if x is not None]
        if self.type in _NEEDS_URL and len(given) != 1:
            raise ValueError(f"a {self.type} destination needs exactly one of url, url_env, url_file")
        if self.type not in _NEEDS_URL and given:
            raise ValueError(f"a {self.type} destination takes no url")
        if sum(x is not None for x in (self.secret, self.secret_env, self.secret_file)) > 1:
            raise ValueError("give at most one of secret, secret_env, secret_file")
        return self

    def resolve_url(self) -> SecretStr | None:
        return _resolve(self.url, self.url_env, self.url_file, "url")

    def resolve_secret(self) -> SecretStr | None:
        return _resolve(self.secret, self.secret_env, self.secret_file, "secret")


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
