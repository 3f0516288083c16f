"""Benchmark programs for the real flyte client against a roost server (``run_flyte_backend.py``).

    python flyte_client_workloads.py CONFIG latency N    submit -> first action of N runs (ms, median)
    python flyte_client_workloads.py CONFIG fanout N     one run of a parent with N children (s, wall)

Runs under the flyte virtualenv (it imports flyte, not roost). Prints one JSON line. Times of actions
are the server's records: this machine's clock is the server's.
"""

import asyncio
import json
import os
import statistics
import sys
import time

import flyte
import flyte.remote as remote

env = flyte.TaskEnvironment(name="bench_flyte", image="roost-flyte-runtime")


@env.task
async def noop(x: int) -> int:
    return x


@env.task
async def fan(n: int) -> int:
    return sum(await asyncio.gather(*[noop(i) for i in range(n)]))


def started_at(name: str) -> float:
    status = remote.Run.get(name).details().pb2.action.status
    return status.start_time.ToNanoseconds() / 1e9


def main() -> None:
    config, workload, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    flyte.init_from_config(config)
    flyte.run(noop, x=0).wait(quiet=True)  # the code bundle is uploaded once
    if workload == "latency":
        samples = []
        for i in range(n):
            submitted = time.time()
            run = flyte.run(noop, x=i)
            run.wait(quiet=True)
            samples.append((started_at(run.name) - submitted) * 1000)
        print(json.dumps({"ms": statistics.median(samples)}))
    elif workload == "fanout":
        started = time.time()
        run = flyte.run(fan, n=n)
        run.wait(quiet=True)
        print(json.dumps({"s": time.time() - started, "phase": remote.Run.get(run.name).phase.name}))
    else:
        raise SystemExit(f"unknown workload {workload!r}")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # the client's HTTP runtime may abort at interpreter exit with a stream still open
