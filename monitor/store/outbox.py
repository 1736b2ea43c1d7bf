"""The outbox: one row per (alert, destination), written in the transaction that stores the alert.

Rows are never deleted by delivery: ``delivered`` and ``dead`` are terminal states that `newsmon alerts`
shows and ``retry`` can reopen. A destination delivers its rows strictly in ``seq`` order, so only the
oldest pending row of a destination (its head) is ever attempted.

Every function takes an open connection (``monitor.store.db.connect``) and runs single statements in
autocommit mode, except :func:`enqueue`, which must run inside the caller's transaction.
"""

import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from monitor.store.db import like_prefix

State = Literal["pending", "delivered", "dead"]
STATES: tuple[State, ...] = ("pending", "delivered", "dead")


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    alert_id: str
    destination: str
    state: State
    attempts: int
    created_at: float
    next_attempt_at: float
    last_error: str | None
    delivered_at: float | None
    rule_id: str
    payload: str


_SELECT = """
SELECT o.seq, o.alert_id, o.destination, o.state, o.attempts, o.created_at, o.next_attempt_at,
       o.last_error, o.delivered_at, a.rule_id, a.payload
FROM outbox AS o JOIN alerts AS a ON a.id = o.alert_id
"""


def _row(r: sqlite3.Row) -> OutboxRow:
    return OutboxRow(**dict(r))


def enqueue(conn: sqlite3.Connection, alert_id: str, destinations: Sequence[str], now: float) -> None:
    """Queue ``alert_id`` for each destination, inside the caller's open transaction.

    Queuing the same alert for the same destination twice is a no-op, so a replayed article cannot
    deliver an alert twice.
    """
    conn.executemany(
        "INSERT OR IGNORE INTO outbox (alert_id, destination, created_at, next_attempt_at) "
        "VALUES (?, ?, ?, ?)",
        [(alert_id, name, now, now) for name in dict.fromkeys(destinations)],
    )


def head(conn: sqlite3.Connection, destination: str) -> OutboxRow | None:
    """The oldest pending row of ``destination``: the only one it may attempt, to keep order."""
    r = conn.execute(
        _SELECT + "WHERE o.destination = ? AND o.state = 'pending' ORDER BY o.seq LIMIT 1", (destination,)
    ).fetchone()
    return _row(r) if r is not None else None


def mark_delivered(conn: sqlite3.Connection, seq: int, now: float) -> None:
    conn.execute(
        "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, "
        "last_error = NULL WHERE seq = ? AND state = 'pending'",
        (now, seq),
    )


def mark_retry(conn: sqlite3.Connection, seq: int, next_attempt_at: float, error: str) -> None:
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
        "WHERE seq = ? AND state = 'pending'",
        (next_attempt_at, error, seq),
    )


def mark_dead(conn: sqlite3.Connection, seq: int, error: str) -> None:
    conn.execute(
        "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ? "
        "WHERE seq = ? AND state = 'pending'",
        (error, seq),
    )


def retry(conn: sqlite3.Connection, alert_id: str | None, now: float, destination: str | None = None) -> int:
    """Reopen dead letters: those of ``alert_id``, or all when it is None, optionally of one destination.

    Returns how many rows were reopened. Each gets a fresh maximum-age window and attempt count: an
    operator retries after fixing the cause, and the alert deserves the full patience again. A reopened
    row keeps its ``seq``, so it goes out ahead of anything queued for its destination after it.
    """
    cursor = conn.execute(
        "UPDATE outbox SET state = 'pending', attempts = 0, created_at = ?, next_attempt_at = ?, "
        "last_error = NULL WHERE state = 'dead' AND (? IS NULL OR alert_id = ?) "
        "AND (? IS NULL OR destination = ?)",
        (now, now, alert_id, alert_id, destination, destination),
    )
    return cursor.rowcount


def pending_count(conn: sqlite3.Connection, destinations: Collection[str]) -> int:
    """Pending rows for the given destinations (rows for destinations no longer configured never drain)."""
    names = list(destinations)
    if not names:
        return 0
    marks = ",".join("?" * len(names))
    (count,) = conn.execute(
        f"SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND destination IN ({marks})",  # noqa: S608
        names,
    ).fetchone()
    return int(count)


def backlog(conn: sqlite3.Connection, destination: str) -> tuple[int, float | None]:
    """Pending rows of ``destination`` and the enqueue time of the oldest (for the metrics gauges)."""
    count, oldest = conn.execute(
        "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE destination = ? AND state = 'pending'",
        (destination,),
    ).fetchone()
    return int(count), oldest


def orphan_destinations(conn: sqlite3.Connection, configured: Collection[str]) -> list[str]:
    """Destinations with pending rows that the admin config no longer defines."""
    rows = conn.execute("SELECT DISTINCT destination FROM outbox WHERE state = 'pending'").fetchall()
    return sorted(name for (name,) in rows if name not in configured)


def entries(
    conn: sqlite3.Connection,
    state: State | None = None,
    destination: str | None = None,
    limit: int = 100,
) -> list[OutboxRow]:
    """The newest rows first, optionally only those in one state or of one destination."""
    rows = conn.execute(
        _SELECT + "WHERE (? IS NULL OR o.state = ?) AND (? IS NULL OR o.destination = ?) "
        "ORDER BY o.seq DESC LIMIT ?",
        (state, state, destination, destination, limit),
    ).fetchall()
    return [_row(r) for r in rows]


def entries_for_alert(conn: sqlite3.Connection, alert_id: str) -> list[OutboxRow]:
    rows = conn.execute(_SELECT + "WHERE o.alert_id = ? ORDER BY o.seq", (alert_id,)).fetchall()
    return [_row(r) for r in rows]


def alert_ids_with_prefix(conn: sqlite3.Connection, prefix: str, limit: int = 2) -> list[str]:
    """Alert ids starting with ``prefix``, so that commands accept a short id as git does."""
    rows = conn.execute(
        "SELECT id FROM alerts WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT ?", (like_prefix(prefix), limit)
    ).fetchall()
    return [alert_id for (alert_id,) in rows]


def alert_payload(conn: sqlite3.Connection, alert_id: str) -> str | None:
    r = conn.execute("SELECT payload FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    return None if r is None else str(r[0])
