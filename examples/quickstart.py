"""Quickstart: declare an environment, define tasks in it, call them, and see what they resolve to."""

import asyncio

import roost as flyte
from roost.core.compile import compile_task

env = flyte.TaskEnvironment(
    name="quickstart",
    resources=flyte.Resources(cpu="1", memory="512Mi"),
    env_vars={"GREETING": "hello"},
)


@env.task(retries=2)
def square(x: int) -> int:
    return x * x


@env.task
async def sum_of_squares(n: int) -> int:
    # Outside a run a task is its plain function: an async task gives a coroutine.
    return sum(square(i) for i in range(n))


if __name__ == "__main__":
    print("tasks:", list(env.tasks))
    print("sum_of_squares(4) =", asyncio.run(sum_of_squares(4)))
    spec = compile_task(square)
    print("square runs as:", spec.target)
    print("square needs its own process because it declares:", ", ".join(spec.process_reasons))
