"""HTTP for all HTTP sinks: one small class around ``httpx.AsyncClient`` and the reading of responses.

httpx has no total deadline per request (its timeouts are per phase), so every attempt runs inside
``asyncio.timeout``; its transport retries only connect errors, so it is told not to retry at all:
the dispatcher's policy is the only one. Redirects are not followed: a webhook that redirects a POST
is misconfigured, and following it could hand the alert (and its signature) to another host.
"""

import asyncio
import email.utils
import math
import time
from collections.abc import Callable, Mapping

import httpx

from monitor.dispatch.notifier import USER_AGENT, Delivered, Failed, Message, Outcome, Retry

_BODY_EXCERPT = 200


class HttpClient:
    """A pooled async HTTP client shared by every HTTP destination of a dispatcher."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(
            transport=transport or httpx.AsyncHTTPTransport(retries=0),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], within: float) -> Outcome:
        """POST once and say what happened; never raises for network trouble, never shows the URL."""
        try:
            async with asyncio.timeout(within):
                response = await self._client.post(url, content=body, headers=dict(headers), timeout=within)
        except (TimeoutError, httpx.TimeoutException):
            return Retry(f"no answer within {within:g} s")
        except httpx.UnsupportedProtocol:
            return Failed("the URL's scheme is not http or https")
        except httpx.InvalidURL:
            return Failed("the URL is not valid")
        except httpx.TransportError as exc:
            # httpx's messages may quote the URL; the exception type says enough
            return Retry(f"network error ({type(exc).__name__})")
        return classify(response.status_code, response.headers, response.text, time.time())

    async def aclose(self) -> None:
        await self._client.aclose()


def classify(status: int, headers: Mapping[str, str], text: str, at: float) -> Outcome:
    """Map a response to an outcome: 2xx delivered; 408, 429 and 5xx retry; anything else is final."""
    if 200 <= status < 300:
        return Delivered()
    excerpt = " ".join(text.split())[:_BODY_EXCERPT]
    reason = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    retry_after = parse_retry_after(headers.get("retry-after"), at)
    if status in (408, 429) or status >= 500:
        return Retry(reason, retry_after)
    return Failed(reason)


def parse_retry_after(value: str | None, at: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP date is always GMT
            return None
        return max(0.0, when.timestamp() - at)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def request_headers(message: Message) -> dict[str, str]:
    """Headers every HTTP sink sends: the alert id as idempotency key, the same on every resend."""
    return {"Idempotency-Key": message.id, "Content-Type": "application/json", "User-Agent": USER_AGENT}


class HttpNotifier:
    """An HTTP sink: an integration's pure body renderer, plus optional extra headers (signatures)."""

    def __init__(
        self,
        client: HttpClient,
        url: str,
        body: Callable[[Message], bytes],
        *,
        timeout: float,
        extra_headers: Callable[[bytes], Mapping[str, str]] | None = None,
    ) -> None:
        self._client = client
        self._url = url
        self._body = body
        self._timeout = timeout
        self._extra_headers = extra_headers

    async def send(self, message: Message) -> Outcome:
        payload = self._body(message)
        headers = request_headers(message)
        if self._extra_headers is not None:
            headers.update(self._extra_headers(payload))
        outcome = await self._client.post(self._url, payload, headers, self._timeout)
        return _scrub(outcome, self._url)


def _scrub(outcome: Outcome, url: str) -> Outcome:
    """A receiver may echo the URL (our credential) in an error body; it never reaches a log or the store."""
    match outcome:
        case Retry(reason, retry_after) if url in reason:
            return Retry(reason.replace(url, "***"), retry_after)
        case Failed(reason) if url in reason:
            return Failed(reason.replace(url, "***"))
    return outcome
