"""Ray benchmarks: fan-out and warm calls through roost's Ray backend, beside local process isolation
and plain Ray doing the same work, in one invocation.

    python benchmarks/run_ray.py [--repeat 3] [--cpus 2] [--address ADDRESS]

Starts a local Ray head of its own (127.0.0.1, ``--cpus`` CPUs, no dashboard) and stops it at the
end, unless ``--address`` names a running cluster. Each figure is the median of ``--repeat``
separate processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = [
    # (label, workload, n)
    ("fan-out of 500 async children (per child)", "fanout", 500),
    ("warm call into a reusable environment (sequential)", "warm", 500),
    ("throughput: 2000 calls at once (roost: reusable pool; Ray: tasks)", "throughput", 2000),
]
IMPLS = [
    ("roost-process", "roost, isolation=process"),
    ("roost-ray", "roost on Ray"),
    ("roost-hybrid", "roost on Ray, hybrid"),
    ("ray", "plain Ray"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_head(cpus: int) -> Iterator[str]:
    """A local Ray head for the benchmark, in a session of its own, killed at the end."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="roost-bench-ray-")
    log = Path(temp) / "head.log"
    ray = str(Path(sys.executable).parent / "ray")
    with open(log, "wb") as out:
        head = subprocess.Popen(
            [ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
             f"--num-cpus={cpus}", "--num-gpus=0", "--include-dashboard=false", "--disable-usage-stats",
             f"--temp-dir={temp}"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while b"Ray runtime started" not in log.read_bytes():
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Ray head did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            time.sleep(2)
        shutil.rmtree(temp, ignore_errors=True)


def measure(impl: str, workload: str, n: int, address: str, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, str(HERE / "ray_workloads.py"), impl, workload, str(n), address],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{impl} {workload} failed:\n{out.stderr[-3000:]}")
        samples.append(json.loads(out.stdout.strip().splitlines()[-1])["us_per_action"])
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--address", help="a running Ray cluster (default: start a local head)")
    args = parser.parse_args()
    with local_head(args.cpus) if args.address is None else _given(args.address) as address:
        rows = [(f"workload (median of {args.repeat}, us per action)", *(label for _, label in IMPLS))]
        for label, workload, n in CASES:
            figures = [measure(impl, workload, n, address, args.repeat) for impl, _ in IMPLS]
            rows.append((label, *(f"{value:.0f} us" for value in figures)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


@contextmanager
def _given(address: str) -> Iterator[str]:
    yield address


if __name__ == "__main__":
    main()
