"""Server-managed app benchmarks: a real ``roost server``, a small FastAPI app served by it, real HTTP.

    python benchmarks/run_apps.py [--repeat 5] [--requests 1000] [--seconds 2] [--connections 16]

Rows (DESIGN.md targets):
- cold start: from zero replicas to the first response through the proxy (<= 1 s);
- proxy overhead per request, p50 and p99: sequential GETs on a kept-alive connection through
  ``/apps/NAME/`` minus the same GETs sent to the replica's own port, one of each in turn (<= 1 ms at
  p50);
- requests per second through the proxy (and straight to the replica, for scale) from
  ``--connections`` concurrent keep-alive connections for ``--seconds``.
Each figure is the median of ``--repeat`` rounds. The server records into a temporary ROOST_HOME.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
from bench_servers import start_server

PROGRAM = textwrap.dedent(
    """
    import os

    import roost as flyte
    from fastapi import FastAPI
    from roost.app import Scaling

    bench = flyte.AppEnvironment(name="bench", scaling=Scaling(replicas=(0, 1), scaledown_after=600))


    @bench.server
    async def serve() -> None:
        import uvicorn

        api = FastAPI()

        @api.get("/")
        async def root() -> dict:
            return {"ok": True}

        config = uvicorn.Config(api, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
        await uvicorn.Server(config).serve()
    """
)


def view(client: httpx.Client, url: str) -> dict:
    return client.get(f"{url}/api/v1/apps/bench").json()  # type: ignore[no-any-return]


def cold_start(client: httpx.Client, url: str) -> float:
    """Seconds from a request to an app with no replica to its response."""
    client.post(f"{url}/api/v1/apps/bench/active", json={"active": False})
    while view(client, url)["total"]:
        time.sleep(0.05)
    client.post(f"{url}/api/v1/apps/bench/active", json={"active": True})
    started = time.perf_counter()
    response = client.get(f"{url}/apps/bench/")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


def latencies(proxied: str, direct: str, n: int) -> tuple[list[float], list[float]]:
    """Seconds of ``n`` sequential GETs through the proxy and ``n`` straight to the replica, one of
    each in turn (each on its own kept-alive connection): both see the same moments of a noisy machine."""
    with httpx.Client(trust_env=False) as through, httpx.Client(trust_env=False) as straight:
        for _ in range(50):  # warm the connections and both servers
            through.get(proxied)
            straight.get(direct)
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(n):
            for client, url, kept in ((through, proxied, times[0]), (straight, direct, times[1])):
                started = time.perf_counter()
                client.get(url)
                kept.append(time.perf_counter() - started)
    return sorted(times[0]), sorted(times[1])


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


async def throughput(base: str, seconds: float, connections: int) -> float:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(trust_env=False, limits=limits) as client:
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.get(base)
                assert response.status_code == 200
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="roost-bench-apps-"))
    home, project = folder / "home", folder / "project"
    project.mkdir(parents=True)
    (project / "bench_app.py").write_text(PROGRAM)
    server, url = start_server(home)
    try:
        registered = subprocess.run(
            [sys.executable, "-m", "roost.cli.main", "serve", "--endpoint", url, "bench_app.py", "bench"],
            cwd=project,
            env={**os.environ, "ROOST_HOME": str(folder / "client-home")},
            capture_output=True,
            text=True,
        )
        assert registered.returncode == 0, registered.stderr
        with httpx.Client(trust_env=False, timeout=60) as client:
            colds = [cold_start(client, url) for _ in range(args.repeat)]
            port = view(client, url)["replicas"][0]["port"]
        proxied, direct = f"{url}/apps/bench/", f"http://127.0.0.1:{port}/"
        p50s, p99s, direct_p50s, rates, direct_rates = [], [], [], [], []
        for _ in range(args.repeat):
            through, straight = latencies(proxied, direct, args.requests)
            p50s.append((percentile(through, 0.5) - percentile(straight, 0.5)) * 1e3)
            p99s.append((percentile(through, 0.99) - percentile(straight, 0.99)) * 1e3)
            direct_p50s.append(percentile(straight, 0.5) * 1e3)
            rates.append(asyncio.run(throughput(proxied, args.seconds, args.connections)))
            direct_rates.append(asyncio.run(throughput(direct, args.seconds, args.connections)))
        med = statistics.median
        print(f"cold start, zero replicas -> first response (FastAPI app): {med(colds) * 1e3:.0f} ms")
        print(
            f"proxy overhead per request: p50 {med(p50s):.2f} ms, p99 {med(p99s):.2f} ms "
            f"(straight to the replica, p50: {med(direct_p50s):.2f} ms)"
        )
        print(
            f"requests/s through the proxy ({args.connections} connections): {med(rates):.0f} "
            f"(straight to the replica: {med(direct_rates):.0f})"
        )
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
