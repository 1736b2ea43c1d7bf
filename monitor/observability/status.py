"""What ``newsmon status`` reports: the daemon's heartbeat and the facts in its state database.

Two sources, both read without disturbing the daemon:

- a heartbeat file (``heartbeat.json`` in the state folder) that the running daemon rewrites every few
  seconds, atomically, with its pid, start time, rules loaded and last reload and rescan;
- the SQLite state, opened read-only (``mode=ro``), so an operator may run ``status`` as any user that
  can read the state folder, while the daemon writes.

:func:`collect_status` gathers the facts; judging them (:attr:`Status.problems`) is pure and lives on the
model, so the command-line exit code and the JSON output always agree.
"""

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field

from monitor.config import AdminConfig
from monitor.store import silences
from monitor.store.db import DB_NAME
from monitor.store.outbox import STATES

HEARTBEAT_NAME = "heartbeat.json"
STALE_AFTER_SECONDS = 60.0
"""A heartbeat older than this means the daemon is hung (its pid still exists) or gone."""

DaemonState = Literal["running", "unresponsive", "stopped"]


class Heartbeat(BaseModel):
    """The daemon's own account of itself; unknown keys are kept so newer daemons can say more."""

    model_config = ConfigDict(extra="allow")

    pid: int
    written_at: float
    started_at: float | None = None
    rules_loaded: int | None = None
    alive: bool | None = Field(default=None, description="False: the daemon saw its own pipeline stall")
    last_reload: dict[str, object] = Field(default_factory=dict)
    last_rescan: dict[str, object] = Field(default_factory=dict)


class DaemonStatus(BaseModel):
    state: DaemonState
    heartbeat: Heartbeat | None = None
    heartbeat_age_seconds: float | None = None

    def describe_hang(self) -> str:
        if self.heartbeat is not None and self.heartbeat.alive is False:
            return f"pid {self.heartbeat.pid} reports its pipeline stalled"
        pid = self.heartbeat.pid if self.heartbeat else "?"
        return f"pid {pid} wrote no heartbeat for {self.heartbeat_age_seconds or 0:.0f} s"


class ArticleCounts(BaseModel):
    processed: int = 0
    quarantined: int = 0
    last_processed_at: float | None = None


class DestinationStatus(BaseModel):
    """One destination's outbox rows by state, and how long its oldest pending alert has waited."""

    name: str
    configured: bool
    pending: int = 0
    delivered: int = 0
    dead: int = 0
    oldest_pending_age_seconds: float | None = None


class Status(BaseModel):
    checked_at: float
    state_dir: Path
    database: Path
    database_found: bool
    daemon: DaemonStatus
    articles: ArticleCounts = Field(default_factory=ArticleCounts)
    alerts: int = 0
    silences_active: int = Field(default=0, description="silences in force: matching alerts are dropped")
    destinations: list[DestinationStatus] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def outbox_pending(self) -> int:
        return sum(d.pending for d in self.destinations)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dead_letters(self) -> int:
        return sum(d.dead for d in self.destinations)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def problems(self) -> list[str]:
        """Why the exit code is 1; empty means healthy."""
        found: list[str] = []
        if not self.database_found:
            found.append(f"no state database at {self.database}")
        if self.daemon.state == "stopped":
            found.append("daemon not running")
        elif self.daemon.state == "unresponsive":
            found.append(f"daemon unresponsive: {self.daemon.describe_hang()}")
        if self.dead_letters:
            found.append(f"{self.dead_letters} dead letter(s): see `newsmon alerts`")
        return found

    @computed_field  # type: ignore[prop-decorator]
    @property
    def warnings(self) -> list[str]:
        """Worth a look, but the daemon is doing its job: these do not change the exit code."""
        found: list[str] = []
        heartbeat = self.daemon.heartbeat
        if heartbeat is not None and heartbeat.last_reload.get("ok") is False:
            found.append("last rule reload failed; the previous rules are still in use")
        orphans = [d.name for d in self.destinations if not d.configured and d.pending]
        if orphans:
            found.append(f"pending alerts for destinations no longer configured: {', '.join(orphans)}")
        return found

    @computed_field  # type: ignore[prop-decorator]
    @property
    def healthy(self) -> bool:
        return not self.problems


