"""The tasks the console tests run: quick ones, a failing one, one that writes a report whose script
probes what it can reach, and one that waits for a file the test creates (a run the test watches live).

Run as a program: ``python console_tasks.py seed`` records the finished runs; ``python console_tasks.py
gate NAME FILE`` runs ``gated`` as run NAME until FILE exists; ``python console_tasks.py approval NAME``
runs ``approval`` as run NAME, which waits on two conditions."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import tempfile

import pandas as pd
import pydantic

import roost as flyte
from roost.io import DataFrame, Dir, File

env = flyte.TaskEnvironment(name="console")

# A report's script tries the console's cookie, its parent page and the API, and writes what happened.
PROBE = """<p id="probe">probing</p>
<script>
var out = [];
try { out.push("cookie:" + JSON.stringify(document.cookie)); } catch (e) { out.push("cookie:blocked"); }
try { out.push("parent:" + parent.document.title); } catch (e) { out.push("parent:blocked"); }
try { out.push("storage:" + String(window.localStorage.length)); } catch (e) { out.push("storage:blocked"); }
function done() { document.getElementById("probe").textContent = out.join(" "); }
try {
  fetch("/api/v1/runs", {credentials: "include"}).then(
    function (r) { out.push("fetch:" + r.status); done(); },
    function () { out.push("fetch:blocked"); done(); });
} catch (e) { out.push("fetch:blocked"); done(); }
</script>"""


@env.task
async def step(i: int) -> int:
    print(f"step {i} done")
    print(f"a second line of step {i}", file=sys.stderr)
    return i * 10


@env.task
async def wait_for(path: str) -> str:
    print(f"waiting for {path}")
    while not os.path.exists(path):
        await asyncio.sleep(0.05)
    print("released")
    return "released"


@env.task
async def gated(gate: str) -> int:
    first = await step(1)
    await wait_for(gate)
    second = await step(2)
    return first + second


@env.task
async def fan_out(n: int) -> dict[str, int]:
    values = await asyncio.gather(*(step(i) for i in range(n)))
    return {"total": sum(values), "count": n}


@env.task
async def broken(x: int) -> int:
    raise ValueError(f"broken on purpose with x={x}")


@env.task(report=True)
async def reporter(title: str) -> str:
    await flyte.report.log.aio(f"<h1>{title}</h1>" + PROBE)
    return title


# A prompt in markdown that also holds HTML: the page must show the HTML as text, never run or load it.
PROMPT = """## Ship?

**Really** ship `v2`? <img src="/nothing" onerror="document.title='pwned'"><script>document.title='pwned'</script>

- tests pass
- docs *updated*
"""


@env.task
async def approval(version: str) -> str:
    ship = await flyte.new_condition.aio("approve", prompt=PROMPT, prompt_type="markdown", data_type=bool)
    if not await ship.wait.aio():
        return "held"
    replicas = await flyte.new_condition.aio("replicas", prompt="How many replicas?", data_type=int)
    return f"shipped {version} x{await replicas.wait.aio()}"


@dataclasses.dataclass
class Point:
    x: int
    label: str


class Settings(pydantic.BaseModel):
    depth: int
    tags: list[str]


# A secret's value the console must never show (the task gets it from this variable of its process).
SECRET_VALUE = "tok-value-s3cret"
typed_env = flyte.TaskEnvironment(
    name="typed",
    env_vars={"GREETING": "hello-value-hidden"},
    secrets=[flyte.Secret(key="console_token", as_env_var="CONSOLE_TOKEN")],
    resources=flyte.Resources(cpu=1, memory="512Mi"),
)


@typed_env.task
async def typed_io(n: int, point: Point) -> tuple[File, Dir, pd.DataFrame, Settings, DataFrame]:
    """Values of each kind the console shows its own way, and a checkpoint."""
    await flyte.ctx().checkpoint.save(b"progress: 42 rows")
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "a.txt"), "w") as f:
        f.write("contents of a")
    os.makedirs(os.path.join(folder, "sub"))
    with open(os.path.join(folder, "sub", "b.txt"), "w") as f:
        f.write("contents of b")
    with open(os.path.join(folder, "table.csv"), "w") as f:
        f.write("x,y\n1,2\n")
    frame = pd.DataFrame({"id": list(range(n)), "name": [f"row-{i}" for i in range(n)]})
    wrapped = DataFrame.wrap_df(pd.DataFrame({"k": ["a", "b"], "v": [1.5, 2.5]}))
    csv = await File.from_local(os.path.join(folder, "table.csv"))
    return csv, await Dir.from_local(folder), frame, Settings(depth=point.x, tags=[point.label]), wrapped


def seed() -> None:
    os.environ["CONSOLE_TOKEN"] = SECRET_VALUE
    flyte.with_runcontext(name="typed-1").run(typed_io, 25, Point(3, "p"))
    flyte.with_runcontext(name="alpha-1").run(fan_out, 2)
    flyte.with_runcontext(name="alpha-2").run(fan_out, 3)
    try:
        flyte.with_runcontext(name="beta-1").run(broken, 7)
    except Exception:
        pass
    flyte.with_runcontext(name="report-1").run(reporter, "Report from a task")


if __name__ == "__main__":
    flyte.init()
    if sys.argv[1] == "seed":
        seed()
    elif sys.argv[1] == "approval":
        flyte.with_runcontext(name=sys.argv[2]).run(approval, "v2")
    else:
        flyte.with_runcontext(name=sys.argv[2]).run(gated, sys.argv[3])
