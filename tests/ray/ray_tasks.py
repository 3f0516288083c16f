"""Programs for the Ray tests: the same Flyte code as anywhere else, nothing Ray-specific."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
import warnings
from pathlib import Path

import roost as flyte

cluster = flyte.TaskEnvironment(name="ray_fan")


@cluster.task
async def square(x: int) -> int:
    print(f"squaring {x}")
    return x * x


@cluster.task
def sync_square(x: int) -> int:
    return x * x


@cluster.task
async def fan_out(n: int) -> list[int]:
    return list(await asyncio.gather(*[square(i) for i in range(n)]))


@cluster.task
async def sync_fan_out(n: int) -> list[int]:
    return list(await asyncio.gather(*[sync_square.aio(i) for i in range(n)]))


@cluster.task
async def tree(depth: int) -> int:
    """2**depth leaves, deeper than the cluster has CPUs: parents must lend theirs to their children."""
    if depth == 0:
        return 1
    return sum(await asyncio.gather(tree(depth - 1), tree(depth - 1)))


@cluster.task
def sync_tree(depth: int) -> int:
    return 1 if depth == 0 else sync_tree(depth - 1) + sync_tree(depth - 1)


@cluster.task(timeout=flyte.Timeout(max_runtime=1))
def stuck(seconds: float) -> str:
    time.sleep(seconds)
    return "woke up"


big = flyte.TaskEnvironment(name="ray_big", resources=flyte.Resources(cpu=3))


@big.task(timeout=flyte.Timeout(max_queued_time=2))
async def too_big() -> str:
    return "ran"


fits = flyte.TaskEnvironment(name="ray_fits", resources=flyte.Resources(cpu=1, memory="200Mi"))


@fits.task
async def fitting() -> str:
    return "ran"


secretive = flyte.TaskEnvironment(
    name="ray_secretive",
    env_vars={"COLOR": "teal"},
    secrets=[flyte.Secret("ray-token", group="svc"), flyte.Secret("ray-cert", mount="/etc/flyte/secrets")],
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@secretive.task
def use_secrets() -> dict[str, str]:
    folder = Path(os.environ["ROOST_SECRETS_DIR"])
    # Digests, not values: a task that returns a secret has put it in its outputs itself.
    return {
        "color": os.environ["COLOR"],
        "env": sha(os.environ["SVC_RAY_TOKEN"]),
        "file": sha((folder / "ray-cert").read_text()),
        "mode": oct(folder.stat().st_mode & 0o777),
        "folder": str(folder),
    }


@secretive.task
def fail_with_secrets() -> str:
    print("about to fail")
    raise ValueError("failed on purpose")


@cluster.task
def env_probe(name: str) -> str:
    return os.environ.get(name, "<absent>")


with warnings.catch_warnings():  # one replica on purpose: the warning about starvation is expected
    warnings.simplefilter("ignore")
    ONE_REPLICA = flyte.ReusePolicy(replicas=1, idle_ttl=60, scaledown_ttl=60)
warm = flyte.TaskEnvironment(name="ray_warm", reusable=ONE_REPLICA, env_vars={"WARM": "yes"})
_calls: list[int] = []  # module state: survives between calls on one replica


@warm.task
def remember(x: int) -> tuple[int, int, str]:
    _calls.append(x)
    return os.getpid(), len(_calls), os.environ.get("WARM", "")


@warm.task
async def warm_square(x: int) -> int:
    return await square(x)  # a nested call from a replica is a child action too


crashy = flyte.TaskEnvironment(name="ray_crashy")


@crashy.task(retries=1)
def crash_once(marker: str) -> str:
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)  # the Ray worker dies mid-action, on the first attempt only
    return "survived"


@cluster.task(timeout=flyte.Timeout(max_runtime=1))
async def stuck_async(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "woke up"


@cluster.task
async def sleeps(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "slept"


@cluster.task
async def abortable() -> list[str]:
    return list(await asyncio.gather(sleeps(60.0), sleeps(60.0)))


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fragile = flyte.TaskEnvironment(
        name="ray_fragile", reusable=flyte.ReusePolicy(replicas=1, idle_ttl=60, scaledown_ttl=60)
    )


@fragile.task(timeout=flyte.Timeout(max_runtime=1))
def replica_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@cluster.task
def write_file(text: str) -> flyte.io.File:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "note.txt"
        path.write_text(text)
        return flyte.io.File.from_local_sync(str(path))  # copied into the run's blob store


@cluster.task
def read_file(file: flyte.io.File) -> str:
    with file.open_sync() as f:
        return f.read().decode()


@cluster.task(report=True)
async def reported(x: int) -> int:
    flyte.report.log(f"<p>ray {x}</p>")
    return x


@cluster.task(report=True)
def sync_reported(x: int) -> int:
    flyte.report.get_tab("sync").log(f"<p>sync ray {x}</p>")
    return x


@cluster.task
async def reports_from_ray() -> list[int]:
    return list(await asyncio.gather(reported(1), sync_reported.aio(2)))


@flyte.trace
async def traced_lookup(marks: str, key: str) -> str:
    with open(Path(marks) / f"lookup-{key}", "a") as f:
        f.write("x")
    return key.upper()


@flyte.trace
def traced_sum(marks: str, values: list[int]) -> int:
    with open(Path(marks) / "sum", "a") as f:
        f.write("x")
    return sum(values)


@cluster.task
async def traced_in_ray(marks: str, fail_flag: str) -> str:
    found = await traced_lookup(marks, "a") + await traced_lookup(marks, "b")
    total = traced_sum(marks, [1, 2, 3])  # a sync helper on the event loop of a Ray task
    if Path(fail_flag).exists():
        raise RuntimeError("failing after the traced calls, as asked")
    return f"{found}{total}"


@cluster.task
async def durable_in_ray(fail_flag: str) -> float:
    started = await flyte.durable.time.aio()
    await flyte.durable.sleep.aio(0.2)
    if Path(fail_flag).exists():
        raise RuntimeError("failing after the durable calls, as asked")
    return started
