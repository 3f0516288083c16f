"""The roost server as a Flyte backend: the real flyte client beside roost's own client, on one server.

    python benchmarks/run_flyte_backend.py [--repeat 3] [--children 100]

Rows: submit -> first action of a run (a task whose code the server has), and the wall time of one run
of a parent with ``--children`` children -- each through the unmodified flyte client (every action a
Flyte runtime process, ``a0``) and through roost's own client (actions in roost's workers). The flyte
client and runtime are ``flyte==2.12.1`` in a virtualenv outside the repository
(``$ROOST_BENCH_FLYTE_PYTHON``, else ``~/.cache/roost-flyte/flyte-2.12.1``, made with uv on first use).
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
FLYTE_VERSION = "2.12.1"


def flyte_python() -> Path:
    configured = os.environ.get("ROOST_BENCH_FLYTE_PYTHON")
    if configured:
        return Path(configured)
    venv = Path.home() / ".cache" / "roost-flyte" / f"flyte-{FLYTE_VERSION}"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "a0").exists():
        from roost.images.installs import find_uv

        print(f"creating the flyte virtualenv at {venv} ...", file=sys.stderr)
        subprocess.run([find_uv(), "venv", "-q", str(venv)], check=True)
        subprocess.run(
            [find_uv(), "pip", "install", "-q", "--python", str(python), f"flyte=={FLYTE_VERSION}"], check=True
        )
    return python


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{command[1]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--children", type=int, default=100)
    parser.add_argument("--latency-runs", type=int, default=10)
    args = parser.parse_args()
    python = flyte_python()
    work = Path(tempfile.mkdtemp(prefix="roost-bench-flyte-"))
    project = work / "project"
    project.mkdir()
    shutil.copy(HERE / "flyte_client_workloads.py", project)
    shutil.copy(HERE / "server_workloads.py", project)
    server, url = start_server(work / "server-home", "--flyte-python", str(python))
    port = url.rsplit(":", 1)[1]
    config = project / "config.yaml"
    config.write_text(
        f"admin:\n  endpoint: dns:///127.0.0.1:{port}\n  insecure: true\n"
        "task:\n  org: bench\n  project: bench\n  domain: development\n"
    )
    roost_env = {**os.environ, "ROOST_HOME": str(project / "client-home")}
    flyte_cmd = [str(python), "flyte_client_workloads.py", str(config)]
    roost_cmd = [sys.executable, "server_workloads.py", url]
    try:
        n = str(args.latency_runs)
        f_latency = statistics.median(
            measure([*flyte_cmd, "latency", n], project, dict(os.environ))["ms"] for _ in range(args.repeat)
        )
        r_latency = statistics.median(
            measure([*roost_cmd, "latency", n], project, roost_env)["ms"] for _ in range(args.repeat)
        )
        c = str(args.children)
        f_fan = statistics.median(
            measure([*flyte_cmd, "fanout", c], project, dict(os.environ))["s"] for _ in range(args.repeat)
        )
        r_fan = statistics.median(
            measure([*roost_cmd, "fanout", c], project, roost_env)["remote_us"] * args.children / 1e6
            for _ in range(args.repeat)
        )
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        (f"workload (median of {args.repeat})", "flyte client", "roost client"),
        ("submit -> first action", f"{f_latency:.0f} ms", f"{r_latency:.1f} ms"),
        (f"one run of a {args.children}-child fan-out", f"{f_fan:.2f} s", f"{r_fan:.3f} s"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(col.ljust(w) for col, w in zip(row, widths)))


if __name__ == "__main__":
    main()
