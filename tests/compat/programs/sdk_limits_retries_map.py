"""A single memory value is the limit, retries with a timeout and a cache, map inside a group, and a
notebook-style look at the finished run through flyte.remote."""

import json
import os
import sys
import tempfile
from pathlib import Path

import roost as flyte

small = flyte.TaskEnvironment(name="small", resources=flyte.Resources(memory="200Mi"))
steady = flyte.TaskEnvironment(name="steady")
MARKER = Path(tempfile.gettempdir()) / f"sdk-flaky-{os.getpid()}"


@small.task
def hoard(megabytes: int) -> int:
    return len([bytearray(1024 * 1024) for _ in range(megabytes)])


@steady.task(retries=2, timeout=60, cache="auto")
def flaky(x: int) -> int:
    if not MARKER.exists():
        MARKER.write_text("failed once")
        raise ConnectionError("first attempt fails")
    return x * 10


@steady.task
def square(x: int) -> int:
    return x * x


@steady.task
async def main() -> dict:
    try:
        await hoard.aio(400)
        oom = "not killed"
    except flyte.errors.OOMError as e:
        oom = "200Mi" if "memory limit of 200Mi" in str(e) else str(e)
    first = await flaky.aio(4)
    again = await flaky.aio(4)  # answered by the cache
    with flyte.group("squares"):
        squares = [r async for r in flyte.map.aio(square, [1, 2, 3])]
    return {"oom": oom, "flaky": [first, again], "squares": squares}


if __name__ == "__main__":
    flyte.init_from_config()
    run = flyte.run(main)
    out = run.outputs()[0]
    again = flyte.remote.Run.get(run.name)
    actions = list(flyte.remote.Action.listall(for_run_name=run.name))
    attempts = sorted(a.details().attempts for a in actions)
    MARKER.unlink(missing_ok=True)
    ok = out == {"oom": "200Mi", "flaky": [40, 40], "squares": [1, 4, 9]}
    print(json.dumps({"run": run.name, "ok": ok, "out": out, "phase": str(again.phase), "attempts": attempts}))
    sys.exit(0 if ok else 1)
