"""Turning a rule match into an alert, and deciding whether a story may alert again (realert)."""

from collections.abc import Mapping
from datetime import datetime, timedelta

from monitor.alerts.model import (
    Alert,
    AlertArticle,
    AlertRule,
    AlertStory,
    TopicScore,
    alert_id,
)
from monitor.analyse import Match, TopicResultLike
from monitor.ingest.article import Article


def next_revision(realert: timedelta | None, last: tuple[float, int] | None, now: float) -> int | None:
    """The revision to alert with, or None when realert suppresses it.

    A rule alerts once per story; with ``realert`` set it may alert again on the same story once that
    much time has passed since its last alert (ElastAlert's ``realert``, keyed by story).
    """
    if last is None:
        return 1
    last_at, revision = last
    if realert is not None and now - last_at >= realert.total_seconds():
        return revision + 1
    return None


def new_story(article: Article, first_seen: datetime) -> AlertStory:
    """The story an article starts when it is no near duplicate of a recent one."""
    return AlertStory(
        id=article.id[:16],
        article_count=1,
        sources=(article.source,) if article.source else (),
        first_seen=first_seen,
    )


def build_alert(
    *,
    match: Match,
    article: Article,
    topics: Mapping[str, TopicResultLike],
    story: AlertStory,
    revision: int,
    created_at: datetime,
) -> Alert:
    rule = match.rule
    return Alert(
        id=alert_id(rule.id, story.id, revision),
        created_at=created_at,
        revision=revision,
        rule=AlertRule(
            id=rule.id, title=rule.title, level=rule.level, tags=tuple(rule.tags), topic=rule.topic
        ),
        topics={name: TopicScore(score=round(r.score, 4), match=r.match) for name, r in topics.items()},
        article=AlertArticle(
            id=article.id,
            path=str(article.path),
            title=article.title,
            source=article.source,
            url=article.url,
            published=article.published,
            received_at=article.received_at,
        ),
        evidence=match.evidence,
        story=story,
    )
