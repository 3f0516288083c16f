"""Quickstart: declare environments, run a pipeline, and look at what was recorded.

    python examples/quickstart.py

Runs are recorded under ROOST_HOME (default ~/.roost); afterwards try `roost get runs` and
`roost get run <name>`.
"""

import asyncio
import os

import roost as flyte

# Plain tasks run inside the controller, as fast as in-process code.
env = flyte.TaskEnvironment(name="quickstart")

# This environment declares a variable: its tasks get worker processes of their own, with it set.
greeter = flyte.TaskEnvironment(name="greeter", env_vars={"GREETING": "hello"})


@env.task(retries=2)
def square(x: int) -> int:
    return x * x


@greeter.task
async def greet(name: str) -> str:
    return f"{os.environ['GREETING']}, {name} (from process {os.getpid()})"


@env.task
async def pipeline(n: int) -> tuple[int, str]:
    squares = await asyncio.gather(*[square.aio(i) for i in range(n)])
    return sum(squares), await greet("roost")


if __name__ == "__main__":
    run = flyte.run(pipeline, 5)
    total, greeting = run.outputs()
    print(f"run {run.name}: {run.phase.value}")
    print(f"sum of squares = {total}; {greeting}; controller process {os.getpid()}")
    for action in run.actions():
        record = action.details().record
        print(f"  {action.task_name:20s} {record.isolation:8s} {record.isolation_reason}")
