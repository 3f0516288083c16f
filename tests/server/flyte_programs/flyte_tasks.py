"""A Flyte 2 program, run by the real flyte client against a roost server (tests/server/test_flyte_client.py).
It imports flyte, not roost: the client and the runtime are Flyte's own."""

import asyncio
import os
from datetime import datetime
from pathlib import Path

import flyte

# A plain image URI: on a roost server, the server's Flyte runtime (docs/flyte-backend.md).
env = flyte.TaskEnvironment(
    name="fb",
    image="roost-flyte-runtime",
    env_vars={"GREETING": "hello from the template"},
    resources=flyte.Resources(memory="300Mi"),
    secrets=[flyte.Secret(key="fb-token", as_env_var="FB_TOKEN")],
)


@env.task
async def square(x: int) -> int:
    print(f"squaring {x}", flush=True)
    return x * x


@env.task
async def fanout(n: int) -> int:
    return sum(await asyncio.gather(*(square(i) for i in range(n))))


@env.task
async def chain(n: int) -> int:
    value = 1
    for _ in range(n):
        value = await square(value + 1) % 1000
    return value


@flyte.trace
async def traced_double(x: int) -> int:
    return 2 * x


@env.task
async def with_trace(x: int) -> int:
    return await traced_double(x) + 1


@env.task
async def approval(x: int) -> int:
    condition = await flyte.new_condition.aio("approve", prompt=f"double {x}?", data_type=int, timeout=120)
    factor = await condition.wait.aio()
    return x * factor


@env.task
async def fails(x: int) -> int:
    raise ValueError(f"bad input {x}")


@env.task
async def greet() -> str:
    return f"{os.environ['GREETING']} / token {len(os.environ['FB_TOKEN'])} chars"


@env.task
async def hog(mb: int) -> int:
    blocks = [bytearray(1024 * 1024) for _ in range(mb)]
    await asyncio.sleep(1)
    return len(blocks)


@env.task
async def wait_for(path: str) -> str:
    while not Path(path).exists():
        await asyncio.sleep(0.1)
    return "released"


@env.task(
    triggers=flyte.Trigger(
        "every-minute", flyte.FixedRate(1), inputs={"at": flyte.TriggerTime, "label": "tick"}, auto_activate=True
    )
)
async def stamp(at: datetime, label: str) -> str:
    return f"{label} {at.isoformat()}"
