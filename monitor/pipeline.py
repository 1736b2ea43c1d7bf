"""One inbox file through the pipeline: read, analyse, group into a story, decide alerts, store.

Two stages joined by a bounded queue: reading (I/O, in threads) runs ahead of analysis (CPU, in one
worker thread) by at most ``limits.queue_size`` articles, so a burst of files costs bounded memory;
files not yet read simply wait on disk, where a rescan finds them again after any loss.
"""

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import structlog

from monitor.alerts import story as stories
from monitor.alerts.build import build_alert, new_story, next_revision
from monitor.alerts.model import Alert
from monitor.alerts.silence import silencing
from monitor.analyse import Analyser
from monitor.config import AdminConfig
from monitor.dispatch.routing import destinations_for
from monitor.ingest.article import Article
from monitor.ingest.quarantine import QuarantineError, quarantine
from monitor.ingest.reader import Unreadable, check_name, read_article
from monitor.observability import metrics
from monitor.store import articles as store
from monitor.store import silences
from monitor.store.articles import FileStat, PendingAlert, StoryUpdate

log = structlog.get_logger(__name__)

QUARANTINE_DIR = "quarantine"
# Reasons that say nothing is wrong with the file yet: a writer may still fill it (`touch`, then write).
_NOT_YET = frozenset({"empty"})

OutcomeKind = Literal["processed", "duplicate", "unchanged", "quarantined", "skipped", "vanished"]


@dataclass(frozen=True)
class Outcome:
    path: Path
    kind: OutcomeKind
    article_id: str | None = None
    alerts: tuple[Alert, ...] = field(default=())


@dataclass(frozen=True)
class _Read:
    stat: FileStat
    article: Article
    seen_at: float