def write_heartbeat(state_dir: Path, facts: Mapping[str, object]) -> None:
    """Replace the heartbeat file atomically (write a temporary file, then rename over the old one).

    A reader never sees a half-written file, and a crash leaves either the old or the new heartbeat.
    No fsync: a heartbeat lost to a power cut is worthless anyway, and the daemon writes one every few
    seconds. ``written_at`` is added here so that staleness is judged by one clock, the writer's.
    """
    payload = {**facts, "written_at": time.time()}
    final = state_dir / HEARTBEAT_NAME
    temporary = state_dir / f".{HEARTBEAT_NAME}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(payload, default=str), encoding="utf-8")
    temporary.replace(final)


def read_heartbeat(state_dir: Path) -> Heartbeat | None:
    """The last heartbeat, or ``None`` if there is none or it cannot be understood."""
    try:
        return Heartbeat.model_validate_json((state_dir / HEARTBEAT_NAME).read_bytes())
    except (OSError, ValidationError):
        return None


def daemon_status(heartbeat: Heartbeat | None, now: float) -> DaemonStatus:
    """Running if the heartbeat is fresh and its pid exists; a live pid with an old heartbeat is a hang."""
    if heartbeat is None or not _pid_exists(heartbeat.pid):
        return DaemonStatus(state="stopped", heartbeat=heartbeat)
    age = max(0.0, now - heartbeat.written_at)
    fresh = age <= STALE_AFTER_SECONDS and heartbeat.alive is not False
    state: DaemonState = "running" if fresh else "unresponsive"
    return DaemonStatus(state=state, heartbeat=heartbeat, heartbeat_age_seconds=age)


def collect_status(state_dir: Path, config: AdminConfig) -> Status:
    """Everything ``newsmon status`` shows; never writes to the state folder."""
    now = time.time()
    database = state_dir / DB_NAME
    status = Status(
        checked_at=now,
        state_dir=state_dir,
        database=database,
        database_found=database.is_file(),
        daemon=daemon_status(read_heartbeat(state_dir), now),
    )
    if not status.database_found:
        status.destinations = [DestinationStatus(name=name, configured=True) for name in config.destinations]
        return status
    with contextlib.closing(_open_read_only(database)) as conn:
        status.articles = _article_counts(conn)
        (status.alerts,) = conn.execute("SELECT COUNT(*) FROM alerts").fetchone()
        status.silences_active = silences.count_active(conn, now)
        status.destinations = _destinations(conn, config, now)
    return status


def _article_counts(conn: sqlite3.Connection) -> ArticleCounts:
    counts = ArticleCounts()
    for state, count in conn.execute("SELECT status, COUNT(*) FROM articles GROUP BY status"):
        setattr(counts, state, count)
    (counts.last_processed_at,) = conn.execute(
        "SELECT MAX(processed_at) FROM articles WHERE status = 'processed'"
    ).fetchone()
    return counts


def _destinations(conn: sqlite3.Connection, config: AdminConfig, now: float) -> list[DestinationStatus]:
    """Configured destinations in config order, then any others the outbox still holds rows for."""
    by_name = {name: DestinationStatus(name=name, configured=True) for name in config.destinations}
    rows = conn.execute(
        "SELECT destination, state, COUNT(*), MIN(created_at) FROM outbox GROUP BY destination, state"
    )
    for name, state, count, oldest in rows:
        entry = by_name.setdefault(name, DestinationStatus(name=name, configured=False))
        if state in STATES:
            setattr(entry, state, count)
        if state == "pending":
            entry.oldest_pending_age_seconds = max(0.0, now - oldest)
    return list(by_name.values())


def _open_read_only(database: Path) -> sqlite3.Connection:
    """A read-only connection that works while the daemon writes, and for users who cannot write.

    ``mode=ro`` reads a WAL database if its ``-shm`` and ``-wal`` files exist or can be created; when
    neither holds (the daemon stopped cleanly and the folder is not ours), nobody is writing, and
    ``immutable=1`` reads the file as it is.
    """
    uri = database.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=5.0)
    try:
        conn.execute("SELECT 1 FROM sqlite_schema LIMIT 1").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
    return conn


def _pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user (the daemon's system user)
    return True
