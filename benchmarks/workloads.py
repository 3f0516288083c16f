"""The benchmark programs, written once against the Flyte 2 API.

Run as ``python workloads.py IMPL WORKLOAD N`` where IMPL is ``roost`` or ``flyte``: the same code
runs on roost (``import roost as flyte``) or on the real Flyte SDK (in its own virtualenv). Prints
one JSON line: the seconds the measured run took and the microseconds per action.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import resource
import sys
import tempfile
import time

IMPL, WORKLOAD, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
flyte = importlib.import_module(IMPL)

env = flyte.TaskEnvironment(name="bench")


@env.task
async def child(x: int) -> int:
    return x


@env.task
def sync_child(x: int) -> int:
    return x


@env.task
async def fan_out(n: int) -> int:
    return sum(await asyncio.gather(*[child(i) for i in range(n)]))


@env.task
async def sync_fan_out(n: int) -> int:
    return sum(await asyncio.gather(*[sync_child.aio(i) for i in range(n)]))


@env.task
async def chain(n: int) -> int:
    x = 0
    for _ in range(n):
        x = await child(x)
    return x


@env.task
async def one(x: int) -> int:
    return x


@env.task(cache="auto")
async def cached_child(x: int) -> int:
    return x


@env.task
async def cache_hits(n: int) -> int:
    # The same input every time: after the warm-up run filled the cache, every call is a hit.
    x = 0
    for _ in range(n):
        x += await cached_child(1)
    return x


WORKLOADS = {
    "fanout": fan_out,
    "sync-fanout": sync_fan_out,
    "chain": chain,
    "one": one,
    "cache-hit": cache_hits,
}


def main() -> None:
    flyte.init()
    task = WORKLOADS[WORKLOAD]
    runner = flyte.with_runcontext(mode="local")
    if WORKLOAD != "one":
        runner.run(task, 10)  # warm up: imports, first action, thread pools
    start = time.perf_counter()
    runner.run(task, N)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"seconds": elapsed, "us_per_action": elapsed * 1e6 / max(N, 1), "peak_rss_mb": peak_mb}
    sys.__stdout__.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    # Each benchmark process records into a fresh store, and Flyte's local cache and metadata go to a
    # temporary directory, so runs do not see each other's state.
    with tempfile.TemporaryDirectory() as home, open(os.devnull, "w") as devnull:
        os.environ.setdefault("ROOST_HOME", home)
        # Flyte's local cache lives under ~/.flyte/local-cache (read when first used, after import).
        os.environ["HOME"] = home
        sys.stdout = devnull  # task prints and framework chatter are not measured output
        try:
            main()
        finally:
            sys.stdout = sys.__stdout__
