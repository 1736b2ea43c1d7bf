"""The dispatcher: one worker per destination drains the SQLite outbox, politely and in order.

Each destination has its own asyncio task, so a slow or dead destination only ever delays itself.
A worker attempts only its oldest pending row (order per destination is kept), and turns the sink's
:data:`~monitor.dispatch.notifier.Outcome` into the row's next state:

* delivered: marked delivered (never deleted here; pruning old rows is the daemon's job);
* retry: tried again after exponential backoff with jitter, or after exactly the ``Retry-After`` the
  destination asked for; once the row is older than the destination's ``max_age_hours`` it is
  dead-lettered;
* failed (a 4xx other than 408/429, an unusable URL): dead-lettered at once, logged loudly and
  reported to the operator destinations.

A row changes state only after its attempt has finished, so a crash or an abandoned attempt leaves it
pending and it is sent again, with the same ``Idempotency-Key``, by the next run.

All SQLite work runs on one dedicated thread that owns the dispatcher's connection: commits are
``synchronous=FULL`` fsyncs, and the event loop must not wait on the disk.
"""

import asyncio
import contextlib
import functools
import random
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

import httpx
import structlog
from pydantic import ValidationError

from monitor.alerts.model import Alert
from monitor.dispatch.destinations import Destination, SecretSourceError
from monitor.dispatch.http import HttpClient
from monitor.dispatch.notifier import Delivered, Failed, Message, Notice, Notifier, Outcome, Retry
from monitor.dispatch.policy import RetryPolicy, TokenBucket
from monitor.dispatch.sinks import build_notifier
from monitor.observability import metrics
from monitor.store import outbox
from monitor.store.db import connect

if TYPE_CHECKING:  # monitor.config imports this package for the Destination model
    from monitor.config import AdminConfig

log = structlog.get_logger(__name__)

T = TypeVar("T")

NOTICE_ATTEMPTS = 5  # operator notices are best effort: they are always in the log as well


@dataclass(eq=False)
class _Lane:
    """One destination's worker state."""

    name: str
    destination: Destination
    bucket: TokenBucket | None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    paused_until: float = 0.0
    notifier: Notifier | None = None


