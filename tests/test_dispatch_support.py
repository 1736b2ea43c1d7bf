"""Shared by the dispatch and outbox tests: sample alerts, a prepared outbox, a fast retry policy."""

import asyncio
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from monitor.alerts.model import (
    Alert,
    AlertArticle,
    AlertRule,
    AlertStory,
    Evidence,
    Highlight,
    TopicScore,
    alert_id,
)
from monitor.config import AdminConfig, Routes
from monitor.dispatch import Dispatcher
from monitor.dispatch.destinations import Destination
from monitor.dispatch.policy import RetryPolicy
from monitor.severity import Level
from monitor.store import outbox
from monitor.store.db import connect, transaction

# Backoff in tens of milliseconds: a test of "500 three times then 200" takes well under a second.
FAST = RetryPolicy(base=0.05, factor=2.0, cap=0.2, jitter=0.5, poll_interval=0.2)

SENTENCE = "Syria offered a ceasefire in war-torn Aleppo and a prisoner swap with the rebels."


def sample_alert(n: int = 0, **changes: Any) -> Alert:
    """A realistic alert; ``n`` makes the id (and the title) distinct."""
    start = SENTENCE.index("ceasefire")
    swap = SENTENCE.index("prisoner swap")
    alert = Alert(
        id=alert_id("aleppo-ceasefire", f"story-{n}", 1),
        created_at=datetime(2014, 1, 17, 12, 0, n % 60, tzinfo=UTC),
        rule=AlertRule(
            id="aleppo-ceasefire",
            title="Ceasefire proposed, agreed or broken around Aleppo",
            level=Level.high,
            tags=("syria",),
            topic="ceasefire",
        ),
        topics={
            "ceasefire": TopicScore(score=0.91, match=True),
            "prisoner_exchange": TopicScore(score=0.74, match=True),
        },
        article=AlertArticle(
            id=f"{n:064x}",
            path=f"seeds/{n:03d}_article.txt",
            title=f"Syria offers Aleppo ceasefire #{n}",
            source="The Moscow Times",
            url="https://www.themoscowtimes.com/2014/01/17/syria-offers-ceasefire-a31050",
            published=date(2014, 1, 17),
            received_at=datetime(2014, 1, 17, 11, 59, tzinfo=UTC),
        ),
        evidence=(
            Evidence(
                text=SENTENCE,
                start=0,
                end=len(SENTENCE),
                highlights=(
                    Highlight(start=start, end=start + len("ceasefire"), term="ceasefire"),
                    Highlight(start=swap, end=swap + len("prisoner swap"), term="prisoner swap"),
                ),
            ),
        ),
        story=AlertStory(
            id=f"story-{n}",
            article_count=1,
            sources=("The Moscow Times",),
            first_seen=datetime(2014, 1, 17, 11, 59, tzinfo=UTC),
        ),
    )
    return alert.model_copy(update=changes) if changes else alert


def store_alert(conn: sqlite3.Connection, alert: Alert, destinations: list[str], now: float) -> None:
    """What the pipeline does: the alert row and its outbox rows in one transaction."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO alerts (id, rule_id, story_id, article_id, revision, level, created_at, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alert.id,
                alert.rule.id,
                alert.story.id,
                alert.article.id,
                alert.revision,
                alert.rule.level.value,
                now,
                alert.model_dump_json(),
            ),
        )
        outbox.enqueue(conn, alert.id, destinations, now)


def prepare(state_dir: Path, alerts: list[Alert], destinations: list[str], now: float) -> None:
    conn = connect(state_dir)
    try:
        for alert in alerts:
            store_alert(conn, alert, destinations, now)
    finally:
        conn.close()


def states(state_dir: Path) -> dict[tuple[str, str], tuple[str, int, str | None]]:
    """(alert id, destination) → (state, attempts, last error), read through a fresh connection."""
    conn = connect(state_dir)
    try:
        rows = conn.execute(
            "SELECT alert_id, destination, state, attempts, last_error FROM outbox"
        ).fetchall()
    finally:
        conn.close()
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def config_of(**destinations: Destination) -> AdminConfig:
    return AdminConfig(destinations=destinations, routes=Routes(default=list(destinations)))


def run_dispatcher(config: AdminConfig, state_dir: Path, drain: float = 10.0, **options: Any) -> bool:
    """Start a dispatcher, drain the outbox (False if ``drain`` seconds were not enough), stop it."""

    async def main() -> bool:
        dispatcher = Dispatcher(config, state_dir, policy=options.pop("policy", FAST), **options)
        await dispatcher.start()
        try:
            return await dispatcher.drain(drain)
        finally:
            await dispatcher.stop(1.0)

    return asyncio.run(main())


def test_sample_alert_round_trips_through_its_json() -> None:
    alert = sample_alert(3)
    assert Alert.model_validate_json(alert.model_dump_json()) == alert
    assert alert.id != sample_alert(4).id
