"""Story grouping and realert: pure functions, and their use of the real SQLite store."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.alerts.build import new_story, next_revision
from monitor.alerts.story import NEAR_DUPLICATE, bands, best_story, signature, similarity
from monitor.ingest.article import Article
from monitor.store import articles as store
from monitor.store.articles import StoryUpdate
from monitor.store.db import connect

SEEDS = Path(__file__).parent.parent / "seeds"


def _texts() -> dict[str, str]:
    return {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


def test_the_five_outlets_are_five_stories() -> None:
    """Different outlets' own write-ups must each alert: they are not near duplicates."""
    sigs = {k: signature(v) for k, v in _texts().items()}
    for a in sigs:
        for b in sigs:
            if a < b:
                assert similarity(sigs[a], sigs[b]) < NEAR_DUPLICATE, (a, b)


def test_a_resent_copy_with_small_edits_is_the_same_story() -> None:
    text = _texts()["001"]
    edited = text.replace("By [The Moscow Times](#)", "By Reuters staff") + "\nUpdated at 14:00 GMT."
    assert similarity(signature(text), signature(edited)) >= NEAR_DUPLICATE
    assert set(bands(signature(text))) & set(bands(signature(edited)))


def test_best_story_picks_the_near_duplicate_only() -> None:
    texts = _texts()
    candidates = [("s000", signature(texts["000"])), ("s004", signature(texts["004"]))]
    assert best_story(signature(texts["004"] + "\nCopyright 2014"), candidates) == "s004"
    assert best_story(signature(texts["002"]), candidates) is None


def test_signature_is_stable_across_processes() -> None:
    """Stored signatures must compare with new ones after a restart or upgrade."""
    assert signature("Syria offered a ceasefire in Aleppo on Friday.")[:8].hex() == (
        signature("Syria offered a ceasefire in Aleppo on Friday.")[:8].hex()
    )
    assert len(signature("short")) == 64 * 8


def test_realert_once_per_story_unless_the_window_has_passed() -> None:
    assert next_revision(None, None, now=1000.0) == 1
    assert next_revision(None, (900.0, 1), now=10_000_000.0) is None
    assert next_revision(timedelta(hours=6), (0.0, 1), now=6 * 3600 - 1) is None
    assert next_revision(timedelta(hours=6), (0.0, 2), now=6 * 3600) == 3


def test_store_finds_a_recent_story_by_its_bands_and_counts_sources(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    text = _texts()["002"]
    now = 1_700_000_000.0
    article = Article(
        id="a" * 64,
        path=tmp_path / "x.txt",
        received_at=datetime.fromtimestamp(now, UTC),
        text=text,
        source="AP",
    )
    sig = signature(text)
    story = new_story(article, datetime.fromtimestamp(now, UTC))
    store.record_article(
        conn,
        article=article,
        stat=None,
        story=StoryUpdate(story, True, sig, bands(sig), now),
        alerts=[],
        now=now,
    )
    resent = signature(text + "\n(Reporting by AP)")
    found = store.story_candidates(conn, bands(resent), now + 3600)
    assert [story_id for story_id, _ in found] == [story.id]
    assert store.load_story(conn, story.id).sources == ("AP",)
    # a week later the story is closed: the same text starts a new one
    assert store.story_candidates(conn, bands(resent), now + 8 * 24 * 3600) == []
    assert store.is_processed(conn, article.id)
