"""Server benchmarks: a real ``roost server`` process and real client processes on this machine.

    python benchmarks/run_server.py [--repeat 5] [--clients 10]

Rows (DESIGN.md targets):
- submit -> first action of a remote run whose code bundle the server has (<= 50 ms);
- per-child overhead of a 1k async fan-out on the server, beside the same fan-out run locally in
  the same invocation (<= 2x local);
- remote runs per second from ``--clients`` client processes submitting at once.
Each figure is the median of ``--repeat`` client processes (the throughput row: of ``--repeat``
rounds). The server records into a temporary ROOST_HOME.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_servers import start_server

HERE = Path(__file__).resolve().parent


def client(project: Path, url: str, workload: str, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "server_workloads.py", url, workload, str(n)],
        cwd=project,
        env={**os.environ, "ROOST_HOME": str(project / "client-home")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result(process: subprocess.Popen[str]) -> dict[str, float]:
    out, err = process.communicate(timeout=600)
    if process.returncode != 0:
        raise RuntimeError(f"a client failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--runs-per-client", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roost-bench-server-"))
    project = work / "project"
    project.mkdir()
    shutil.copy(HERE / "server_workloads.py", project)  # the code bundle: this one module
    server, url = start_server(work / "server-home")
    try:
        latency = statistics.median(result(client(project, url, "latency", 20))["ms"] for _ in range(args.repeat))
        fans = [result(client(project, url, "fanout", 1000)) for _ in range(args.repeat)]
        remote_us = statistics.median(f["remote_us"] for f in fans)
        local_us = statistics.median(f["local_us"] for f in fans)
        rates = []
        for _ in range(args.repeat):
            rounds = [client(project, url, "clients", args.runs_per_client) for _ in range(args.clients)]
            done = [result(p) for p in rounds]
            wall = max(d["ended"] for d in done) - min(d["started"] for d in done)
            rates.append(sum(d["runs"] for d in done) / wall)
        rate = statistics.median(rates)
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        (f"workload (median of {args.repeat})", "roost server", "target"),
        ("remote run: submit -> first action (bundle on the server)", f"{latency:.1f} ms", "<= 50 ms"),
        ("1k async fan-out on the server, per child", f"{remote_us:.0f} us", f"<= 2x local ({local_us:.0f} us)"),
        ("  ratio to the same fan-out run locally", f"{remote_us / local_us:.2f}x", "<= 2x"),
        (f"remote runs per second, {args.clients} clients at once", f"{rate:.0f} runs/s", ""),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    main()