class Dispatcher:
    """Delivers the outbox of the state directory to the destinations of ``config``.

    ``policy``, ``transport``, ``stdout`` and ``rand`` exist so tests can make backoff fast, and are
    left alone in production.
    """

    def __init__(
        self,
        config: "AdminConfig",
        state_dir: Path,
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        stdout: TextIO | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._config = config
        self._state_dir = state_dir
        self._policy = policy or RetryPolicy()
        self._transport = transport
        self._stdout = stdout
        self._rand = rand
        self._lanes: dict[str, _Lane] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._notices: set[asyncio.Task[None]] = set()
        self._progress = asyncio.Event()
        self._stopping = False
        self._stopped = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._client: HttpClient | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and start one worker per configured destination."""
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmon-outbox")
        self._conn = await self._loop.run_in_executor(self._executor, connect, self._state_dir)
        self._client = HttpClient(self._transport)
        orphans = await self._db(outbox.orphan_destinations, set(self._config.destinations))
        if orphans:
            log.warning("outbox_orphan_destinations", destinations=orphans)
        now = time.time()
        for name, destination in self._config.destinations.items():
            rate = destination.rate
            bucket = TokenBucket(rate, destination.burst, now) if rate is not None else None
            lane = _Lane(name, destination, bucket)
            self._lanes[name] = lane
            self._tasks.append(asyncio.create_task(self._work(lane), name=f"dispatch:{name}"))

    def wake(self) -> None:
        """New rows were committed: workers look now instead of at their next poll. Thread-safe."""
        if self._loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._wake_all()
        else:
            self._loop.call_soon_threadsafe(self._wake_all)

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109 (the daemon's --drain-timeout)
        """Wait until every row is delivered or dead (and operator notices are sent); False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.wake()
        while True:
            self._progress.clear()
            pending = await self._db(outbox.pending_count, list(self._lanes))
            if pending == 0 and not self._notices:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning("drain_incomplete", pending=pending)
                return False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, self._policy.poll_interval)):
                    await self._progress.wait()

    async def stop(self, grace: float) -> None:
        """Let attempts in flight finish for up to ``grace`` seconds, then abandon them (left pending)."""
        self._stopping = True
        self._wake_all()
        tasks = [*self._tasks, *self._notices]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("dispatch_abandoned", tasks=sorted(t.get_name() for t in late))
        self._tasks.clear()
        if self._client is not None:
            await self._client.aclose()
        if self._executor is not None:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
            self._executor.shutdown(wait=True)
            self._executor = None

    async def report_to_operator(self, event: str, message: str) -> None:
        """Log ``message`` and send it to the operator destinations in the background (best effort)."""
        log.error("operator_notice", notice=event, message=message)
        if self._loop is None or self._stopping:
            return
        notice = Notice.create(event, message, datetime.now(UTC))
        for name in self._config.operator_destinations:
            lane = self._lanes.get(name)
            if lane is None:
                continue
            task = asyncio.create_task(self._send_notice(lane, notice), name=f"notice:{name}")
            self._notices.add(task)
            task.add_done_callback(self._notice_done)

    # ---- workers ---------------------------------------------------------------------------------

    async def _work(self, lane: _Lane) -> None:
        while not self._stopping:
            lane.wake.clear()
            try:
                row = await self._db(outbox.head, lane.name)
                await self._update_gauges(lane)
                if row is None:
                    await self._sleep(self._policy.poll_interval, lane.wake)
                    continue
                due_in = row.next_attempt_at - time.time()
                if due_in > 0:
                    await self._sleep(min(due_in, self._policy.poll_interval), lane.wake)
                    continue
                await self._deliver(lane, row)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or a broken store must not end delivery for good
                log.exception("dispatch_worker_error", destination=lane.name)
                await self._sleep(self._policy.poll_interval, lane.wake)

    async def _deliver(self, lane: _Lane, row: outbox.OutboxRow) -> None:
        try:
            alert: Message = Alert.model_validate_json(row.payload)
        except ValidationError as exc:
            outcome: Outcome = Failed(
                f"stored alert does not match the alert schema ({exc.error_count()} errors)"
            )
        else:
            if not await self._throttle(lane):
                return
            outcome = await self._attempt(lane, alert)
        await self._record(lane, row, outcome)

    async def _attempt(self, lane: _Lane, message: Message) -> Outcome:
        if lane.notifier is None:
            assert self._client is not None
            try:
                lane.notifier = build_notifier(
                    lane.destination, state_dir=self._state_dir, client=self._client, stdout=self._stdout
                )
            except SecretSourceError as exc:  # the message names the variable or file, never the value
                return Retry(f"destination not usable: {exc}")
        return await lane.notifier.send(message)

    async def _record(self, lane: _Lane, row: outbox.OutboxRow, outcome: Outcome) -> None:
        now = time.time()
        attempt = row.attempts + 1
        context = {
            "destination": lane.name,
            "alert_id": row.alert_id,
            "rule_id": row.rule_id,
            "attempt": attempt,
        }
        match outcome:
            case Delivered():
                await self._db(outbox.mark_delivered, row.seq, now)
                metrics.STORED_TO_DELIVERED.labels(lane.name).observe(max(0.0, now - row.created_at))
                log.info("alert_delivered", **context)
            case Retry(reason, retry_after):
                if retry_after is not None:
                    lane.paused_until = max(lane.paused_until, now + retry_after)
                age = now - row.created_at
                if age >= lane.destination.max_age_hours * 3600:
                    outcome = Failed(
                        f"gave up after {attempt} attempts over {age / 3600:.1f} h; last: {reason}"
                    )
                    await self._dead_letter(lane, row, outcome.reason, context)
                else:
                    delay = (
                        retry_after if retry_after is not None else self._policy.delay(attempt, self._rand())
                    )
                    await self._db(outbox.mark_retry, row.seq, now + delay, reason)
                    log.warning("delivery_retry", reason=reason, retry_in=round(delay, 3), **context)
            case Failed(reason):
                await self._dead_letter(lane, row, reason, context)
        metrics.DELIVERIES.labels(lane.name, _outcome_label(outcome)).inc()
        await self._update_gauges(lane)
        self._progress.set()

    async def _dead_letter(
        self, lane: _Lane, row: outbox.OutboxRow, reason: str, context: dict[str, object]
    ) -> None:
        await self._db(outbox.mark_dead, row.seq, reason)
        log.error("delivery_dead_letter", reason=reason, **context)
        await self.report_to_operator(
            "dead_letter",
            f"Alert {row.alert_id} (rule {row.rule_id}) could not be delivered to {lane.name}: {reason}\n"
            f"After fixing the cause: newsmon alerts retry {row.alert_id}",
        )

    async def _send_notice(self, lane: _Lane, notice: Notice) -> None:
        attempt = 0
        while await self._throttle(lane):
            attempt += 1
            outcome = await self._attempt(lane, notice)
            match outcome:
                case Delivered():
                    return
                case Retry(reason, retry_after) if attempt < NOTICE_ATTEMPTS:
                    if retry_after is not None:
                        lane.paused_until = max(lane.paused_until, time.time() + retry_after)
                    delay = (
                        retry_after if retry_after is not None else self._policy.delay(attempt, self._rand())
                    )
                    await self._sleep(delay)
                case Retry(reason) | Failed(reason):
                    log.error(
                        "operator_notice_undelivered",
                        destination=lane.name,
                        notice=notice.event,
                        reason=reason,
                    )
                    return

    def _notice_done(self, task: asyncio.Task[None]) -> None:
        self._notices.discard(task)
        self._progress.set()

    # ---- waiting ---------------------------------------------------------------------------------

    async def _throttle(self, lane: _Lane) -> bool:
        """Wait out a destination's Retry-After pause and its rate limit; False if stopping meanwhile."""
        while (pause := lane.paused_until - time.time()) > 0:
            if not await self._sleep(pause):
                return False
        if lane.bucket is not None:
            wait = lane.bucket.reserve(time.time())
            if wait > 0 and not await self._sleep(wait):
                return False
        return not self._stopping

    async def _sleep(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """Sleep up to ``seconds``, cut short by ``wake`` if given and always by a stop; False if stopping."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, seconds)):
                await (wake or self._stopped).wait()
        return not self._stopping

    def _wake_all(self) -> None:
        for lane in self._lanes.values():
            lane.wake.set()
        if self._stopping:
            self._stopped.set()

    # ---- store -----------------------------------------------------------------------------------

    async def _db(self, fn: Callable[..., T], *args: object) -> T:
        if self._conn is None or self._executor is None:
            raise RuntimeError("the dispatcher is not started")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, self._conn, *args))

    async def _update_gauges(self, lane: _Lane) -> None:
        count, oldest = await self._db(outbox.backlog, lane.name)
        metrics.OUTBOX_DEPTH.labels(lane.name).set(count)
        metrics.OUTBOX_OLDEST_AGE.labels(lane.name).set(max(0.0, time.time() - oldest) if oldest else 0.0)


def _outcome_label(outcome: Outcome) -> str:
    match outcome:
        case Delivered():
            return "delivered"
        case Retry():
            return "retry"
        case Failed():
            return "dead"
