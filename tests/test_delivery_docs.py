"""The receiver snippet of docs/webhooks.md, run as a real process against the dispatcher."""

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.dispatch.destinations import Destination
from monitor.dispatch.sinks import webhook
from tests.test_dispatch_support import config_of, prepare, run_dispatcher, sample_alert, states

DOC = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"
SECRET = "docs-snippet-secret"


def snippet() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    (code,) = [b for b in blocks if "def verify(" in b]
    return code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def documented_receiver(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    script = tmp_path / "receiver.py"
    script.write_text(snippet(), encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env={"NEWSMON_WEBHOOK_SECRET": SECRET, "PORT": str(port), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the snippet did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/alerts", process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_the_documented_receiver_accepts_signed_alerts_once_and_refuses_forgeries(
    tmp_path: Path, documented_receiver: tuple[str, subprocess.Popen[str]]
) -> None:
    url, process = documented_receiver
    alerts = [sample_alert(i) for i in range(2)]
    good, forged = tmp_path / "good", tmp_path / "forged"
    prepare(good, alerts, ["hook"], time.time())
    assert run_dispatcher(
        config_of(hook=Destination.model_validate({"type": "webhook", "url": url, "secret": SECRET})), good
    )
    assert {states(good)[(a.id, "hook")][0] for a in alerts} == {"delivered"}

    # a resend (same key, freshly signed) is accepted but not processed again
    body = webhook.render(alerts[0])
    headers = {"Idempotency-Key": alerts[0].id, **webhook.signer(SECRET.encode())(body)}
    assert httpx.post(url, content=body, headers=headers).status_code == 204
    # a valid signature on an old timestamp is a replay
    stale = {
        "Idempotency-Key": "x",
        **webhook.signer(SECRET.encode(), clock=lambda: time.time() - 3600)(body),
    }
    assert httpx.post(url, content=body, headers=stale).status_code == 401

    # the wrong secret: refused with 401, which news-monitor dead-letters at once
    prepare(forged, [sample_alert(5)], ["hook"], time.time())
    wrong = Destination.model_validate({"type": "webhook", "url": url, "secret": "not-the-secret"})
    assert run_dispatcher(config_of(hook=wrong), forged)
    assert states(forged)[(sample_alert(5).id, "hook")][:2] == ("dead", 1)

    process.kill()
    out, _ = process.communicate(timeout=10)
    assert [line.split()[:3] for line in out.splitlines()] == [[a.id, "alert", "high"] for a in alerts]
