"""A real HTTP receiver for tests: a stdlib server on 127.0.0.1 (a free port) in a background thread.

It answers each request with the next scripted :class:`Reply` (then with the default reply), and records
every request: method, path, headers, body, arrival time and the status it was answered with. All
methods are thread-safe, so the code under test may run in another thread, event loop or process.

    with Receiver() as rx:                        # default reply: 200 "ok"
        rx.script(Reply(500), Reply(500), Reply(429, headers={"Retry-After": "2"}))
        rx.script(Reply(200, delay=Reply.HANG))   # never answers (until the receiver closes)
        post_somewhere(rx.url)                    # http://127.0.0.1:<port>/hook
        first, *rest = rx.wait_for(4, timeout=10) # blocks until 4 requests arrived, else AssertionError
        first.header("idempotency-key"), first.json(), first.at, first.status

``Reply(delay=s)`` answers after ``s`` seconds; ``Reply.HANG`` holds the request open until
:meth:`Receiver.close`, which then drops the connection without an answer. ``rx.delivered()`` lists the
requests answered with a 2xx, and ``rx.keys()`` their ``Idempotency-Key`` values.
"""

import json
import math
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    HANG: ClassVar[float] = math.inf


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic() at arrival
    status: int | None  # None while unanswered, or when the connection was dropped

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, default: Reply | None = None, path: str = "/hook") -> None:
        self._default = default or Reply()
        self._script: list[Reply] = []
        self._requests: list[Request] = []
        self._cond = threading.Condition()
        self._closing = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                receiver._handle(self)

            do_PUT = do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="receiver", daemon=True)
        self._thread.start()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order, after any replies already scripted."""
        with self._cond:
            self._script.extend(replies)

    def set_default(self, reply: Reply) -> None:
        with self._cond:
            self._default = reply

    @property
    def requests(self) -> list[Request]:
        with self._cond:
            return list(self._requests)

    def delivered(self) -> list[Request]:
        return [r for r in self.requests if r.status is not None and 200 <= r.status < 300]

    def keys(self) -> list[str | None]:
        return [r.header("idempotency-key") for r in self.delivered()]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """The first ``count`` requests once they have arrived; AssertionError after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(
                    f"expected {count} requests within {timeout} s, got {len(self._requests)}"
                )
            return list(self._requests[:count])

    def wait_delivered(self, count: int, timeout: float = 10.0) -> list[Request]:
        """Like :meth:`wait_for`, counting only requests answered with a 2xx."""

        def ok() -> list[Request]:
            return [r for r in self._requests if r.status is not None and 200 <= r.status < 300]

        with self._cond:
            if not self._cond.wait_for(lambda: len(ok()) >= count, timeout):
                raise AssertionError(f"expected {count} deliveries within {timeout} s, got {len(ok())}")
            return ok()[:count]

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(
            method=handler.command,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
            at=time.monotonic(),
            status=None,
        )
        with self._cond:
            index = len(self._requests)
            self._requests.append(request)
            self._cond.notify_all()
            reply = self._script.pop(0) if self._script else self._default
        if reply.delay and self._closing.wait(None if math.isinf(reply.delay) else reply.delay):
            handler.close_connection = True  # closing: drop the connection unanswered
            return
        with self._cond:  # recorded before answering: a client that sees the answer may check at once
            self._requests[index] = replace(request, status=reply.status)
            self._cond.notify_all()
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        handler.wfile.write(reply.body)
        handler.wfile.flush()
