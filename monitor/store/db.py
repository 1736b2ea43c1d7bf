"""Opening the state database: one SQLite file in WAL mode, schema applied by each store module.

``synchronous=FULL`` because an alert recorded in the outbox must survive power loss, not only a
process crash (WAL + NORMAL only survives the latter). Writes use ``BEGIN IMMEDIATE`` so that two
writers fail fast on the busy timeout instead of deadlocking on a lock upgrade.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DB_NAME = "state.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id           TEXT PRIMARY KEY,          -- sha256 of the decoded text
    path         TEXT NOT NULL,
    received_at  REAL NOT NULL,             -- unix seconds
    processed_at REAL NOT NULL,
    title        TEXT,
    source       TEXT,
    story_id     TEXT,
    status       TEXT NOT NULL CHECK (status IN ('processed', 'quarantined')),
    reason       TEXT
);
CREATE TABLE IF NOT EXISTS inbox_files (      -- lets a rescan skip files it has read before
    path         TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    article_id   TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stories (
    id            TEXT PRIMARY KEY,
    first_seen    REAL NOT NULL,
    last_seen     REAL NOT NULL,
    article_count INTEGER NOT NULL,
    sources       TEXT NOT NULL,            -- JSON list
    signature     BLOB NOT NULL             -- MinHash signature of the first article
);
CREATE TABLE IF NOT EXISTS story_bands (
    band     TEXT NOT NULL,                 -- LSH band key
    story_id TEXT NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
    PRIMARY KEY (band, story_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    id         TEXT PRIMARY KEY,            -- idempotency key
    rule_id    TEXT NOT NULL,
    story_id   TEXT NOT NULL,
    article_id TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    level      TEXT NOT NULL,
    created_at REAL NOT NULL,
    payload    TEXT NOT NULL                -- the alert JSON exactly as receivers get it
);
CREATE INDEX IF NOT EXISTS stories_by_last_seen ON stories (last_seen);
CREATE INDEX IF NOT EXISTS alerts_by_rule_story ON alerts (rule_id, story_id, created_at);
CREATE TABLE IF NOT EXISTS outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- delivery order per destination
    alert_id        TEXT NOT NULL REFERENCES alerts(id),
    destination     TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    delivered_at    REAL,
    UNIQUE (alert_id, destination)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (destination, state, seq);
CREATE TABLE IF NOT EXISTS silences (
    id         TEXT PRIMARY KEY,            -- uuid4 hex
    matchers   TEXT NOT NULL,               -- JSON list of {"field": ..., "value": ...}
    starts_at  REAL NOT NULL,               -- unix seconds
    ends_at    REAL NOT NULL,
    created_by TEXT NOT NULL,
    comment    TEXT NOT NULL,
    created_at REAL NOT NULL,
    suppressed INTEGER NOT NULL DEFAULT 0   -- alerts it has stopped
);
CREATE INDEX IF NOT EXISTS silences_by_end ON silences (ends_at);
"""


def connect(state_dir: Path) -> sqlite3.Connection:
    """Open (creating if needed) the state database and apply the schema."""
    state_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(state_dir / DB_NAME, isolation_level=None, timeout=30.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(_SCHEMA)
    return conn


def like_prefix(prefix: str) -> str:
    """A ``LIKE ? ESCAPE '\\'`` pattern for ids starting with ``prefix``, so that commands accept a short
    id as git does (``%`` and ``_`` in what was typed are matched literally)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
