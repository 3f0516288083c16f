"""Seed 002: reusable environments keep warm replicas between calls."""

import asyncio
from datetime import timedelta

import roost as flyte

policy = flyte.ReusePolicy(replicas=(2, 5), idle_ttl=timedelta(minutes=5), concurrency=10, scaledown_ttl=120)
env = flyte.TaskEnvironment(name="async-reusable-env", reusable=policy)


@env.task
async def process_item(item_id: str) -> str:
    await asyncio.sleep(0.01)
    return f"Processed {item_id}"


if __name__ == "__main__":
    print("replicas", policy.replicas, "capacity", policy.capacity, "idle_ttl", policy.idle_ttl)
    print(asyncio.run(process_item("a")))
    try:

        @env.task
        def blocking(x: int) -> int:  # sync code cannot share a replica with 9 others
            return x

    except ValueError as e:
        print("rejected:", e)
    try:
        process_item.override(env_vars={"X": "1"})
    except ValueError as e:
        print("rejected:", e)
