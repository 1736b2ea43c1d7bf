"""The dispatcher against real HTTP receivers on 127.0.0.1: retries, Retry-After, timeouts, dead letters,
isolation between destinations, order, signatures, rate limits and restarts on the same state folder.

Backoff is shortened with a fast :class:`RetryPolicy`; waits the destination demands (Retry-After, rate
limits) are real and asserted as lower bounds only.
"""

import asyncio
import json
import time
from pathlib import Path

from structlog.testing import capture_logs

from monitor.dispatch import Dispatcher
from monitor.dispatch.destinations import Destination
from monitor.dispatch.sinks import webhook
from monitor.store import outbox
from monitor.store.db import connect
from tests.receiver import Receiver, Reply
from tests.test_dispatch_support import FAST, config_of, prepare, run_dispatcher, sample_alert, states

SECRET = "whsec-test-0123456789"


def hook(url: str, **settings: object) -> Destination:
    return Destination.model_validate({"type": "webhook", "url": url, **settings})


def test_500_three_times_then_200_delivers_with_one_key_and_keeps_order(tmp_path: Path) -> None:
    alerts = [sample_alert(i) for i in range(4)]
    prepare(tmp_path, alerts, ["hook"], time.time())
    with Receiver() as rx:
        rx.script(Reply(500), Reply(500), Reply(500))
        assert run_dispatcher(config_of(hook=hook(rx.url)), tmp_path)
        requests = rx.requests

    assert [r.status for r in requests] == [500, 500, 500, 200, 200, 200, 200]
    # the failing head is retried until it passes; the alerts behind it wait their turn
    assert [r.header("idempotency-key") for r in requests] == [alerts[0].id] * 4 + [a.id for a in alerts[1:]]
    assert [r.json()["id"] for r in requests[3:]] == [a.id for a in alerts]
    assert states(tmp_path)[(alerts[0].id, "hook")] == ("delivered", 4, None)
    assert {states(tmp_path)[(a.id, "hook")][:2] for a in alerts[1:]} == {("delivered", 1)}


def test_429_waits_the_retry_after_seconds_before_the_next_request(tmp_path: Path) -> None:
    alerts = [sample_alert(i) for i in range(2)]
    prepare(tmp_path, alerts, ["hook"], time.time())
    with Receiver() as rx:
        rx.script(Reply(429, body=b"slow down", headers={"Retry-After": "2"}))
        assert run_dispatcher(config_of(hook=hook(rx.url)), tmp_path)
        first, again, second = rx.requests

    assert (first.status, again.status, second.status) == (429, 200, 200)
    assert again.header("idempotency-key") == first.header("idempotency-key") == alerts[0].id
    # the fast policy would retry after at most 0.2 s: the 2 s are the receiver's demand, honoured
    assert again.at - first.at >= 2.0 - 0.01
    assert states(tmp_path)[(alerts[0].id, "hook")][:2] == ("delivered", 2)


def test_429_with_an_http_date_is_honoured_too(tmp_path: Path) -> None:
    prepare(tmp_path, [sample_alert(0)], ["hook"], time.time())
    with Receiver() as rx:
        not_before = int(time.time()) + 3
        when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(not_before))
        rx.script(Reply(429, headers={"Retry-After": when}))
        assert run_dispatcher(config_of(hook=hook(rx.url)), tmp_path)
        first, again = rx.requests

    # The date is absolute: the retry comes no earlier than it, however long the first request took to
    # arrive (the receiver stamps requests with the monotonic clock; both clocks tick alike here).
    wall_clock_offset = time.time() - time.monotonic()
    assert first.at + wall_clock_offset < not_before
    assert again.at + wall_clock_offset >= not_before - 0.05
    assert again.status == 200


def test_a_receiver_that_hangs_past_the_timeout_is_retried(tmp_path: Path) -> None:
    alert = sample_alert(0)
    prepare(tmp_path, [alert], ["hook"], time.time())
    with Receiver() as rx, capture_logs() as logs:
        rx.script(Reply(delay=Reply.HANG))
        assert run_dispatcher(config_of(hook=hook(rx.url, timeout=0.5)), tmp_path)
        hung, answered = rx.requests

    assert hung.status is None and answered.status == 200
    assert hung.header("idempotency-key") == answered.header("idempotency-key") == alert.id
    retry = next(e for e in logs if e["event"] == "delivery_retry")
    assert retry["reason"] == "no answer within 0.5 s"
    assert retry["destination"] == "hook" and retry["alert_id"] == alert.id


