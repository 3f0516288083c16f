"""Seed 004: caching, retries with backoff, and timeouts."""

from datetime import timedelta

import roost as flyte
from roost.spec.cache import VersionParameters

env = flyte.TaskEnvironment(name="policies", cache="auto")


@env.task(cache=flyte.Cache(behavior="auto", ignored_inputs=("input_timestamp",), salt="v1"))
def expensive(data: str, input_timestamp: str) -> int:
    return len(data)


@env.task(retries=flyte.RetryStrategy(count=3, backoff=timedelta(seconds=10), backoff_factor=2))
def flaky() -> str:
    return "ok"


@env.task(timeout=flyte.Timeout(max_runtime=timedelta(minutes=5), max_queued_time=timedelta(minutes=1)))
async def long_running() -> str:
    return "done"


if __name__ == "__main__":
    print("cache version:", expensive.cache.get_version(VersionParameters(func=expensive.func))[:16], "...")
    print("retry delays:", [flaky.retries.delay_before_retry(k) for k in (1, 2, 3)])
    backoff = flyte.Backoff(base=timedelta(seconds=10), factor=2, cap=timedelta(minutes=5))
    print("backoff:", [backoff.compute_delay(n).total_seconds() for n in range(7)])
    print("timeout:", long_running.timeout)
