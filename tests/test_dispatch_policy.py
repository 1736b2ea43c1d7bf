"""The pure parts of delivery: backoff, token bucket, response classification, Retry-After parsing,
destination settings (URL and secret sources, masking) and routing."""

import email.utils
import hashlib
import hmac
from pathlib import Path

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from monitor.config import AdminConfig, Routes
from monitor.dispatch.destinations import Destination, SecretSourceError, mask_url
from monitor.dispatch.http import classify, parse_retry_after
from monitor.dispatch.notifier import Delivered, Failed, Retry
from monitor.dispatch.policy import RetryPolicy, TokenBucket
from monitor.dispatch.routing import destinations_for
from monitor.dispatch.sinks import webhook
from monitor.severity import Level


def test_backoff_grows_exponentially_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base=2.0, factor=2.0, cap=600.0, jitter=0.5)
    ceilings = [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 600.0, 600.0]
    for attempt, ceiling in enumerate(ceilings, start=1):
        assert policy.delay(attempt, 0.0) == ceiling / 2
        assert policy.delay(attempt, 0.999999) == pytest.approx(ceiling, rel=1e-5)
    assert policy.delay(10_000, 0.5) == 450.0  # no overflow however long an outage lasts


def test_token_bucket_allows_a_burst_then_holds_the_rate() -> None:
    bucket = TokenBucket(rate=1.0, burst=3, now=100.0)
    assert [bucket.reserve(100.0) for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]
    # after waiting as told, callers are back within the rate: one new token per second
    assert bucket.reserve(103.0) == 0.0
    assert bucket.reserve(103.0) == 1.0
    idle = TokenBucket(rate=2.0, burst=2, now=0.0)
    assert [idle.reserve(60.0) for _ in range(3)] == [0.0, 0.0, 0.5]  # idle time never exceeds the burst


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Delivered()),
        (204, Delivered()),
        (500, Retry("HTTP 500: oops")),
        (503, Retry("HTTP 503: oops")),
        (408, Retry("HTTP 408: oops")),
        (429, Retry("HTTP 429: oops")),
        (400, Failed("HTTP 400: oops")),
        (401, Failed("HTTP 401: oops")),
        (404, Failed("HTTP 404: oops")),
        (410, Failed("HTTP 410: oops")),
        (301, Failed("HTTP 301: oops")),  # redirects are not followed: the URL needs fixing
    ],
)
def test_classify_responses(status: int, expected: object) -> None:
    assert classify(status, {}, "  oops \n", 0.0) == expected


def test_classify_keeps_retry_after_and_shortens_bodies() -> None:
    outcome = classify(429, {"retry-after": "7"}, "x" * 5000, 0.0)
    assert isinstance(outcome, Retry) and outcome.retry_after == 7.0
    assert len(outcome.reason) == len("HTTP 429: ") + 200


def test_parse_retry_after_seconds_and_http_dates() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("2", now) == 2.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after("-3", now) == 0.0
    assert parse_retry_after(email.utils.formatdate(now + 10, usegmt=True), now) == 10.0
    assert parse_retry_after(email.utils.formatdate(now - 10, usegmt=True), now) == 0.0
    for bad in (None, "", "soon", "nan", "inf", "Wed, 99 Foo 2024 99:99:99 GMT"):
        assert parse_retry_after(bad, now) is None, bad


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # the recipe of docs/webhooks.md, computed independently
    expected = hmac.new(b"secret", b'1700000000.{"id":"x"}', hashlib.sha256).hexdigest()
    assert webhook.signature(b"secret", "1700000000", b'{"id":"x"}') == f"sha256={expected}"
    headers = webhook.signer(b"secret", clock=lambda: 1_700_000_000.7)(b"{}")
    assert headers["X-Newsmon-Timestamp"] == "1700000000"
    assert headers["X-Newsmon-Signature"] == webhook.signature(b"secret", "1700000000", b"{}")
    assert webhook.signature(b"secret", "1700000000", b"{}") != webhook.signature(
        b"secret", "1700000001", b"{}"
    )


# ---- destination settings ----------------------------------------------------------------------


