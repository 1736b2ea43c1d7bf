"""The systemd notification protocol (sd_notify), without libsystemd.

A notification is one datagram of ``KEY=value`` lines sent to the Unix socket named by ``$NOTIFY_SOCKET``;
a leading ``@`` names a socket in the abstract namespace. Outside systemd the variable is unset and every
call is a no-op, so the daemon calls these unconditionally. A failed send must never take the daemon
down (systemd restarts it if READY or WATCHDOG never arrive, which is the right outcome), so errors are
logged once and otherwise ignored.
"""

import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)

SEND_TIMEOUT_SECONDS = 1.0


class SystemdNotifier:
    """Tell systemd about start-up, reloads, shutdown and liveness (``Type=notify``, ``WatchdogSec=``)."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self._address = _socket_address(address) if address else None
        self._watchdog_usec = watchdog_usec
        self._failed = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SystemdNotifier":
        """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` as systemd sets them."""
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET") or None, _watchdog_usec(env))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def ready(self) -> None:
        """Start-up (or a reload) is complete: systemd marks the unit active."""
        self.notify(READY="1")

    def reloading(self) -> None:
        """A reload began; systemd shows "reloading" until the next :meth:`ready`."""
        self.notify(RELOADING="1", MONOTONIC_USEC=str(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000))

    def stopping(self) -> None:
        """Shutdown began: systemd stops waiting for watchdog pings and starts TimeoutStopSec."""
        self.notify(STOPPING="1")

    def status(self, text: str) -> None:
        """A one-line status that ``systemctl status`` shows."""
        self.notify(STATUS=" ".join(text.split()))

    def watchdog(self) -> None:
        """Keep-alive ping; send it at least every :meth:`watchdog_interval` / 2 seconds."""
        self.notify(WATCHDOG="1")

    def watchdog_interval(self) -> float | None:
        """Seconds within which systemd expects a ping, or ``None`` if the watchdog is off for us."""
        if self._address is None or self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 1_000_000

    def notify(self, **fields: str) -> None:
        """Send one datagram of ``KEY=value`` lines; a no-op without ``NOTIFY_SOCKET``."""
        if self._address is None:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(SEND_TIMEOUT_SECONDS)  # never hang the event loop on a full socket queue
                sock.connect(self._address)
                sock.sendall(message)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("systemd_notify_failed", error=exc.strerror or repr(exc), fields=sorted(fields))


def _socket_address(address: str) -> str:
    """``@name`` is the abstract namespace: the kernel wants a leading NUL byte instead."""
    return "\0" + address[1:] if address.startswith("@") else address


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    """``WATCHDOG_USEC`` applies to us only if ``WATCHDOG_PID`` is unset or names this process.

    The PID check matters when the daemon is started by a wrapper that systemd sees as the main process:
    then the wrapper owns the watchdog, and pinging from here would hide a hung wrapper.
    """
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid is not None:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec
