"""Ray benchmark programs: the same work through roost (process isolation or Ray) and plain Ray.

    python ray_workloads.py IMPL WORKLOAD N ADDRESS

IMPL: ``roost-process`` (local, isolation="process"), ``roost-ray`` (isolation="ray": every action a
Ray task, reusable environments Ray actors), ``roost-hybrid`` (mode="hybrid": the parent here, its
children on Ray, so their calls need no broker) or ``ray`` (plain ``@ray.remote`` functions and actors).
WORKLOAD: ``fanout`` -- N concurrent trivial children of one parent; ``throughput`` -- N concurrent
calls into a reusable environment (plain Ray: N tasks at once); ``warm`` -- N sequential calls
into a warm reusable environment (a Ray actor for plain Ray). Prints one JSON line with microseconds
per action of the measured run (after a warm-up run of the same program).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time

import roost as flyte

env = flyte.TaskEnvironment(name="bench_ray")
warm_env = flyte.TaskEnvironment(name="bench_ray_warm", reusable=flyte.ReusePolicy(replicas=1, concurrency=1))


pool_env = flyte.TaskEnvironment(name="bench_ray_pool", reusable=flyte.ReusePolicy(replicas=2, concurrency=8))


@env.task
async def child(x: int) -> int:
    return x


@pool_env.task
async def pooled_child(x: int) -> int:
    return x


@env.task
async def throughput(n: int) -> int:
    return sum(await asyncio.gather(*[pooled_child(i) for i in range(n)]))


@warm_env.task
async def warm_child(x: int) -> int:
    return x


@env.task
async def fan_out(n: int) -> int:
    return sum(await asyncio.gather(*[child(i) for i in range(n)]))


@env.task
async def sequential(n: int) -> int:
    total = 0
    for i in range(n):
        total += await warm_child(i)
    return total


def roost_workload(impl: str, workload: str, n: int, address: str) -> float:
    if impl == "roost-ray":
        flyte.init(ray_address=address)
        runner = flyte.with_runcontext()
    elif impl == "roost-hybrid":
        flyte.init(ray_address=address)
        base = tempfile.mkdtemp()
        runs = iter(range(1 << 30))
        runner = _Hybrid(lambda: flyte.with_runcontext(mode="hybrid", name=f"h{next(runs)}", run_base_dir=base))
    else:
        flyte.init()
        runner = flyte.with_runcontext(isolation="process")
    task = {"fanout": fan_out, "warm": sequential, "throughput": throughput}[workload]
    runner.run(task, min(n, 20))  # warm up: connection, workers, replicas
    start = time.perf_counter()
    runner.run(task, n)
    return time.perf_counter() - start


class _Hybrid:
    """Hybrid runs need a name each: a fresh runner per run."""

    def __init__(self, make):
        self._make = make

    def run(self, task, *args):
        return self._make().run(task, *args)


def ray_workload(workload: str, n: int, address: str) -> float:
    import ray

    ray.init(address=address, log_to_driver=False, logging_level="WARNING")

    @ray.remote
    def plain_child(x: int) -> int:
        return x

    @ray.remote
    class Warm:
        def call(self, x: int) -> int:
            return x

    def fan(count: int) -> int:
        return sum(ray.get([plain_child.remote(i) for i in range(count)]))

    actor = Warm.remote()

    def calls(count: int) -> int:
        return sum(ray.get(actor.call.remote(i)) for i in range(count))

    body = calls if workload == "warm" else fan  # throughput: plain Ray tasks, all at once
    body(min(n, 20))
    start = time.perf_counter()
    body(n)
    return time.perf_counter() - start


def main() -> None:
    impl, workload, n, address = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    seconds = ray_workload(workload, n, address) if impl == "ray" else roost_workload(impl, workload, n, address)
    sys.__stdout__.write(json.dumps({"seconds": seconds, "us_per_action": seconds * 1e6 / n}) + "\n")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as home:
        os.environ.setdefault("ROOST_HOME", home)
        main()
