"""State of processed articles, stories and alerts in a real SQLite file: atomicity, dedup, realert."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.alerts import story as stories
from monitor.alerts.build import build_alert, new_story, next_revision
from monitor.alerts.model import Evidence
from monitor.analyse import Match
from monitor.ingest.reader import read_article
from monitor.rules.model import Rule
from monitor.severity import Level
from monitor.store import articles as store
from monitor.store import outbox
from monitor.store.articles import FileStat, PendingAlert, StoryUpdate
from monitor.store.db import connect
from tests.daemon_harness import SEEDS

RULE = Rule(id="ceasefire", title="Ceasefire", level=Level.high, query="ceasefire")
NOW = 1_700_000_000.0


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    return connect(tmp_path / "state")


def stored_article(conn: sqlite3.Connection, path: Path, *, now: float = NOW) -> tuple[str, list[str]]:
    """Store ``path`` as the pipeline does: story, one alert per rule, outbox rows; return ids."""
    article = read_article(path)
    signature = stories.signature(article.text)
    bands = stories.bands(signature)
    existing = stories.best_story(signature, store.story_candidates(conn, bands, now))
    if existing is None:
        update = StoryUpdate(
            new_story(article, datetime.fromtimestamp(now, UTC)), True, signature, bands, now
        )
    else:
        old = store.load_story(conn, existing)
        update = StoryUpdate(
            old.model_copy(update={"article_count": old.article_count + 1}), False, signature, bands, now
        )
    last = None if update.is_new else store.last_alert(conn, RULE.id, update.story.id)
    revision = next_revision(RULE.realert, last, now)
    pending = []
    if revision is not None:
        alert = build_alert(
            match=Match(rule=RULE, evidence=(Evidence(text="x", start=0, end=1),)),
            article=article,
            topics={},
            story=update.story,
            revision=revision,
            created_at=datetime.fromtimestamp(now, UTC),
        )
        pending.append(PendingAlert(alert, ["archive", "hook"]))
    store.record_article(conn, article=article, stat=FileStat.of(path), story=update, alerts=pending, now=now)
    return update.story.id, [p.alert.id for p in pending]


def test_article_alert_and_outbox_rows_are_stored_together(conn: sqlite3.Connection) -> None:
    sample = SEEDS / "001_ce9271161a6415bd.txt"
    _, alert_ids = stored_article(conn, sample)
    assert store.is_processed(conn, read_article(sample).id)
    assert store.file_unchanged(conn, FileStat.of(sample))
    rows = outbox.entries_for_alert(conn, alert_ids[0])
    assert sorted(r.destination for r in rows) == ["archive", "hook"]
    assert {r.state for r in rows} == {"pending"}


def test_a_failure_inside_the_transaction_leaves_nothing_half_stored(conn: sqlite3.Connection) -> None:
    sample = SEEDS / "002_da3e7f07827a03a9.txt"
    stored_article(conn, sample)
    other = SEEDS / "003_677e52f2b0f5540b.txt"
    story_id, _ = stored_article(conn, other)
    with pytest.raises(sqlite3.IntegrityError):
        # the same article again: the story update runs first, then the article INSERT fails
        stored_article(conn, other)
    assert store.load_story(conn, story_id).article_count == 1
    counts = conn.execute("SELECT (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM stories)").fetchone()
    assert tuple(counts) == (2, 2)
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 4


def test_a_near_duplicate_joins_the_story_and_does_not_alert_again(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    sample = SEEDS / "000_805448790873fa1e.txt"
    story_id, first = stored_article(conn, sample)
    copy = tmp_path / "syndicated.txt"
    copy.write_text(sample.read_text(encoding="utf-8") + "\n(Reporting by our correspondent.)\n")
    again_id, second = stored_article(conn, copy, now=NOW + 60)
    assert again_id == story_id
    assert first and not second
    assert store.load_story(conn, story_id).article_count == 2


def test_realert_allows_a_new_revision_only_after_its_period() -> None:
    hour = timedelta(hours=1)
    assert next_revision(None, None, NOW) == 1
    assert next_revision(None, (NOW, 1), NOW + 10 * 86400) is None  # no realert: once per story
    assert next_revision(hour, (NOW, 1), NOW + 1800) is None
    assert next_revision(hour, (NOW, 1), NOW + 3600) == 2
