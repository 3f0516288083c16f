"""Tasks in reusable environments, for the pool tests."""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from datetime import timedelta

import roost as flyte

with warnings.catch_warnings():  # one replica on purpose: the warning about starvation is expected
    warnings.simplefilter("ignore")
    ONE_REPLICA = flyte.ReusePolicy(replicas=1, idle_ttl=60, scaledown_ttl=60)
warm = flyte.TaskEnvironment(name="warm", reusable=ONE_REPLICA)
_calls: list[int] = []  # module state: survives between calls on one replica


@warm.task
def remember(x: int) -> tuple[int, int]:
    _calls.append(x)
    return os.getpid(), len(_calls)


elastic = flyte.TaskEnvironment(
    name="elastic",
    reusable=flyte.ReusePolicy(replicas=(1, 3), concurrency=2, idle_ttl=100, scaledown_ttl=30),
)


@elastic.task
async def busy(seconds: float) -> int:
    await asyncio.sleep(seconds)
    return os.getpid()


plain = flyte.TaskEnvironment(name="pool-plain")


@plain.task
async def load(n: int, seconds: float) -> list[int]:
    return list(await asyncio.gather(*[busy(seconds) for _ in range(n)]))


fragile = flyte.TaskEnvironment(name="fragile", reusable=flyte.ReusePolicy(replicas=2, idle_ttl=60, scaledown_ttl=60))


@fragile.task(retries=1)
def maybe_crash(marker: str) -> int:
    if marker and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)  # the replica dies mid-action, once
    time.sleep(0.05)
    return os.getpid()


@plain.task
async def crash_among_others(marker: str) -> list[int]:
    first = asyncio.ensure_future(maybe_crash.aio(marker))
    others = [maybe_crash.aio("") for _ in range(4)]
    return [await first, *(await asyncio.gather(*others))]


slow_env = flyte.TaskEnvironment(name="slow-pool", reusable=ONE_REPLICA)


@slow_env.task(timeout=timedelta(seconds=0.5))
def sleepy(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


# Four warm replicas of two cores each: on a two-core machine only one can ever run at a time.
crowded = flyte.TaskEnvironment(
    name="crowded",
    resources=flyte.Resources(cpu=2),
    reusable=flyte.ReusePolicy(replicas=4, idle_ttl=60, scaledown_ttl=60),
)


@crowded.task
def crowded_pid(i: int) -> int:
    return os.getpid()


# One warm replica that may grow to three of one core each: two fit a two-core machine.
growing = flyte.TaskEnvironment(
    name="growing",
    resources=flyte.Resources(cpu=1),
    reusable=flyte.ReusePolicy(replicas=(1, 3), idle_ttl=60, scaledown_ttl=60),
)


@growing.task
def growing_pid(i: int) -> int:
    return os.getpid()


@plain.task
async def fan_out(env: str, n: int) -> list[int]:
    task = crowded_pid if env == "crowded" else growing_pid
    return list(await asyncio.gather(*(task.aio(i) for i in range(n))))
