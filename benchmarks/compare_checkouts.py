"""One workload, two checkouts of roost, runs interleaved: which is faster on a busy machine.

    python benchmarks/compare_checkouts.py WORKLOAD N RUNS CHECKOUT_A CHECKOUT_B

``WORKLOAD`` is a local-run workload of ``workloads.py`` (``fanout 10000``, ``sync-fanout 1000``,
``chain 2000``, ``cache-hit 2000``) or an isolation workload of ``isolation_workloads.py`` (``warm
2000``, ``fresh 200``, ``warm-concurrent 5000``). Each checkout runs its own copy of the workload with
its own ``src`` on the path, A then B, ``RUNS`` times: load from other work on the machine falls on
both alike. Both ``src`` trees are byte-compiled first, so that neither compiles its modules on every
run (as it would where PYTHONDONTWRITEBYTECODE is set). Prints each one's median and every sample, in
microseconds per action.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

LOCAL = ("fanout", "sync-fanout", "chain", "cache-hit")
ISOLATION = ("fresh", "warm", "warm-concurrent")


def sample(checkout: Path, workload: str, n: int) -> float:
    if workload in LOCAL:
        command = [str(checkout / "benchmarks" / "workloads.py"), "roost", workload, str(n)]
    else:
        command = [str(checkout / "benchmarks" / "isolation_workloads.py"), workload, str(n)]
    out = subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(checkout / "src")},
    )
    if out.returncode != 0:
        raise SystemExit(f"{checkout}: {workload} failed:\n{out.stderr[-3000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["us_per_action"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=[*LOCAL, *ISOLATION])
    parser.add_argument("n", type=int)
    parser.add_argument("runs", type=int)
    parser.add_argument("checkouts", nargs=2, type=Path)
    args = parser.parse_args()
    for checkout in args.checkouts:
        compileall.compile_dir(checkout / "src", quiet=1)
    samples: dict[Path, list[float]] = {checkout: [] for checkout in args.checkouts}
    for _ in range(args.runs):
        for checkout in args.checkouts:
            samples[checkout].append(sample(checkout, args.workload, args.n))
    for checkout, values in samples.items():
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(f"{checkout}: median {statistics.median(values):.1f} us, min {min(values):.1f} us  [{shown}]")


if __name__ == "__main__":
    main()
