"""The daemon: wires watcher → pipeline → store → dispatcher, and handles signals, reloads and jobs.

Lifecycle (what operators and systemd see):
- start: open state, load topics + classifier + rules (refuse to start on invalid rules), start the
  dispatcher, rescan the inbox for files that arrived while stopped, start watching, then READY=1.
- SIGHUP or an edit in the rules folder (rule files, topics.yaml, lists.yaml, the trained heads): reload
  rules and topics (SIGHUP also re-reads the admin config); the new set replaces the old one only if
  every file is valid.
- SIGTERM / SIGINT: stop intake, let the article under analysis finish and commit, give deliveries in
  flight ``stop_grace`` seconds, close the database. Files not yet stored stay in the inbox and are
  read again at the next start; an alert not yet delivered stays in the outbox. A second signal exits
  at once: SQLite's transactions keep the database consistent whatever instant that is.
"""

import asyncio
import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from monitor.classify.head import HEAD_FILE
from monitor.config import AdminConfig, ConfigError, load_config
from monitor.dispatch import Dispatcher
from monitor.engine import Engine, EngineError, load_engine
from monitor.ingest.watcher import InboxWatcher, scan_inbox
from monitor.observability import metrics
from monitor.observability.health import Health, HealthServer
from monitor.observability.status import write_heartbeat
from monitor.observability.systemd import SystemdNotifier
from monitor.pipeline import Outcome, Pipeline
from monitor.store import silences
from monitor.store.articles import prune_stories
from monitor.store.db import connect

log = structlog.get_logger(__name__)

RELOAD_DEBOUNCE_SECONDS = 0.3
HEARTBEAT_SECONDS = 10.0
STALL_SECONDS = 300.0  # work pending and no progress for this long: stop feeding the systemd watchdog
DELIVERED_RETENTION_SECONDS = 30 * 24 * 3600
# Periodic and overflow rescans only take files unmodified this long: a younger one may still be being
# written, and its close event (or a later rescan) brings it in. The start-up scan takes every file.
RESCAN_MIN_AGE_SECONDS = 10.0


