"""The three tiers -- environment defaults, decorator settings, call-time overrides."""

from datetime import timedelta

import roost as flyte
from roost.core.compile import compile_task

env = flyte.TaskEnvironment(name="analytics_env", resources=flyte.Resources(cpu="500m"), cache="auto")


@env.task(short_name="fetch-data", retries=3, timeout=timedelta(minutes=10))
def fetch(source_url: str) -> str:
    return f"Data from {source_url}"


# A form beyond the SDK: resources on the decorator beat the environment's.
@env.task(resources=flyte.Resources(cpu="1", memory="2Gi"), cache="disable")
def process(raw: str, threshold: int) -> int:
    return len(raw) * threshold


if __name__ == "__main__":
    print(fetch.name, "->", fetch("s3://bucket/key"))
    print(process.name, "->", process("abc", 2))
    fast = fetch.override(retries=0, timeout=30)  # falsy values keep: retries stays 3
    for t in (fetch, fast, process):
        spec = compile_task(t)
        print(
            f"{t.name}: retries={spec.retries.count} max_runtime={spec.max_runtime} cpu={spec.resources.cpu_request}m"
        )
    print("input schema:", process.json_schema)
