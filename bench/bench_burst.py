"""A burst of files dropped at once into a running daemon: none lost, memory flat.

The daemon runs as a subprocess (`python -m monitor run`) on a temporary inbox with the bundled rules.
The benchmark waits for it to be ready, writes every file as fast as it can, then polls the state
database (read-only) until every path is recorded, sampling the daemon's RSS from /proc as it goes. It
reports files lost (must be 0), throughput, peak RSS and the rescans the daemon needed (an inotify
overflow shows as an `overflow` rescan).

Memory is judged as a ratio against a baseline run of the same daemon, on a tenth of the files, made
just before: bounded queues mean the peak should barely move with ten times the files.

    .venv/bin/python bench/bench_burst.py [--files 10000] [--baseline-files 1000] [--distinct N]
"""

import argparse
import contextlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DB_NAME = "state.sqlite3"


@dataclass
class Run:
    files: int
    recorded: int
    seconds_to_absorb: float
    peak_rss_mb: float
    rss_after_mb: float
    rescans: dict[str, int]

    @property
    def lost(self) -> int:
        return self.files - self.recorded


def rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def recorded(state: Path) -> int:
    database = state / DB_NAME
    if not database.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=5)) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM inbox_files").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def burst(root: Path, files: int, distinct: int, timeout: float) -> Run:
    inbox, rules, state = root / "inbox", root / "rules", root / "state"
    inbox.mkdir()
    shutil.copytree(REPO / "rules", rules)
    command = [sys.executable, "-m", "monitor", "run", "--inbox", str(inbox), "--rules", str(rules)]
    process = subprocess.Popen(
        [*command, "--state", str(state), "--log-level", "WARNING"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not (state / "heartbeat.json").exists():  # written just before READY
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("daemon did not start:\n" + "".join(lines[-50:]))
            time.sleep(0.1)
        started = time.monotonic()
        for index in range(files):
            variant = index % distinct
            (inbox / f"burst-{index:05d}.txt").write_text(
                f"Market bulletin {variant}\n\nShares in company number {variant} rose on Tuesday.\n",
                encoding="utf-8",
            )
        peak = 0.0
        count = 0
        deadline = time.monotonic() + timeout
        while count < files and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            peak = max(peak, rss_mb(process.pid, "VmRSS"))
            count = recorded(state)
        seconds = time.monotonic() - started
        peak = max(peak, rss_mb(process.pid, "VmHWM"))
        after = rss_mb(process.pid, "VmRSS")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        reader.join(timeout=5)
    rescans: dict[str, int] = {}
    for line in lines:
        if line.startswith("{") and '"inbox_events_lost"' in line:
            rescans["overflow"] = rescans.get("overflow", 0) + 1
    return Run(files, recorded(state), seconds, peak, after, rescans)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--baseline-files", type=int, default=1_000)
    parser.add_argument("--distinct", type=int, default=0, help="distinct contents (default: all distinct)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for a burst to drain")
    args = parser.parse_args()

    runs = []
    for files in (args.baseline_files, args.files):
        with tempfile.TemporaryDirectory(prefix="newsmon-burst-") as folder:
            run = burst(Path(folder), files, args.distinct or files, args.timeout)
        runs.append(run)
        print(
            f"{run.files:>6} files: {run.recorded} recorded, {run.lost} lost, "
            f"{run.seconds_to_absorb:.1f} s ({run.files / run.seconds_to_absorb:.0f} files/s), "
            f"peak RSS {run.peak_rss_mb:.0f} MB, after {run.rss_after_mb:.0f} MB, "
            f"overflow rescans {run.rescans.get('overflow', 0)}",
            flush=True,
        )
    baseline, big = runs
    ratio = big.peak_rss_mb / baseline.peak_rss_mb if baseline.peak_rss_mb else float("nan")
    print(json.dumps({"peak_rss_ratio": round(ratio, 3), "lost": big.lost + baseline.lost}))
    if big.lost or baseline.lost:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
