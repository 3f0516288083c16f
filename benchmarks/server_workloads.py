"""Server benchmark programs, run as clients of a roost server (``run_server.py`` starts it).

    python server_workloads.py ENDPOINT latency N      submit -> first action of N remote runs
    python server_workloads.py ENDPOINT fanout N       a fan-out of N children, remote and local
    python server_workloads.py ENDPOINT clients N      N sequential remote runs (one client of many)

Prints one JSON line. Times of actions are the server's records (``started_at``); this machine's
clock is the server's, so submit -> first action compares the two directly.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time

import roost as flyte

env = flyte.TaskEnvironment(name="bench_server")


@env.task
async def noop(x: int) -> int:
    return x


@env.task
async def fan(n: int) -> int:
    return sum(await asyncio.gather(*[noop(i) for i in range(n)]))


def record_of(run: flyte.remote.Run):
    return run._record()


def per_child_us(run: flyte.remote.Run, n: int) -> float:
    record = record_of(run)
    return (record.ended_at - record.started_at) / n * 1e6


def main() -> None:
    endpoint, workload, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    flyte.init(endpoint=endpoint)
    flyte.run(noop, x=0).wait(quiet=True)  # the bundle is on the server and its host is warm
    if workload == "latency":
        samples = []
        for i in range(n):
            submitted = time.time()
            run = flyte.run(noop, x=i)
            run.wait(quiet=True, poll=0.01)
            samples.append((run.action._record.started_at - submitted) * 1000)
        print(json.dumps({"ms": statistics.median(samples)}))
    elif workload == "fanout":
        remote = flyte.run(fan, n=n).wait(quiet=True)
        local = flyte.with_runcontext(mode="local").run(fan, n=n)
        print(json.dumps({"remote_us": per_child_us(remote, n), "local_us": per_child_us(local, n)}))
    elif workload == "clients":
        started = time.time()
        for i in range(n):
            flyte.run(noop, x=i).wait(quiet=True, poll=0.01)
        print(json.dumps({"started": started, "ended": time.time(), "runs": n}))
    else:
        raise SystemExit(f"unknown workload {workload!r}")


if __name__ == "__main__":
    main()