def test_400_dead_letters_at_once_loudly_and_the_queue_moves_on(tmp_path: Path) -> None:
    alerts = [sample_alert(i) for i in range(3)]
    prepare(tmp_path, alerts, ["hook"], time.time())
    config = config_of(
        hook=hook("http://placeholder.invalid/"),
        ops=Destination.model_validate({"type": "jsonl", "path": "operator.jsonl"}),
    ).model_copy(update={"operator_destinations": ["ops"]})
    with Receiver() as rx, capture_logs() as logs:
        rx.script(Reply(400, body=b'{"error": "invalid_payload"}'))
        config.destinations["hook"] = hook(rx.url)
        assert run_dispatcher(config, tmp_path)
        requests = rx.requests

    assert [r.status for r in requests] == [400, 200, 200]  # never retried
    state, attempts, error = states(tmp_path)[(alerts[0].id, "hook")]
    assert (state, attempts) == ("dead", 1)
    assert error == 'HTTP 400: {"error": "invalid_payload"}'
    dead = [e for e in logs if e["event"] == "delivery_dead_letter"]
    assert len(dead) == 1 and dead[0]["log_level"] == "error" and dead[0]["alert_id"] == alerts[0].id
    notices = [json.loads(line) for line in (tmp_path / "operator.jsonl").read_text().splitlines()]
    assert [n["event"] for n in notices] == ["dead_letter"]
    assert f"newsmon alerts retry {alerts[0].id}" in notices[0]["message"]


def test_alerts_older_than_the_maximum_age_are_dead_lettered_after_a_failure(tmp_path: Path) -> None:
    alert = sample_alert(0)
    prepare(tmp_path, [alert], ["hook"], time.time() - 49 * 3600)
    with Receiver(default=Reply(503)) as rx:
        assert run_dispatcher(config_of(hook=hook(rx.url)), tmp_path)
        assert [r.status for r in rx.requests] == [503]
    state, _, error = states(tmp_path)[(alert.id, "hook")]
    assert state == "dead"
    assert error is not None and error.startswith("gave up after 1 attempts over 49.0 h; last: HTTP 503")


def test_a_dead_destination_does_not_hold_up_a_live_one(tmp_path: Path) -> None:
    alerts = [sample_alert(i) for i in range(5)]
    prepare(tmp_path, alerts, ["dead", "live"], time.time())

    async def main(dead: Receiver, live: Receiver) -> tuple[int, list[int | None]]:
        config = config_of(dead=hook(dead.url, timeout=30), live=hook(live.url))
        dispatcher = Dispatcher(config, tmp_path, policy=FAST)
        await dispatcher.start()
        try:
            delivered = await asyncio.to_thread(live.wait_delivered, len(alerts), 20)
            return len(delivered), [r.status for r in dead.requests]
        finally:
            await dispatcher.stop(0.1)

    with Receiver(default=Reply(delay=Reply.HANG)) as dead, Receiver() as live:
        count, dead_statuses = asyncio.run(main(dead, live))
        live_keys = live.keys()

    # every live alert arrived while the dead destination's first request was still unanswered
    assert count == len(alerts) and dead_statuses == [None]
    assert live_keys == [a.id for a in alerts]
    assert {states(tmp_path)[(a.id, "dead")][:2] for a in alerts} == {("pending", 0)}


def test_webhook_signature_verifies_with_the_shared_secret(tmp_path: Path) -> None:
    alert = sample_alert(0)
    prepare(tmp_path, [alert], ["hook"], time.time())
    with Receiver() as rx:
        assert run_dispatcher(config_of(hook=hook(rx.url, secret=SECRET)), tmp_path)
        (request,) = rx.requests

    timestamp = request.header("x-newsmon-timestamp")
    assert timestamp is not None and abs(int(timestamp) - time.time()) < 60
    expected = webhook.signature(SECRET.encode(), timestamp, request.body)
    assert request.header("x-newsmon-signature") == expected
    assert request.header("content-type") == "application/json"
    assert request.body == webhook.render(alert)
    assert (request.header("user-agent") or "").startswith("news-monitor/")


