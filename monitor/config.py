"""The admin config (operators own it): inbox, state, destinations, routes, limits, metrics.

Read from ``--config FILE``, else ``$NEWSMON_CONFIG``, else ``monitor.yaml`` in the working directory if it
exists, else the embedded defaults: console and a JSONL archive under the state directory.
"""

import os
from pathlib import Path
from typing import Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from monitor.dispatch.destinations import Destination, DestinationType
from monitor.severity import Level

DEFAULT_CONFIG_FILE = Path("monitor.yaml")


class Routes(BaseModel):
    """Where alerts of rules that name no destination go, optionally per level."""

    model_config = ConfigDict(extra="forbid")

    default: list[str] = Field(default_factory=lambda: ["console", "archive"])
    by_level: dict[Level, list[str]] = Field(default_factory=dict)

    def for_level(self, level: Level) -> list[str]:
        return self.by_level.get(level, self.default)


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_file_bytes: int = Field(default=5_000_000, gt=0)
    queue_size: int = Field(default=256, gt=0, description="bounded queue between pipeline stages")
    rescan_seconds: float = Field(default=60.0, gt=0)
    settle_seconds: float = Field(
        default=0.5, ge=0, description="polling inboxes: size and mtime must hold this long"
    )


class Metrics(BaseModel):
    model_config = ConfigDict(extra="forbid")

    port: int | None = Field(default=None, ge=0, le=65535)
    host: str = "127.0.0.1"


def _default_destinations() -> dict[str, Destination]:
    return {
        "console": Destination(type=DestinationType.console),
        "archive": Destination(type=DestinationType.jsonl, path=Path("alerts.jsonl")),
    }


class AdminConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inbox: Path = Path("seeds")
    state_dir: Path = Path(".newsmon")
    rules_dir: Path = Path("rules")
    destinations: dict[str, Destination] = Field(default_factory=_default_destinations)
    routes: Routes = Field(default_factory=Routes)
    operator_destinations: list[str] = Field(
        default_factory=list, description="where rule-reload failures and dead letters are reported"
    )
    limits: Limits = Field(default_factory=Limits)
    metrics: Metrics = Field(default_factory=Metrics)
    source: Path | None = Field(default=None, exclude=True, description="file it was read from")

    @model_validator(mode="after")
    def _routes_name_known_destinations(self) -> Self:
        named = set(self.routes.default) | set(self.operator_destinations)
        for targets in self.routes.by_level.values():
            named |= set(targets)
        unknown = sorted(named - set(self.destinations))
        if unknown:
            raise ValueError(f"routes name unknown destinations: {', '.join(unknown)}")
        return self


class ConfigError(Exception):
    """The admin config is missing, unreadable or invalid; the message names the file."""


def config_path(explicit: Path | None) -> Path | None:
    """Which config file applies: flag, then $NEWSMON_CONFIG, then ./monitor.yaml if present."""
    if explicit is not None:
        return explicit
    env = os.environ.get("NEWSMON_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


def load_config(explicit: Path | None = None) -> AdminConfig:
    path = config_path(explicit)
    if path is None:
        return AdminConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read admin config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the admin config must be a mapping")
    base = path.parent
    try:
        config = AdminConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from None
    return config.model_copy(update={"source": path, **_relative_to(base, config)})


def _relative_to(base: Path, config: AdminConfig) -> dict[str, Path]:
    """Paths inside a config file are relative to that file, as operators expect."""
    return {
        name: base / value
        for name in ("inbox", "state_dir", "rules_dir")
        if not (value := getattr(config, name)).is_absolute()
    }


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Position and problem only: PyYAML's own message quotes the offending line, which may hold a URL."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot parse"
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem


def _describe(exc: ValidationError) -> str:
    # input values are left out on purpose: they may be URLs or secrets
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
    )
