"""Untyped values (typing.Any) through many calls in worker processes: pickled, warned about once."""

from typing import Any

import roost as flyte

env = flyte.TaskEnvironment(name="any_values", env_vars={"PROGRAM": "any_values"})


@env.task
def identity(value: Any) -> Any:
    return value


@env.task
def fan_out(n: int) -> list[int]:
    return [identity(i) for i in range(n)]


if __name__ == "__main__":
    flyte.init_from_config()
    print("any values ok:", flyte.run(fan_out, 5).outputs()[0])
