"""Run every benchmark in turn with its default settings (`make bench`); each prints its own report.

The results recorded in docs/performance.md come from these scripts; each one's docstring says how
it measures and what it compares against.
"""

import subprocess
import sys
from pathlib import Path

BENCHMARKS = ("bench_matching.py", "bench_classifier.py", "bench_latency.py", "bench_burst.py")


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = []
    for name in BENCHMARKS:
        print(f"\n=== {name} ===", flush=True)
        if subprocess.run([sys.executable, str(here / name)], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
