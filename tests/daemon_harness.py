"""Running the real `newsmon` daemon as a subprocess in tests, and reading its JSON log lines."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
RULES = REPO / "rules"

LogEvent = dict[str, Any]


class Daemon:
    """``newsmon ... run`` in a subprocess; stdout (JSON logs, console alerts) collected line by line."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", **(env or {})}
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", *args],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def events(self) -> list[LogEvent]:
        with self._lock:
            lines = list(self.lines)
        out = []
        for line in lines:
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def wait_for(
        self, event: str, predicate: Callable[[LogEvent], bool] = lambda _e: True, timeout: float = 30.0
    ) -> LogEvent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.events():
                if entry.get("event") == event and predicate(entry):
                    return entry
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {event!r} log event within {timeout}s; output:\n" + self.output())

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Poll ``condition``; fail at once if the daemon exits, with its output, or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"daemon exited ({self.process.returncode}) waiting for {what}:\n" + self.output()
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n" + self.output())
            time.sleep(0.05)

    def count(self, event: str, predicate: Callable[[LogEvent], bool] = lambda _e: True) -> int:
        return sum(1 for e in self.events() if e.get("event") == event and predicate(e))

    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines[-200:])

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def start_daemon(project: dict[str, Path], *extra: str, env: dict[str, str] | None = None) -> Daemon:
    """`newsmon run` on a :func:`make_project` folder, run from its root (where a ``monitor.yaml``, if the
    test wrote one, is the admin config by the CLI's own default)."""
    args = ["run", "--inbox", str(project["inbox"]), "--rules", str(project["rules"])]
    return Daemon([*args, "--state", str(project["state"]), *extra], cwd=project["root"], env=env)


def make_project(root: Path, *, seeds: bool = True) -> dict[str, Path]:
    """A fresh working folder: inbox (with the samples), a copy of the bundled rules, a state folder."""
    inbox = root / "inbox"
    inbox.mkdir()
    if seeds:
        for sample in sorted(SEEDS.glob("*.txt")):
            shutil.copy(sample, inbox / sample.name)
    rules = root / "rules"
    shutil.copytree(RULES, rules)
    return {"inbox": inbox, "rules": rules, "state": root / "state", "root": root}
