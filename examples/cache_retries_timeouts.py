"""Caching, retries with backoff, and timeouts -- all honoured by local runs."""

import asyncio
import time
from datetime import timedelta

import roost as flyte

env = flyte.TaskEnvironment(name="policies", cache="auto")
attempts = {"n": 0}


@env.task(cache=flyte.Cache(behavior="auto", ignored_inputs=("input_timestamp",), salt="v1"))
def expensive(data: str, input_timestamp: str) -> int:
    time.sleep(0.5)  # the second call with the same data is answered from the cache
    return len(data)


@env.task(retries=flyte.RetryStrategy(count=3, backoff=timedelta(seconds=1), backoff_factor=2), cache="disable")
def flaky() -> str:
    attempts["n"] += 1
    if attempts["n"] < 3:
        raise ConnectionError(f"attempt {attempts['n']} failed")
    return f"succeeded on attempt {flyte.ctx().attempt_number + 1}"


@env.task(timeout=timedelta(seconds=0.2), cache="disable")
async def too_slow() -> str:
    await asyncio.sleep(5)
    return "never"


if __name__ == "__main__":
    for stamp in ("09:00", "10:00"):
        start = time.perf_counter()
        run = flyte.run(expensive, "some data", stamp)
        hit = run.action.details().record.cache_hit
        print(f"expensive -> {run.outputs()[0]} in {time.perf_counter() - start:.2f} s (cache hit: {hit})")
    print("flaky ->", flyte.run(flaky).outputs()[0])
    try:
        flyte.run(too_slow)
    except flyte.errors.MaxRuntimeExceededError as e:
        print("too_slow ->", e)