def test_url_from_env_file_and_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", " https://example.org/hook/abc \n")
    by_env = Destination.model_validate({"type": "webhook", "url_env": "HOOK_URL"})
    assert by_env.resolve_url().get_secret_value() == "https://example.org/hook/abc"  # type: ignore[union-attr]

    (tmp_path / "slack-url").write_text("https://hooks.slack.com/services/T/B/X\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    by_file = Destination.model_validate({"type": "slack", "url_file": "slack-url"})
    assert by_file.resolve_url().get_secret_value() == "https://hooks.slack.com/services/T/B/X"  # type: ignore[union-attr]
    assert by_file.describe_url() == "https://hooks.slack.com/*** (file slack-url)"

    (tmp_path / "secret").write_text("k3y\n")
    signed = Destination.model_validate(
        {"type": "webhook", "url": "http://127.0.0.1:9/x", "secret_file": str(tmp_path / "secret")}
    )
    assert signed.resolve_secret().get_secret_value() == "k3y"  # type: ignore[union-attr]


def test_missing_sources_name_the_variable_or_file_never_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(SecretSourceError, match="environment variable NO_SUCH_HOOK is not set"):
        Destination.model_validate({"type": "webhook", "url_env": "NO_SUCH_HOOK"}).resolve_url()
    missing = Destination.model_validate({"type": "teams", "url_file": "/nonexistent/teams-url"})
    with pytest.raises(SecretSourceError, match="cannot read /nonexistent/teams-url"):
        missing.resolve_url()
    assert missing.describe_url() == "(file /nonexistent/teams-url: not available)"


def test_inline_urls_are_secret_in_every_rendering_of_the_settings() -> None:
    url = "https://discord.com/api/webhooks/123/tOkEnTOKEN"
    d = Destination.model_validate({"type": "discord", "url": url})
    assert "tOkEnTOKEN" not in repr(d) and "tOkEnTOKEN" not in d.model_dump_json()
    assert d.describe_url() == "https://discord.com/*** (inline)"
    assert mask_url("http://127.0.0.1:8080/a/b?c=d") == "http://127.0.0.1:8080/***"
    assert d.rate == 0.5


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"type": "slack"}, "needs exactly one of url, url_env, url_file"),
        ({"type": "webhook", "url": "http://x", "url_env": "X"}, "needs exactly one"),
        ({"type": "console", "url": "http://x"}, "takes no url"),
        ({"type": "slack", "url": "http://x", "secret": "s"}, "only webhook destinations sign"),
        ({"type": "webhook", "url": "http://x", "secret": "s", "secret_env": "S"}, "at most one of secret"),
        ({"type": "jsonl"}, "a jsonl destination needs a path"),
        ({"type": "webhook", "url": "http://x", "timeout": 0}, "greater than 0"),
        ({"type": "webhook", "url": "http://x", "color": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_destination_settings(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Destination.model_validate(settings)


# ---- routing -----------------------------------------------------------------------------------


def routed_config() -> AdminConfig:
    return AdminConfig(
        destinations={
            "console": Destination.model_validate({"type": "console"}),
            "chat": Destination.model_validate({"type": "slack", "url": "https://x", "min_level": "high"}),
            "pager": Destination.model_validate(
                {"type": "webhook", "url": "https://y", "min_level": "critical"}
            ),
        },
        routes=Routes(default=["console"], by_level={Level.critical: ["pager", "chat", "console"]}),
    )


def test_routing_by_notify_default_route_and_min_level() -> None:
    config = routed_config()
    assert destinations_for(["chat", "console", "chat"], Level.high, config) == ["chat", "console"]
    assert destinations_for(["chat", "console"], Level.medium, config) == ["console"]
    assert destinations_for([], Level.high, config) == ["console"]
    assert destinations_for([], Level.critical, config) == ["pager", "chat", "console"]


def test_routing_logs_unknown_names_and_still_delivers_the_rest() -> None:
    with capture_logs() as logs:
        assert destinations_for(["gone", "console"], Level.low, routed_config()) == ["console"]
    assert [(e["event"], e["destination"]) for e in logs] == [("unknown_destination", "gone")]
