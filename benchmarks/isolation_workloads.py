"""Isolation benchmark programs: fresh worker processes and warm reusable replicas.

    python isolation_workloads.py WORKLOAD N

``fresh``: N sequential actions, each in a new worker process (its environment declares an env var).
``warm``: N sequential calls into a reusable environment whose replica is already warm.
``warm-concurrent``: N concurrent calls into a reusable environment (throughput).
Prints one JSON line with microseconds per action.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time

import roost as flyte

fresh_env = flyte.TaskEnvironment(name="fresh", env_vars={"BENCH": "1"})
warm_env = flyte.TaskEnvironment(name="warm", reusable=flyte.ReusePolicy(replicas=2, concurrency=8))
driver = flyte.TaskEnvironment(name="driver")


@fresh_env.task
async def fresh_child(x: int) -> int:
    return x


@warm_env.task
async def warm_child(x: int) -> int:
    return x


@driver.task
async def sequential(kind: str, n: int) -> int:
    child = fresh_child if kind == "fresh" else warm_child
    total = 0
    for i in range(n):
        total += await child(i)
    return total


@driver.task
async def concurrent(n: int) -> int:
    return sum(await asyncio.gather(*[warm_child(i) for i in range(n)]))


def main() -> None:
    workload, n = sys.argv[1], int(sys.argv[2])
    if workload == "warm-concurrent":
        flyte.run(concurrent, 32)  # start and warm the replicas
        start = time.perf_counter()
        flyte.run(concurrent, n)
    else:
        kind = "fresh" if workload == "fresh" else "warm"
        flyte.run(sequential, kind, 5)  # start the template (and the replicas)
        start = time.perf_counter()
        flyte.run(sequential, kind, n)
    elapsed = time.perf_counter() - start
    sys.__stdout__.write(json.dumps({"seconds": elapsed, "us_per_action": elapsed * 1e6 / n}) + "\n")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as home:
        os.environ.setdefault("ROOST_HOME", home)
        main()