class Daemon:
    def __init__(
        self,
        config: AdminConfig,
        *,
        once: bool = False,
        drain_timeout: float = 300.0,
        polling: bool = False,
        stop_grace: float = 10.0,
    ) -> None:
        self._config = config
        self._once = once
        self._drain_timeout = drain_timeout
        self._polling = polling
        self._stop_grace = stop_grace
        self._notifier = SystemdNotifier.from_env()
        self._pending: dict[Path, float] = {}
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._reload_handle: asyncio.TimerHandle | None = None
        self._reload_lock = asyncio.Lock()  # two SIGHUPs must not build two dispatchers
        self._exit_code = 0
        self._last_progress = time.monotonic()
        self._started_at = time.time()
        self._last_reload: dict[str, object] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analyse")
        self._engine: Engine
        self._conn: sqlite3.Connection
        self._dispatcher: Dispatcher
        self._pipeline: Pipeline

    # ---- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until stopped (or, with ``once``, until the inbox is processed and delivered)."""
        loop = asyncio.get_running_loop()
        self._conn = connect(self._config.state_dir)
        try:
            self._engine = await loop.run_in_executor(self._cpu, load_engine, self._config, None)
        except EngineError as exc:
            log.error("rules_invalid", errors=str(exc).splitlines())
            self._conn.close()
            return 2
        metrics.RULES_LOADED.set(len(self._engine.analyser.ruleset.rules))
        self._dispatcher = Dispatcher(self._config, self._config.state_dir)
        await self._dispatcher.start()
        self._pipeline = Pipeline(
            self._conn, self._config, lambda: self._engine.analyser, self._cpu, on_stored=self._stored
        )
        try:
            if self._once:
                return await self._run_once()
            return await self._run_forever(loop)
        finally:
            await self._dispatcher.stop(self._stop_grace)
            self._cpu.shutdown(wait=True)
            self._conn.close()
            log.info("daemon_stopped")

    async def _run_once(self) -> int:
        analyse = asyncio.create_task(self._analyse_loop(), name="analyse")
        for path in await asyncio.to_thread(self._scan, 0.0):
            await self._read(path, time.time())
        joined = asyncio.ensure_future(self._pipeline.join())
        await asyncio.wait([joined, analyse], return_when=asyncio.FIRST_COMPLETED)
        if analyse.done():  # analysis died: the queue will never empty
            joined.cancel()
            log.error("pipeline_stage_failed", stage="analyse", error=repr(analyse.exception()))
            return 1
        analyse.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await analyse
        drained = await self._dispatcher.drain(self._drain_timeout)
        if not drained:
            log.error("drain_timeout", seconds=self._drain_timeout)
        return 0 if drained else 3

    async def _run_forever(self, loop: asyncio.AbstractEventLoop) -> int:
        self._install_signals(loop)
        inbox_watcher = InboxWatcher(
            self._config.inbox,
            loop,
            on_ready=self._intake,
            on_overflow=lambda: self._spawn(self._rescan("overflow")),
            polling=self._polling,
            settle_seconds=self._config.limits.settle_seconds,
            excluded=(self._config.state_dir,),
        )
        rules_observer = self._watch_rules(loop)
        scheduler = self._scheduler()
        health = await self._start_health()
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="read"),
            asyncio.create_task(self._analyse_loop(), name="analyse"),
        ]
        for task in self._tasks:
            task.add_done_callback(self._stage_ended)
        inbox_watcher.start()  # before the scan, so nothing written in between is missed
        await self._rescan("startup")
        scheduler.start()
        await self._heartbeat()
        self._notifier.ready()
        self._notifier.status(f"watching {self._config.inbox}")
        log.info(
            "daemon_ready", inbox=str(self._config.inbox), rules=len(self._engine.analyser.ruleset.rules)
        )
        watchdog = asyncio.create_task(self._watchdog_loop(), name="watchdog")
        await self._stopping.wait()

        self._notifier.stopping()
        log.info("daemon_stopping")
        inbox_watcher.stop()
        rules_observer.stop()
        scheduler.shutdown(wait=False)
        watchdog.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, watchdog, return_exceptions=True)
        await self._pipeline.finish_current()
        if health is not None:
            await health.stop()
        rules_observer.join(timeout=5)
        return self._exit_code

    def stop(self) -> None:
        self._stopping.set()

    def _stage_ended(self, task: "asyncio.Task[None]") -> None:
        """A pipeline stage only ends by cancellation; anything else (the state database failing: disk
        full, locked for too long) stops the daemon with an error, so that systemd restarts it rather
        than leave a process that looks alive and ingests nothing."""
        if task.cancelled() or self._stopping.is_set():
            return
        log.error("pipeline_stage_failed", stage=task.get_name(), error=repr(task.exception()))
        self._exit_code = 1
        self._stopping.set()

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        def terminate(signum: int) -> None:
            if self._stopping.is_set():
                log.warning("forced_exit", signal=signal.Signals(signum).name)
                os._exit(128 + signum)
            log.info("signal_received", signal=signal.Signals(signum).name)
            self._stopping.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, terminate, signum)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self._reload(admin_config=True)))

    # ---- intake and the two pipeline stages ------------------------------------------------------

    def _intake(self, path: Path) -> None:
        """Called on the loop thread for every file the watcher or a rescan reports."""
        self._pending.setdefault(path, time.time())
        self._wakeup.set()

    async def _rescan(self, reason: str) -> None:
        metrics.INBOX_RESCANS.labels(reason).inc()
        paths = await asyncio.to_thread(self._scan, 0.0 if reason == "startup" else RESCAN_MIN_AGE_SECONDS)
        for path in paths:
            self._intake(path)
        log.info("inbox_rescanned", reason=reason, files=len(paths))

    def _scan(self, min_age: float) -> list[Path]:
        """Candidates, and refused entries too: the reader refuses them again, so they get quarantined."""
        refused: list[Path] = []
        found = scan_inbox(
            self._config.inbox,
            excluded=(self._config.state_dir,),
            min_age=min_age,
            on_refused=lambda path, _reason: refused.append(path),
        )
        return found + refused

    async def _read_loop(self) -> None:
        while True:
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            path = next(iter(self._pending))
            seen_at = self._pending.pop(path)
            await self._read(path, seen_at)

    async def _read(self, path: Path, seen_at: float) -> None:
        try:
            outcome = await self._pipeline.read(path, seen_at)
        except (OSError, ValueError) as exc:  # input trouble must never stop the daemon
            log.error("article_read_failed", path=str(path), error=repr(exc))
            return
        self._last_progress = time.monotonic()
        if outcome is not None and outcome.kind not in ("unchanged", "vanished"):
            log.debug("article_done", path=str(path), outcome=outcome.kind)

    async def _analyse_loop(self) -> None:
        while True:
            await self._pipeline.analyse_next()
            self._last_progress = time.monotonic()

    def _stored(self, outcome: Outcome) -> None:
        if outcome.alerts:
            self._dispatcher.wake()

    # ---- reload ----------------------------------------------------------------------------------

    def _watch_rules(self, loop: asyncio.AbstractEventLoop) -> BaseObserver:
        daemon = self

        class RulesChanged(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                name = Path(os.fsdecode(event.dest_path or event.src_path)).name
                if event.event_type in ("opened", "closed_no_write") or name.startswith("."):
                    return
                if name.endswith((".yaml", ".yml")) or name == HEAD_FILE or event.is_directory:
                    loop.call_soon_threadsafe(daemon._schedule_reload)

        observer = Observer()
        observer.schedule(RulesChanged(), str(self._config.rules_dir), recursive=False)
        observer.daemon = True
        observer.start()
        return observer

    def _schedule_reload(self) -> None:
        """Editors write in several steps; reload once the folder has been quiet for a moment."""
        if self._reload_handle is not None:
            self._reload_handle.cancel()
        loop = asyncio.get_running_loop()
        self._reload_handle = loop.call_later(
            RELOAD_DEBOUNCE_SECONDS, lambda: self._spawn(self._reload(admin_config=False))
        )

    async def _reload(self, *, admin_config: bool) -> None:
        async with self._reload_lock:
            await self._reload_now(admin_config=admin_config)

    async def _reload_now(self, *, admin_config: bool) -> None:
        self._notifier.reloading()
        try:
            if admin_config:
                await self._reload_admin_config()
            loop = asyncio.get_running_loop()
            try:
                engine = await loop.run_in_executor(self._cpu, load_engine, self._config, self._engine)
            except EngineError as exc:
                errors = str(exc).splitlines()
                metrics.RULE_RELOADS.labels("failed").inc()
                self._last_reload = {"ok": False, "at": time.time(), "errors": errors}
                log.error(
                    "rules_reload_failed", errors=errors, kept_rules=len(self._engine.analyser.ruleset.rules)
                )
                await self._dispatcher.report_to_operator(
                    "rules_reload_failed",
                    "Rule reload failed; the last good rules keep running.\n" + str(exc),
                )
                return
            self._engine = engine
            rules = len(engine.analyser.ruleset.rules)
            metrics.RULE_RELOADS.labels("ok").inc()
            metrics.RULES_LOADED.set(rules)
            self._last_reload = {"ok": True, "at": time.time(), "rules": rules}
            log.info("rules_reloaded", rules=rules)
        finally:
            self._notifier.ready()

    async def _reload_admin_config(self) -> None:
        """Destinations and routes may change at run time; inbox and state folder need a restart."""
        try:
            fresh = load_config(self._config.source)
        except ConfigError as exc:
            log.error("config_reload_failed", error=str(exc))
            return
        fresh = fresh.model_copy(
            update={
                "inbox": self._config.inbox,
                "state_dir": self._config.state_dir,
                "rules_dir": self._config.rules_dir,
            }
        )
        if fresh == self._config:
            return
        await self._dispatcher.stop(self._stop_grace)
        self._config = fresh
        self._dispatcher = Dispatcher(fresh, fresh.state_dir)
        await self._dispatcher.start()
        self._pipeline.reconfigure(fresh)
        log.info("config_reloaded", destinations=sorted(fresh.destinations))

    # ---- periodic jobs, health, watchdog ---------------------------------------------------------

    def _scheduler(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        scheduler.add_job(
            self._rescan,
            "interval",
            args=["periodic"],
            seconds=self._config.limits.rescan_seconds,
            id="rescan",
        )
        scheduler.add_job(self._heartbeat, "interval", seconds=HEARTBEAT_SECONDS, id="heartbeat")
        scheduler.add_job(self._prune, "interval", hours=6, id="prune")
        return scheduler

    def _alive(self) -> bool:
        """The pipeline is alive: its tasks run, and pending work is making progress."""
        if any(task.done() for task in self._tasks):
            return False
        if self._pipeline.busy_for() > STALL_SECONDS:  # one article stuck in analysis
            return False
        idle = not self._pending
        return idle or time.monotonic() - self._last_progress < STALL_SECONDS

    def _health(self) -> Health:
        return Health(
            alive=self._alive(),
            ready=self._alive() and not self._stopping.is_set(),
            details={"rules": len(self._engine.analyser.ruleset.rules), "pending_files": len(self._pending)},
        )

    async def _start_health(self) -> HealthServer | None:
        port = self._config.metrics.port
        if port is None:
            return None
        server = HealthServer(self._config.metrics.host, port, self._health)
        await server.start()
        log.info("metrics_listening", host=self._config.metrics.host, port=server.port)
        return server

    async def _watchdog_loop(self) -> None:
        interval = self._notifier.watchdog_interval()
        if interval is None:
            return
        while True:
            if self._alive():
                self._notifier.watchdog()
            else:
                log.error("pipeline_stalled", pending_files=len(self._pending))
            await asyncio.sleep(interval / 2)

    def _heartbeat_facts(self) -> dict[str, object]:
        return {
            "pid": os.getpid(),
            "started_at": self._started_at,
            "rules_loaded": len(self._engine.analyser.ruleset.rules),
            "last_reload": self._last_reload,
            "pending_files": len(self._pending),
            "alive": self._alive(),
        }

    async def _heartbeat(self) -> None:
        await asyncio.to_thread(write_heartbeat, self._config.state_dir, self._heartbeat_facts())

    async def _prune(self) -> None:
        """A coroutine, so that it runs on the loop thread that owns the database connection."""
        cutoff = time.time() - DELIVERED_RETENTION_SECONDS
        deleted = self._conn.execute(
            "DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < ?", (cutoff,)
        ).rowcount
        stories = prune_stories(self._conn, time.time())
        ended = silences.prune(self._conn, time.time())
        log.info("state_pruned", delivered_rows=deleted, stories=stories, silences=ended)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        task.add_done_callback(_log_task_failure)


def _log_task_failure(task: "asyncio.Future[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background_task_failed", error=repr(task.exception()))


def run_daemon(
    config: AdminConfig, *, once: bool = False, drain_timeout: float = 300.0, polling: bool = False
) -> int:
    """Run the daemon in a fresh event loop; returns the process exit code."""
    return asyncio.run(Daemon(config, once=once, drain_timeout=drain_timeout, polling=polling).run())
