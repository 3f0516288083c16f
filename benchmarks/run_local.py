"""Local-run benchmarks: roost beside Flyte 2 local mode, measured in the same run.

    python benchmarks/run_local.py [--repeat 5] [--quick]

Each measurement is a separate process; the figure is the median of ``--repeat`` processes. The peer
is the real ``flyte==2.12.1`` in its own virtualenv outside the repository (created on first use
under ``~/.cache/roost-bench``; set ROOST_BENCH_FLYTE_PYTHON to use another interpreter, or pass
``--no-peer``). Targets are those of DESIGN.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = HERE / "workloads.py"
PEER_VERSION = "2.12.1"

CASES = [
    # (label, workload, n, target us per action or None, target speed-up over Flyte or None)
    ("fan-out 1k async", "fanout", 1000, None, None),
    ("fan-out 10k async", "fanout", 10000, 49.0, 10.0),
    ("fan-out 1k sync", "sync-fanout", 1000, 100.0, None),
    ("chain of 500", "chain", 500, 45.0, None),
    # A parent calling a cached child with the same input, after a warm-up run filled the cache.
    ("cache hit (us per cached call)", "cache-hit", 2000, 95.0, 5.0),
]


def peer_python(create: bool) -> str | None:
    configured = os.environ.get("ROOST_BENCH_FLYTE_PYTHON")
    if configured:
        return configured
    venv = Path.home() / ".cache" / "roost-bench" / f"flyte-{PEER_VERSION}"
    python = venv / "bin" / "python"
    if not python.exists():
        if not create:
            return None
        print(f"creating the Flyte peer virtualenv at {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"flyte=={PEER_VERSION}"], check=True)
    return str(python)


def measure(python: str, impl: str, workload: str, n: int, repeat: int) -> float:
    """Median microseconds per action over ``repeat`` fresh processes."""
    samples = []
    for _ in range(repeat):
        out = subprocess.run(
            [python, str(WORKLOADS), impl, workload, str(n)], capture_output=True, text=True, timeout=900
        )
        if out.returncode != 0:
            raise RuntimeError(f"{impl} {workload} {n} failed:\n{out.stderr[-3000:]}")
        samples.append(json.loads(out.stdout.strip().splitlines()[-1])["us_per_action"])
    return statistics.median(samples)


def startup(python: str, impl: str, repeat: int) -> float:
    """Median seconds for a whole process: interpreter start, import, init and one task."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([python, str(WORKLOADS), impl, "one", "1"], capture_output=True, check=True, timeout=300)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, 3 repeats (a smoke run)")
    parser.add_argument("--no-peer", action="store_true", help="measure roost only")
    args = parser.parse_args()
    repeat = 3 if args.quick else args.repeat
    peer = None if args.no_peer else peer_python(create=True)
    rows = []
    for label, workload, n, target, speedup in CASES:
        if args.quick:
            n = min(n, 1000)
        ours = measure(sys.executable, "roost", workload, n, repeat)
        theirs = measure(peer, "flyte", workload, n, repeat) if peer else None
        rows.append(
            (
                label,
                f"{ours:.1f} us",
                f"{theirs:.1f} us" if theirs else "-",
                f"{theirs / ours:.1f}x" if theirs else "-",
                ", ".join(([f"<= {target:g} us"] if target else []) + ([f">= {speedup:g}x"] if speedup else [])),
            )
        )
    if not args.quick:
        big = subprocess.run(
            [sys.executable, str(WORKLOADS), "roost", "fanout", "100000"], capture_output=True, text=True, timeout=900
        )
        peak = json.loads(big.stdout.strip().splitlines()[-1])["peak_rss_mb"]
        rows.append(("100k actions in one run: peak RSS", f"{peak:.0f} MB", "-", "-", "<= 500 MB"))
    ours_s = startup(sys.executable, "roost", repeat)
    theirs_s = startup(peer, "flyte", repeat) if peer else None
    rows.append(
        (
            "import + init + one task",
            f"{ours_s:.3f} s",
            f"{theirs_s:.3f} s" if theirs_s else "-",
            f"{theirs_s / ours_s:.1f}x" if theirs_s else "-",
            "<= 0.3 s",
        )
    )
    header = (f"workload (median of {repeat})", "roost", f"flyte {PEER_VERSION} local", "speed-up", "target")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    main()
