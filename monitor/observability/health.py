"""``/healthz``, ``/readyz`` and ``/metrics`` over HTTP, served from the daemon's own event loop.

Why a small asyncio server and not prometheus_client's ``start_http_server`` thread: a thread answers
even while the event loop is stuck, so ``/healthz`` would say "alive" about a daemon that does nothing.
Served from the loop, any answer at all proves the loop turns. The metrics text itself is rendered in a
worker thread so that a large registry never stalls the loop.

The server speaks just enough HTTP/1.1 for Prometheus, curl and load balancers: ``GET`` and ``HEAD``,
one request per connection. It is built for hostile clients on an exposed port: the request head is
capped in size and time, connections are capped in number, and nothing a client sends reaches a log
line except the method and path of refused requests.
"""

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

import structlog
from prometheus_client.exposition import choose_encoder

from monitor.observability.metrics import REGISTRY

log = structlog.get_logger(__name__)

MAX_HEAD_BYTES = 8192
HEAD_TIMEOUT_SECONDS = 5.0
MAX_CONNECTIONS = 32
_JSON = "application/json"


@dataclass(frozen=True)
class Health:
    """What the daemon knows about itself, asked for on every ``/healthz`` and ``/readyz``.

    ``alive``: the pipeline runs and pending work makes progress (the same test that feeds the systemd
    watchdog). ``ready``: rules, classifier and state are loaded and the daemon accepts work.
    """

    alive: bool
    ready: bool
    reason: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class _Response:
    status: HTTPStatus
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class HealthServer:
    """Serves the three endpoints on ``host:port`` until :meth:`stop`; ``port=0`` picks a free port."""

    def __init__(self, host: str, port: int, readiness: Callable[[], Health]) -> None:
        self._host = host
        self._requested_port = port
        self._readiness = readiness
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def port(self) -> int:
        """The port actually bound (the one the OS chose when 0 was asked)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the health server is not running")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self._host, self._requested_port, limit=MAX_HEAD_BYTES, reuse_address=True
        )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        # Abort the connections rather than cancel their tasks: a handler then ends on a connection error
        # it already handles, where a cancelled handler task makes Python 3.11's stream machinery log an
        # "Exception in callback" error for each one.
        for writer in list(self._connections.values()):
            writer.transport.abort()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._connections) >= MAX_CONNECTIONS:
            writer.close()
            return
        self._connections[task] = writer
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away (or stop() cut it off): nothing to answer
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(HEAD_TIMEOUT_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            return  # a slow or silent client: drop it rather than hold a slot
        except asyncio.LimitOverrunError:
            response = _text(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large\n")
            await _send(writer, response, include_body=True)
            return
        request = _parse_head(head)
        if request is None:
            await _send(writer, _text(HTTPStatus.BAD_REQUEST, "bad request\n"), include_body=True)
            return
        method, path, accept = request
        response = await self._respond(method, path, accept)
        await _send(writer, response, include_body=method != "HEAD")

    async def _respond(self, method: str, path: str, accept: str) -> _Response:
        if path not in ("/healthz", "/readyz", "/metrics"):
            return _text(HTTPStatus.NOT_FOUND, "not found: try /healthz, /readyz or /metrics\n")
        if method not in ("GET", "HEAD"):
            log.info("health_request_refused", method=method[:16], path=path)
            response = _text(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD\n")
            return _Response(response.status, response.content_type, response.body, (("Allow", "GET, HEAD"),))
        if path == "/metrics":
            encoder, content_type = choose_encoder(accept)
            body = await asyncio.to_thread(encoder, REGISTRY)
            return _Response(HTTPStatus.OK, content_type, body)
        health = self._check()
        if path == "/healthz":
            ok, reason = health.alive, health.reason or "pipeline stalled or stopped"
        else:
            ok, reason = health.alive and health.ready, health.reason or _not_ready_reason(health)
        payload: dict[str, object] = {"status": "ok" if ok else "unavailable", **health.details}
        if not ok:
            payload["reason"] = reason
        status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
        return _Response(status, _JSON, json.dumps(payload, default=str).encode() + b"\n")

    def _check(self) -> Health:
        """The daemon's answer; a readiness callback that fails means "not ready", never a 500."""
        try:
            return self._readiness()
        except Exception as exc:
            log.warning("health_check_failed", error=repr(exc))
            return Health(alive=False, ready=False, reason=f"health check failed: {type(exc).__name__}")


def _not_ready_reason(health: Health) -> str:
    if not health.alive:
        return "pipeline stalled or stopped"
    return "starting, reloading or stopping"


def _parse_head(head: bytes) -> tuple[str, str, str] | None:
    """``(method, path, accept)`` from a request head, or ``None`` if it is not HTTP/1.x."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return None
    request_line, *header_lines = text.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        return None
    method, target, _version = parts
    accept = ""
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "accept":
            accept = value.strip()
    return method, target.split("?", 1)[0], accept


def _text(status: HTTPStatus, body: str) -> _Response:
    return _Response(status, "text/plain; charset=utf-8", body.encode())


async def _send(writer: asyncio.StreamWriter, response: _Response, *, include_body: bool) -> None:
    lines = [
        f"HTTP/1.1 {response.status.value} {response.status.phrase}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        "Cache-Control: no-store",
        "Connection: close",
        *(f"{name}: {value}" for name, value in response.headers),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
    if include_body:
        writer.write(response.body)
    await writer.drain()
