"""sd_notify against a real AF_UNIX datagram socket, as systemd's manager listens on one."""

import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from monitor.observability.systemd import SystemdNotifier


@pytest.fixture
def notify_socket() -> Iterator[tuple[str, socket.socket]]:
    """A bound datagram socket on a short path: ``sun_path`` holds 107 bytes, and tmp_path can be longer."""
    folder = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    try:
        yield path, sock
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)


def received(sock: socket.socket) -> dict[str, str]:
    datagram = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in datagram.split("\n"))


def test_lifecycle_messages_arrive_as_systemd_expects(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    notifier.ready()
    assert received(sock) == {"READY": "1"}
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.reloading()
    reload = received(sock)
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert reload["RELOADING"] == "1"
    assert before <= int(reload["MONOTONIC_USEC"]) <= after  # systemd 253+ requires it with RELOADING=1
    notifier.watchdog()
    assert received(sock) == {"WATCHDOG": "1"}
    notifier.status("watching   /srv/newsmon/inbox\n(3 rules)")
    assert received(sock) == {"STATUS": "watching /srv/newsmon/inbox (3 rules)"}
    notifier.stopping()
    assert received(sock) == {"STOPPING": "1"}


def test_abstract_namespace_address(notify_socket: tuple[str, socket.socket]) -> None:
    del notify_socket
    name = f"newsmon-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        SystemdNotifier.from_env({"NOTIFY_SOCKET": "@" + name}).ready()
        assert received(sock) == {"READY": "1"}


def test_without_notify_socket_everything_is_a_no_op() -> None:
    for environ in ({}, {"NOTIFY_SOCKET": ""}):
        notifier = SystemdNotifier.from_env(environ)
        assert not notifier.enabled
        notifier.ready()
        notifier.watchdog()
        assert notifier.watchdog_interval() is None


@pytest.mark.parametrize(
    ("extra", "interval"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "not-a-pid"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_applies_only_to_this_process(
    extra: dict[str, str], interval: float | None
) -> None:
    assert SystemdNotifier.from_env(
        {"NOTIFY_SOCKET": "/run/systemd/notify", **extra}
    ).watchdog_interval() == (interval)


def test_a_vanished_socket_is_logged_once_and_never_raises(tmp_path: Path) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with capture_logs() as logs:
        for _ in range(3):
            notifier.watchdog()
        notifier.stopping()
    failures = [entry for entry in logs if entry["event"] == "systemd_notify_failed"]
    assert len(failures) == 1
    assert failures[0]["fields"] == ["WATCHDOG"]
    assert failures[0]["log_level"] == "warning"


def test_a_full_socket_queue_does_not_hang_the_caller(notify_socket: tuple[str, socket.socket]) -> None:
    """Nobody reads the socket: sends fail after the short timeout instead of blocking the event loop."""
    path, _sock = notify_socket
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": path})
    with capture_logs() as logs:
        for _ in range(2000):
            notifier.watchdog()
            if logs:
                break
    assert logs and logs[0]["event"] == "systemd_notify_failed"
