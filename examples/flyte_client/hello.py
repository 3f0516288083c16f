"""An unmodified Flyte 2 program, run by the real flyte client on a roost server (docs/flyte-backend.md).

    roost server start            # builds the Flyte runtime (flyte==<client version>) on first use
    flyte -c config.yaml run --follow hello.py main --x 21
    flyte -c config.yaml deploy hello.py env

It imports flyte, not roost: the client and the runtime are Flyte's own; roost is the backend.
"""

import asyncio

import flyte

# A plain image URI: on a roost server, actions run under the server's Flyte runtime virtualenv.
env = flyte.TaskEnvironment(name="hello_env", image="roost-flyte-runtime", resources=flyte.Resources(memory="500Mi"))


@env.task
async def square(x: int) -> int:
    print(f"squaring {x}", flush=True)
    return x * x


@env.task
async def main(x: int) -> int:
    squares = await asyncio.gather(*(square(i) for i in range(x)))
    return sum(squares)
