"""Reusable environments keep warm replicas between calls -- and their module state."""

import asyncio
import os
from datetime import timedelta

import roost as flyte

policy = flyte.ReusePolicy(replicas=(1, 2), idle_ttl=timedelta(minutes=5), concurrency=4, scaledown_ttl=60)
env = flyte.TaskEnvironment(name="async-reusable-env", reusable=policy)
driver = flyte.TaskEnvironment(name="driver")

_loaded_model: dict[str, str] = {}  # module state: loaded once per replica, reused by later calls


@env.task
async def predict(item: str) -> str:
    if "model" not in _loaded_model:
        await asyncio.sleep(0.2)  # an expensive load, paid once per warm replica
        _loaded_model["model"] = f"model in process {os.getpid()}"
    return f"{item} scored by {_loaded_model['model']}"


@driver.task
async def score(items: list[str]) -> list[str]:
    return list(await asyncio.gather(*[predict(i) for i in items]))


if __name__ == "__main__":
    print("replicas", policy.replicas, "capacity", policy.capacity, "idle_ttl", policy.idle_ttl)
    for attempt in (1, 2):
        run = flyte.run(score, [f"item-{i}" for i in range(6)])
        print(f"run {attempt}:", run.outputs()[0][:2], "...")
    try:

        @env.task
        def blocking(x: int) -> int:  # sync code cannot share a replica with 3 others
            return x

    except ValueError as e:
        print("rejected:", e)
    try:
        predict.override(env_vars={"X": "1"})
    except ValueError as e:
        print("rejected:", e)
