"""Processed articles, their stories and their alerts.

:func:`record_article` is the one write of the ingest side: the article, its story, its alerts, their
outbox rows and the count of alerts silences stopped land in one transaction, so a crash at any point
leaves either all of them or none, and nothing that was stored can miss delivery.
"""

import json
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitor.alerts.model import Alert, AlertStory
from monitor.ingest.article import Article
from monitor.store import outbox, silences
from monitor.store.db import transaction

STORY_WINDOW_SECONDS = 7 * 24 * 3600  # near duplicates older than this start a new story


@dataclass(frozen=True)
class FileStat:
    path: Path
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> "FileStat":
        st = path.stat()
        return cls(path, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class StoryUpdate:
    """The story an article joins (``is_new``: it starts one) with its counts after the article."""

    story: AlertStory
    is_new: bool
    signature: bytes
    band_keys: Sequence[str]
    seen_at: float


@dataclass(frozen=True)
class PendingAlert:
    alert: Alert
    destinations: Sequence[str]


def file_unchanged(conn: sqlite3.Connection, stat: FileStat) -> bool:
    """True if this exact file (path, size, mtime) was read before: a rescan need not read it again."""
    row = conn.execute(
        "SELECT 1 FROM inbox_files WHERE path = ? AND size = ? AND mtime_ns = ?",
        (str(stat.path), stat.size, stat.mtime_ns),
    ).fetchone()
    return row is not None


def is_processed(conn: sqlite3.Connection, article_id: str) -> bool:
    return conn.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is not None


def remember_file(conn: sqlite3.Connection, stat: FileStat, article_id: str) -> None:
    """Record a file whose content was already processed under another name (no alerts)."""
    with transaction(conn):
        _upsert_file(conn, stat, article_id)


def story_candidates(
    conn: sqlite3.Connection, band_keys: Sequence[str], now: float
) -> list[tuple[str, bytes]]:
    """Recent stories sharing an LSH band with the article: the only ones worth comparing."""
    if not band_keys:
        return []
    marks = ",".join("?" * len(band_keys))
    rows = conn.execute(
        f"SELECT DISTINCT s.id, s.signature FROM story_bands b JOIN stories s ON s.id = b.story_id "  # noqa: S608
        f"WHERE b.band IN ({marks}) AND s.last_seen >= ?",
        (*band_keys, now - STORY_WINDOW_SECONDS),
    ).fetchall()
    return [(row["id"], bytes(row["signature"])) for row in rows]


def load_story(conn: sqlite3.Connection, story_id: str) -> AlertStory:
    row = conn.execute(
        "SELECT id, first_seen, article_count, sources FROM stories WHERE id = ?", (story_id,)
    ).fetchone()
    return AlertStory(
        id=row["id"],
        article_count=row["article_count"],
        sources=tuple(json.loads(row["sources"])),
        first_seen=datetime.fromtimestamp(row["first_seen"], UTC),
    )


def last_alert(conn: sqlite3.Connection, rule_id: str, story_id: str) -> tuple[float, int] | None:
    """When the rule last alerted on the story, and that alert's revision."""
    row = conn.execute(
        "SELECT created_at, revision FROM alerts WHERE rule_id = ? AND story_id = ? "
        "ORDER BY revision DESC LIMIT 1",
        (rule_id, story_id),
    ).fetchone()
    return None if row is None else (row["created_at"], row["revision"])


def record_article(
    conn: sqlite3.Connection,
    *,
    article: Article,
    stat: FileStat | None,
    story: StoryUpdate,
    alerts: Sequence[PendingAlert],
    silenced: Collection[str] = (),
    now: float,
) -> None:
    """Store the article, its story, its alerts and their outbox rows atomically, and credit the
    silences that stopped its other alerts (``silenced``: one silence id per alert stopped)."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO articles (id, path, received_at, processed_at, title, source, story_id, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'processed')",
            (
                article.id,
                str(article.path),
                article.received_at.timestamp(),
                now,
                article.title,
                article.source,
                story.story.id,
            ),
        )
        _save_story(conn, story)
        for pending in alerts:
            alert = pending.alert
            conn.execute(
                "INSERT INTO alerts (id, rule_id, story_id, article_id, revision, level, created_at, "
                "payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    alert.id,
                    alert.rule.id,
                    alert.story.id,
                    article.id,
                    alert.revision,
                    alert.rule.level.value,
                    now,
                    alert.model_dump_json(),
                ),
            )
            outbox.enqueue(conn, alert.id, pending.destinations, now)
        silences.count_suppressed(conn, silenced)
        if stat is not None:
            _upsert_file(conn, stat, article.id)


def _save_story(conn: sqlite3.Connection, update: StoryUpdate) -> None:
    story = update.story
    sources = json.dumps(list(story.sources))
    if update.is_new:
        conn.execute(
            "INSERT INTO stories (id, first_seen, last_seen, article_count, sources, signature) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                story.id,
                story.first_seen.timestamp(),
                update.seen_at,
                story.article_count,
                sources,
                update.signature,
            ),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO story_bands (band, story_id) VALUES (?, ?)",
            [(key, story.id) for key in update.band_keys],
        )
    else:
        conn.execute(
            "UPDATE stories SET last_seen = ?, article_count = ?, sources = ? WHERE id = ?",
            (update.seen_at, story.article_count, sources, story.id),
        )


def _upsert_file(conn: sqlite3.Connection, stat: FileStat, article_id: str) -> None:
    conn.execute(
        "INSERT INTO inbox_files (path, size, mtime_ns, article_id) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "article_id = excluded.article_id",
        (str(stat.path), stat.size, stat.mtime_ns, article_id),
    )


def prune_stories(conn: sqlite3.Connection, now: float) -> int:
    """Forget stories no article can join any more (older than the grouping window) and their bands."""
    cutoff = now - STORY_WINDOW_SECONDS
    with transaction(conn):
        conn.execute(
            "DELETE FROM story_bands WHERE story_id IN (SELECT id FROM stories WHERE last_seen < ?)",
            (cutoff,),
        )
        return conn.execute("DELETE FROM stories WHERE last_seen < ?", (cutoff,)).rowcount
