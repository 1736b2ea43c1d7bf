"""The health server on a real 127.0.0.1 port, spoken to by a real HTTP client and by raw sockets."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pytest

from monitor.observability import health as health_module
from monitor.observability.health import Health, HealthServer
from monitor.observability.metrics import ARTICLES

T = TypeVar("T")


def serve(readiness: Callable[[], Health], scenario: Callable[[HealthServer, str], Awaitable[T]]) -> T:
    """Run ``scenario(server, base_url)`` against a started server on a free port, then stop it."""

    async def main() -> T:
        server = HealthServer("127.0.0.1", 0, readiness)
        await server.start()
        try:
            return await scenario(server, f"http://127.0.0.1:{server.port}")
        finally:
            await server.stop()

    return asyncio.run(main())


async def get(url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(url, headers=headers)


async def raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=5)
    except ConnectionResetError:
        return b""  # closed by the server with our request unread: the kernel answers with a reset
    finally:
        writer.close()


def healthy() -> Health:
    return Health(alive=True, ready=True, details={"rules": 3, "pending_files": 0})


def test_healthz_and_readyz_when_all_is_well() -> None:
    async def scenario(_server: HealthServer, base: str) -> tuple[httpx.Response, httpx.Response]:
        return await get(base + "/healthz"), await get(base + "/readyz?verbose=1")

    live, ready = serve(healthy, scenario)
    for response in (live, ready):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"
        assert response.json() == {"status": "ok", "rules": 3, "pending_files": 0}


def test_alive_but_not_ready_is_503_on_readyz_only() -> None:
    async def scenario(_server: HealthServer, base: str) -> tuple[httpx.Response, httpx.Response]:
        return await get(base + "/healthz"), await get(base + "/readyz")

    live, ready = serve(lambda: Health(alive=True, ready=False), scenario)
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "starting, reloading or stopping"}


def test_stalled_pipeline_fails_both_with_the_daemons_reason() -> None:
    def stalled() -> Health:
        return Health(alive=False, ready=True, reason="no progress for 300 s", details={"pending_files": 7})

    async def scenario(_server: HealthServer, base: str) -> tuple[httpx.Response, httpx.Response]:
        return await get(base + "/healthz"), await get(base + "/readyz")

    for response in serve(stalled, scenario):
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "pending_files": 7,
            "reason": "no progress for 300 s",
        }


def test_a_failing_readiness_callback_is_a_503_never_a_500() -> None:
    def broken() -> Health:
        raise RuntimeError("database is locked")

    async def scenario(_server: HealthServer, base: str) -> httpx.Response:
        return await get(base + "/readyz")

    response = serve(broken, scenario)
    assert response.status_code == 503
    assert response.json()["reason"] == "health check failed: RuntimeError"


def test_metrics_in_prometheus_text_and_openmetrics() -> None:
    ARTICLES.labels(outcome="processed").inc()

    async def scenario(_server: HealthServer, base: str) -> tuple[httpx.Response, httpx.Response]:
        plain = await get(base + "/metrics")
        open_metrics = await get(base + "/metrics", accept="application/openmetrics-text; version=1.0.0")
        return plain, open_metrics

    plain, open_metrics = serve(healthy, scenario)
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE newsmon_articles_total counter" in plain.text
    processed = [
        line
        for line in plain.text.splitlines()
        if line.startswith('newsmon_articles_total{outcome="processed"}')
    ]
    assert processed and float(processed[0].split()[-1]) >= 1
    for name in (
        "newsmon_ingest_to_alert_seconds_bucket",
        "newsmon_rules_loaded",
        "newsmon_classifier_seconds",
    ):
        assert name in plain.text
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.rstrip().endswith("# EOF")


def test_head_has_headers_and_no_body() -> None:
    async def scenario(server: HealthServer, _base: str) -> bytes:
        return await raw(server.port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")

    response = serve(healthy, scenario)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    length = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    assert int(length.split(b":")[1]) > 0
    assert body == b""


def test_wrong_method_unknown_path_and_garbage() -> None:
    async def scenario(
        server: HealthServer, base: str
    ) -> tuple[httpx.Response, httpx.Response, bytes, bytes]:
        async with httpx.AsyncClient(timeout=5) as client:
            post = await client.post(base + "/healthz", content=b"x")
        missing = await get(base + "/admin")
        garbage = await raw(server.port, b"\x16\x03\x01\x02\x00\r\n\r\n")  # a TLS hello, more or less
        no_version = await raw(server.port, b"GET /healthz\r\n\r\n")
        return post, missing, garbage, no_version

    post, missing, garbage, no_version = serve(healthy, scenario)
    assert post.status_code == 405
    assert post.headers["allow"] == "GET, HEAD"
    assert missing.status_code == 404
    assert garbage.startswith(b"HTTP/1.1 400 ")
    assert no_version.startswith(b"HTTP/1.1 400 ")


def test_oversized_request_head_is_refused() -> None:
    async def scenario(server: HealthServer, _base: str) -> bytes:
        padding = b"X-Pad: " + b"a" * (health_module.MAX_HEAD_BYTES * 2) + b"\r\n"
        return await raw(server.port, b"GET /healthz HTTP/1.1\r\n" + padding + b"\r\n")

    assert serve(healthy, scenario).startswith(b"HTTP/1.1 431 ")


def test_silent_clients_are_dropped_and_cannot_exhaust_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle connections hold a slot only until the head timeout; past the cap, new ones are closed at once."""
    monkeypatch.setattr(health_module, "HEAD_TIMEOUT_SECONDS", 0.3)
    monkeypatch.setattr(health_module, "MAX_CONNECTIONS", 2)

    async def scenario(server: HealthServer, base: str) -> tuple[bytes, bytes, int]:
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
        await asyncio.sleep(0.05)
        over_cap = await raw(server.port, b"GET /healthz HTTP/1.1\r\n\r\n")
        dropped = await asyncio.wait_for(idle[0][0].read(), timeout=5)  # EOF after the head timeout
        for _, writer in idle:
            writer.close()
        after = await get(base + "/healthz")
        return over_cap, dropped, after.status_code

    over_cap, dropped, after = serve(healthy, scenario)
    assert over_cap == b""
    assert dropped == b""
    assert after == 200


def test_port_zero_binds_a_free_port_and_stop_releases_it() -> None:
    async def main() -> tuple[int, bool]:
        server = HealthServer("127.0.0.1", 0, healthy)
        await server.start()
        port = server.port
        assert port > 0
        response = await get(f"http://127.0.0.1:{port}/healthz")
        assert json.loads(response.content)["status"] == "ok"
        await server.stop()
        try:
            await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            return port, True
        return port, False

    _port, refused = asyncio.run(main())
    assert refused
    with pytest.raises(RuntimeError):
        _ = HealthServer("127.0.0.1", 0, healthy).port


def test_stop_with_clients_still_connected_is_clean(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> bytes:
        server = HealthServer("127.0.0.1", 0, healthy)
        await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /heal")  # half a request: the handler waits for the rest
        await writer.drain()
        await asyncio.sleep(0.05)
        await asyncio.wait_for(server.stop(), timeout=5)
        try:
            return await asyncio.wait_for(reader.read(), timeout=5)
        except ConnectionResetError:
            return b""
        finally:
            writer.close()

    with caplog.at_level("ERROR", logger="asyncio"):
        assert asyncio.run(main()) == b""
    assert not [record for record in caplog.records if record.name == "asyncio"]
