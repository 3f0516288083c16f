"""Remote runs on a roost server (docs/server.md).

    roost server start --detach                   # without one, the example starts (and stops) its own
    python examples/server_remote.py              # or: roost run --remote examples/server_remote.py main --n 5

The program is a plain Flyte 2 program: only `init(endpoint=...)` says where its runs go. The code
it loaded is sent once (a content-addressed bundle); the run goes on on the server if this program
exits, and `roost get runs` on the server's machine shows it beside local runs.
"""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import roost as flyte

ROOST = str(Path(sys.executable).with_name("roost"))

# Replicas of a reusable environment stay up on the server between runs: run this twice and the
# second run's calls land on the same warm process (see the pid in the output).
warm = flyte.TaskEnvironment(name="server_warm", reusable=flyte.ReusePolicy(replicas=1, concurrency=8, idle_ttl=300))
# On a server, a task calls the tasks of another environment only when its own depends on it.
env = flyte.TaskEnvironment(name="server_example", depends_on=[warm])


@warm.task
async def square(x: int) -> tuple[int, int]:
    import os

    return x * x, os.getpid()


@env.task
async def main(n: int = 5) -> str:
    results = await asyncio.gather(*[square(i) for i in range(n)])
    pids = sorted({pid for _, pid in results})
    return f"sum of squares {sum(v for v, _ in results)} on replica(s) {pids}"


def server_url() -> tuple[str, bool]:
    """The server running for ROOST_HOME, else one started here (and stopped at the end)."""
    status = subprocess.run([ROOST, "server", "status", "--json"], capture_output=True, text=True)
    info = json.loads(status.stdout or "{}")
    if info.get("answering"):
        return info["url"], False
    subprocess.run([ROOST, "server", "start", "--detach", "--port", "0"], check=True)
    info = json.loads(subprocess.run([ROOST, "server", "status", "--json"], capture_output=True, text=True).stdout)
    return info["url"], True


if __name__ == "__main__":
    url, started_here = server_url()
    try:
        flyte.init(endpoint=url, root_dir=Path(__file__).parent)  # the code bundle: this folder's modules
        for _ in range(2):
            run = flyte.with_runcontext(mode="remote").run(main, n=5)
            print(f"run {run.name}: {run.url}")
            run.wait(quiet=True)
            print(run.outputs()[0])
    finally:
        if started_here:
            subprocess.run([ROOST, "server", "stop"], check=True)