class Pipeline:
    """Owns the ingest-side database connection; one instance per daemon (or per ``check`` run)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        config: AdminConfig,
        analyser: Callable[[], Analyser],
        cpu: Executor,
        *,
        on_stored: Callable[[Outcome], None] = lambda _outcome: None,
    ) -> None:
        self._conn = conn
        self._config = config
        self._analyser = analyser
        self._cpu = cpu
        self._on_stored = on_stored
        self._inbox = config.inbox.resolve()
        self._quarantine_dir = config.state_dir / QUARANTINE_DIR
        self._articles: asyncio.Queue[_Read] = asyncio.Queue(maxsize=config.limits.queue_size)
        self._current: asyncio.Future[Outcome] | None = None
        self._current_since = 0.0

    async def read(self, path: Path, seen_at: float) -> Outcome | None:
        """Stage 1: read one file; returns an outcome if it ends here, else queues the article."""
        try:
            check_name(path)  # before the path reaches SQLite, which cannot encode a non-UTF-8 name
        except Unreadable as exc:
            return await self._reject(path, exc.reason, str(exc))
        try:
            stat = await asyncio.to_thread(FileStat.of, path)
        except FileNotFoundError:
            if await asyncio.to_thread(path.is_symlink):
                return await self._reject(path, "broken_link", "symlink points to nothing")
            return Outcome(path, "vanished")
        if store.file_unchanged(self._conn, stat):
            return Outcome(path, "unchanged")
        try:
            article = await asyncio.to_thread(
                read_article,
                path,
                max_bytes=self._config.limits.max_file_bytes,
                received_at=datetime.fromtimestamp(seen_at, UTC),
                inbox=self._inbox,
            )
        except FileNotFoundError:
            return Outcome(path, "vanished")
        except Unreadable as exc:
            if not exc.quarantine:
                return Outcome(path, "vanished")
            return await self._reject(path, exc.reason, str(exc))
        await self._articles.put(_Read(stat, article, seen_at))
        return None

    async def analyse_next(self) -> Outcome:
        """Stage 2: analyse and store the next article read.

        Cancelling this while it waits for an article is harmless; once an article is in hand its
        analysis runs to the end (shielded), and :meth:`finish_current` waits for it on shutdown.
        """
        item = await self._articles.get()
        self._current_since = time.monotonic()
        self._current = asyncio.ensure_future(self._analyse_or_quarantine(item))
        self._current.add_done_callback(lambda _task: self._articles.task_done())
        return await asyncio.shield(self._current)

    def busy_for(self) -> float:
        """Seconds the article in hand has been under analysis (0 when none is)."""
        if self._current is None or self._current.done():
            return 0.0
        return time.monotonic() - self._current_since

    async def finish_current(self) -> None:
        """Wait for the article in hand, if any, to be stored."""
        if self._current is not None and not self._current.done():
            await asyncio.wait([self._current])

    def reconfigure(self, config: AdminConfig) -> None:
        """New routes and destinations after an admin config reload (inbox and limits stay)."""
        self._config = config

    async def join(self) -> None:
        """Wait until every article read so far has been analysed and stored."""
        await self._articles.join()

    async def _analyse_or_quarantine(self, item: _Read) -> Outcome:
        """An article that breaks analysis is quarantined, not retried forever; state errors propagate."""
        try:
            return await self._analyse(item)
        except sqlite3.Error:
            raise
        except Exception as exc:
            log.exception("article_analysis_failed", article_id=item.article.id, path=str(item.article.path))
            return await self._reject(item.article.path, "analysis_failed", f"analysis raised {exc!r}")

    async def _analyse(self, item: _Read) -> Outcome:
        article = item.article
        if store.is_processed(self._conn, article.id):
            store.remember_file(self._conn, item.stat, article.id)
            log.info("article_duplicate", article_id=article.id, path=str(article.path))
            metrics.ARTICLES.labels("duplicate").inc()
            return Outcome(article.path, "duplicate", article.id)
        analyser = self._analyser()
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        analysis = await loop.run_in_executor(self._cpu, analyser.analyse, article)
        metrics.CLASSIFIER_SECONDS.observe(time.perf_counter() - started)
        signature = await loop.run_in_executor(self._cpu, stories.signature, article.text)
        now = time.time()
        created_at = datetime.fromtimestamp(now, UTC)
        story = self._story_for(article, signature, now)
        # Read again for each article, so that `newsmon silence` applies at once without telling the daemon.
        active = silences.active(self._conn, now) if analysis.matches else []
        alerts = []
        silenced = []
        for match in analysis.matches:
            metrics.RULE_MATCHES.labels(match.rule.id).inc()
            last = None if story.is_new else store.last_alert(self._conn, match.rule.id, story.story.id)
            revision = next_revision(match.rule.realert, last, now)
            if revision is None:
                _suppressed("realert", match.rule.id, story.story.id, article.id)
                continue
            alert = build_alert(
                match=match,
                article=article,
                topics=analysis.topics,
                story=story.story,
                revision=revision,
                created_at=created_at,
            )
            # A silenced alert is not stored, so it does not count for realert: once the silence ends,
            # the story may alert again.
            silence = silencing(active, alert, created_at)
            if silence is not None:
                _suppressed("silenced", match.rule.id, story.story.id, article.id, silence_id=silence.id)
                silenced.append(silence.id)
                continue
            destinations = destinations_for(match.rule.notify, match.rule.level, self._config)
            if not destinations:
                log.warning("alert_unrouted", alert_id=alert.id, rule_id=match.rule.id)
            alerts.append(PendingAlert(alert, destinations))
        store.record_article(
            self._conn,
            article=article,
            stat=item.stat,
            story=story,
            alerts=alerts,
            silenced=silenced,
            now=now,
        )
        metrics.ARTICLES.labels("processed").inc()
        metrics.INGEST_TO_ALERT.observe(max(0.0, time.time() - item.seen_at))
        for pending in alerts:
            metrics.ALERTS_CREATED.labels(pending.alert.rule.level.value).inc()
            log.info(
                "alert_stored",
                alert_id=pending.alert.id,
                rule_id=pending.alert.rule.id,
                article_id=article.id,
                destinations=list(pending.destinations),
            )
        log.info(
            "article_processed",
            article_id=article.id,
            path=str(article.path),
            title=article.title,
            story_id=story.story.id,
            alerts=len(alerts),
            topics={k: round(v.score, 3) for k, v in analysis.topics.items()},
        )
        outcome = Outcome(article.path, "processed", article.id, tuple(p.alert for p in alerts))
        self._on_stored(outcome)
        return outcome

    def _story_for(self, article: Article, signature: bytes, now: float) -> StoryUpdate:
        band_keys = stories.bands(signature)
        existing = stories.best_story(signature, store.story_candidates(self._conn, band_keys, now))
        if existing is None:
            story = new_story(article, datetime.fromtimestamp(now, UTC))
            return StoryUpdate(story, True, signature, band_keys, now)
        old = store.load_story(self._conn, existing)
        added = (article.source,) if article.source and article.source not in old.sources else ()
        story = old.model_copy(
            update={"article_count": old.article_count + 1, "sources": old.sources + added}
        )
        return StoryUpdate(story, False, signature, band_keys, now)

    async def _reject(self, path: Path, reason: str, detail: str) -> Outcome:
        """Move a bad file aside (``quarantine`` logs and counts it); never let it stop the pipeline."""
        if reason in _NOT_YET:
            log.info("article_skipped", path=str(path), reason=reason, detail=detail)
            metrics.ARTICLES.labels("skipped").inc()
            return Outcome(path, "skipped")
        try:
            await asyncio.to_thread(quarantine, path, self._quarantine_dir, reason, detail)
        except QuarantineError as exc:
            log.error("article_quarantine_failed", path=str(path), reason=reason, error=exc.strerror)
            return Outcome(path, "skipped")
        return Outcome(path, "quarantined")


def _suppressed(reason: str, rule_id: str, story_id: str, article_id: str, **extra: str) -> None:
    """A match that made no alert: counted by reason, logged with what it was about."""
    metrics.ALERTS_SUPPRESSED.labels(reason).inc()
    log.info(
        "alert_suppressed", reason=reason, rule_id=rule_id, story_id=story_id, article_id=article_id, **extra
    )
