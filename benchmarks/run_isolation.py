"""Isolation benchmarks: actions in fresh worker processes and calls into warm reusable replicas.

    python benchmarks/run_isolation.py [--repeat 5]

Each figure is the median of ``--repeat`` separate processes. Targets are those of DESIGN.md:
an action in a fresh isolated process <= 5 ms; a warm call into a reusable environment <= 150 us.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The last row shows what the polling window (ROOST_POLL_US, runtime/polling.py) is worth here.
CASES = [
    ("action in a fresh worker process (sequential)", "fresh", 200, "<= 5 ms", 1000.0, {}),
    ("warm call into a reusable environment (sequential)", "warm", 2000, "<= 150 us", 1.0, {}),
    ("reusable environment, 5k concurrent calls (per call)", "warm-concurrent", 5000, "", 1.0, {}),
    ("warm call, polling off (ROOST_POLL_US=0)", "warm", 2000, "", 1.0, {"ROOST_POLL_US": "0"}),
]


def measure(workload: str, n: int, repeat: int, env: dict[str, str]) -> float:
    samples = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, str(HERE / "isolation_workloads.py"), workload, str(n)],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, **env},
        )
        if out.returncode != 0:
            raise RuntimeError(f"{workload} failed:\n{out.stderr[-3000:]}")
        samples.append(json.loads(out.stdout.strip().splitlines()[-1])["us_per_action"])
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = [(f"workload (median of {args.repeat})", "roost", "target")]
    for label, workload, n, target, scale, env in CASES:
        value = measure(workload, n, args.repeat, env)
        shown = f"{value / scale:.2f} ms" if scale > 1 else f"{value:.0f} us"
        rows.append((label, shown, target))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    main()
