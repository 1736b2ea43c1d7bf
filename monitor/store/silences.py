"""Silences in the state database.

``newsmon silence`` writes them next to a running daemon (SQLite WAL, short transactions), and the
pipeline reads the active ones for every article with matches, so that a new or expired silence applies
to the next article without a reload or any message to the daemon.

Every write opens its own transaction, except :func:`count_suppressed`, which must run inside the
transaction that stores the article: a suppression is then counted exactly once, even if the daemon
dies and reads the article again.
"""

import json
import sqlite3
from collections.abc import Collection
from datetime import UTC, datetime

from pydantic import TypeAdapter

from monitor.alerts.silence import Matcher, Silence
from monitor.store.db import like_prefix, transaction

RETENTION_SECONDS = 7 * 24 * 3600
"""Silences that ended longer ago than this are deleted by the daemon's pruning job."""

_MATCHERS = TypeAdapter(tuple[Matcher, ...])
_SELECT = (
    "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at, suppressed FROM silences "
)


def _silence(row: sqlite3.Row) -> Silence:
    return Silence(
        id=row["id"],
        matchers=_MATCHERS.validate_json(row["matchers"]),
        starts_at=datetime.fromtimestamp(row["starts_at"], UTC),
        ends_at=datetime.fromtimestamp(row["ends_at"], UTC),
        created_by=row["created_by"],
        comment=row["comment"],
        created_at=datetime.fromtimestamp(row["created_at"], UTC),
        suppressed=row["suppressed"],
    )


def add(conn: sqlite3.Connection, silence: Silence) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, created_at, "
            "suppressed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                silence.id,
                json.dumps([m.model_dump() for m in silence.matchers]),
                silence.starts_at.timestamp(),
                silence.ends_at.timestamp(),
                silence.created_by,
                silence.comment,
                silence.created_at.timestamp(),
                silence.suppressed,
            ),
        )


def get(conn: sqlite3.Connection, silence_id: str) -> Silence | None:
    row = conn.execute(_SELECT + "WHERE id = ?", (silence_id,)).fetchone()
    return None if row is None else _silence(row)


def entries(conn: sqlite3.Connection, now: float, *, include_expired: bool = False) -> list[Silence]:
    """Active and pending silences (and, with ``include_expired``, those not yet pruned), newest first."""
    rows = conn.execute(
        _SELECT + "WHERE ? OR ends_at > ? ORDER BY created_at DESC, id", (include_expired, now)
    ).fetchall()
    return [_silence(row) for row in rows]


def active(conn: sqlite3.Connection, now: float) -> list[Silence]:
    """Silences in force at ``now``, oldest first: the oldest matching one is credited with a suppression."""
    rows = conn.execute(
        _SELECT + "WHERE starts_at <= ? AND ends_at > ? ORDER BY created_at, id", (now, now)
    ).fetchall()
    return [_silence(row) for row in rows]


def count_active(conn: sqlite3.Connection, now: float) -> int:
    """How many silences are in force; 0 in a database written before silences existed (no table)."""
    if (
        conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'silences'").fetchone()
        is None
    ):
        return 0
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM silences WHERE starts_at <= ? AND ends_at > ?", (now, now)
    ).fetchone()
    return int(count)


def ids_with_prefix(conn: sqlite3.Connection, prefix: str, limit: int = 2) -> list[str]:
    """Silence ids starting with ``prefix`` (at most ``limit``: two tell a unique prefix from an ambiguous
    one)."""
    rows = conn.execute(
        "SELECT id FROM silences WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT ?",
        (like_prefix(prefix), limit),
    ).fetchall()
    return [silence_id for (silence_id,) in rows]


def expire(conn: sqlite3.Connection, silence_id: str, now: float) -> bool:
    """End an active or pending silence at ``now``; False when it had already ended (or is unknown).

    A pending silence gets ``starts_at = ends_at = now``, as in Alertmanager: it never was in force.
    """
    with transaction(conn):
        cursor = conn.execute(
            "UPDATE silences SET ends_at = ?, starts_at = MIN(starts_at, ?) WHERE id = ? AND ends_at > ?",
            (now, now, silence_id, now),
        )
        return cursor.rowcount == 1


def count_suppressed(conn: sqlite3.Connection, silence_ids: Collection[str]) -> None:
    """Credit each id (repeated once per alert it stopped), inside the caller's open transaction."""
    conn.executemany(
        "UPDATE silences SET suppressed = suppressed + 1 WHERE id = ?", [(sid,) for sid in silence_ids]
    )


def prune(conn: sqlite3.Connection, now: float) -> int:
    """Delete silences that ended more than :data:`RETENTION_SECONDS` ago; returns how many."""
    with transaction(conn):
        return conn.execute("DELETE FROM silences WHERE ends_at < ?", (now - RETENTION_SECONDS,)).rowcount