def test_slack_rate_limit_spaces_requests_after_the_burst(tmp_path: Path) -> None:
    alerts = [sample_alert(i) for i in range(6)]
    prepare(tmp_path, alerts, ["chat"], time.time())
    slack = {"type": "slack", "rate_per_second": 5, "burst": 2}
    with Receiver() as rx:
        assert run_dispatcher(config_of(chat=Destination.model_validate({**slack, "url": rx.url})), tmp_path)
        requests = rx.requests

    assert len(requests) == 6
    # two tokens at once, then one every 0.2 s: the last of six cannot come before 4 × 0.2 s
    assert requests[-1].at - requests[0].at >= 0.8 - 0.02
    assert [r.json()["blocks"][0]["text"]["text"] for r in requests] == [a.rule.title for a in alerts]


def test_a_restarted_dispatcher_resumes_where_it_stopped_with_the_same_key(tmp_path: Path) -> None:
    alerts = [sample_alert(i) for i in range(3)]
    prepare(tmp_path, alerts, ["hook"], time.time())

    async def first_run(rx: Receiver) -> None:
        dispatcher = Dispatcher(config_of(hook=hook(rx.url, timeout=30)), tmp_path, policy=FAST)
        await dispatcher.start()
        await asyncio.to_thread(rx.wait_for, 2, 10)  # the first delivered, the second hangs
        await dispatcher.stop(0.2)  # abandons the attempt in flight

    with Receiver() as rx:
        rx.script(Reply(200), Reply(delay=Reply.HANG))
        asyncio.run(first_run(rx))
        assert [s[0] for s in (states(tmp_path)[(a.id, "hook")] for a in alerts)] == [
            "delivered",
            "pending",
            "pending",
        ]
        assert run_dispatcher(config_of(hook=hook(rx.url)), tmp_path)
        keys = [r.header("idempotency-key") for r in rx.requests]
        statuses = [r.status for r in rx.requests]

    # the abandoned request is sent again with its key; the delivered one is not repeated
    assert keys == [alerts[0].id, alerts[1].id, alerts[1].id, alerts[2].id]
    assert statuses == [200, None, 200, 200]


def test_urls_are_never_logged_or_stored_even_when_the_receiver_echoes_them(tmp_path: Path) -> None:
    alert = sample_alert(0)
    prepare(tmp_path, [alert], ["hook"], time.time())
    with Receiver(path="/services/T000/B000/sEcReTtOkEn") as rx, capture_logs() as logs:
        rx.script(Reply(404, body=f"no such hook: {rx.url}".encode()))
        assert run_dispatcher(config_of(hook=hook(rx.url)), tmp_path)
    _, _, error = states(tmp_path)[(alert.id, "hook")]
    assert error == "HTTP 404: no such hook: ***"
    assert "sEcReTtOkEn" not in repr(logs)


def test_a_missing_url_variable_keeps_alerts_pending_without_crashing(tmp_path: Path) -> None:
    alert = sample_alert(0)
    prepare(tmp_path, [alert], ["hook"], time.time())
    config = config_of(hook=Destination.model_validate({"type": "webhook", "url_env": "NEWSMON_NO_SUCH_VAR"}))
    assert not run_dispatcher(config, tmp_path, drain=0.5)
    state, attempts, error = states(tmp_path)[(alert.id, "hook")]
    assert state == "pending" and attempts >= 1
    assert error == "destination not usable: url: environment variable NEWSMON_NO_SUCH_VAR is not set"


def test_drain_counts_dead_letters_as_done_and_retry_reopens_them(tmp_path: Path) -> None:
    alert = sample_alert(0)
    prepare(tmp_path, [alert], ["hook"], time.time())
    with Receiver() as rx:
        rx.script(Reply(410))
        assert run_dispatcher(config_of(hook=hook(rx.url)), tmp_path)
        conn = connect(tmp_path)
        try:
            assert outbox.retry(conn, alert.id, time.time()) == 1
            assert outbox.retry(conn, alert.id, time.time()) == 0  # only dead rows reopen
        finally:
            conn.close()
        assert run_dispatcher(config_of(hook=hook(rx.url)), tmp_path)
        assert [r.status for r in rx.requests] == [410, 200]
    assert states(tmp_path)[(alert.id, "hook")] == ("delivered", 1, None)
