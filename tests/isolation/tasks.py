"""Tasks for the isolation tests, in a module workers can import."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import roost as flyte

red = flyte.TaskEnvironment(name="red", env_vars={"COLOR": "red", "ONLY_RED": "1"})
blue = flyte.TaskEnvironment(name="blue", env_vars={"COLOR": "blue"})
plain = flyte.TaskEnvironment(name="plain")


@red.task
def red_view() -> dict[str, str]:
    return {"COLOR": os.environ.get("COLOR", ""), "ONLY_RED": os.environ.get("ONLY_RED", ""), "pid": str(os.getpid())}


@blue.task(env_vars={"LEVEL": "task"})
def blue_view() -> dict[str, str]:
    return {k: os.environ.get(k, "") for k in ("COLOR", "ONLY_RED", "LEVEL", "RUN_LEVEL")}


@plain.task
async def plain_view() -> dict[str, str]:
    return {"COLOR": os.environ.get("COLOR", ""), "pid": str(os.getpid())}


@plain.task
async def both() -> list[dict[str, str]]:
    return list(await asyncio.gather(red_view.aio(), blue_view.aio(), plain_view()))


secretive = flyte.TaskEnvironment(
    name="secretive",
    secrets=[
        flyte.Secret("api-token", group="svc"),
        flyte.Secret("cert", mount="/etc/flyte/secrets"),
    ],
)


@secretive.task
def use_secrets() -> dict[str, str]:
    folder = Path(os.environ.get("ROOST_SECRETS_DIR", "/etc/flyte/secrets"))
    cert = folder / "cert"
    # Digests, not values: a task that returns a secret has put it in its outputs itself.
    return {
        "env": hashlib.sha256(os.environ.get("SVC_API_TOKEN", "").encode()).hexdigest(),
        "file": hashlib.sha256(cert.read_bytes()).hexdigest() if cert.exists() else "",
        "mode": oct(cert.stat().st_mode & 0o777) if cert.exists() else "",
    }


@secretive.task
def echo_secret_then_fail() -> None:
    print("token has", len(os.environ["SVC_API_TOKEN"]), "characters")
    raise ValueError("failing on purpose")


hungry = flyte.TaskEnvironment(name="hungry", resources=flyte.Resources(memory=("50Mi", "120Mi")))


@hungry.task
def hog(megabytes: int) -> int:
    blocks = [bytearray(1024 * 1024) for _ in range(megabytes)]
    time.sleep(2)
    return len(blocks)


# A single value is a request, and the limit too (as the Flyte control plane sets it).
scalar_memory = flyte.TaskEnvironment(name="scalar-memory", resources=flyte.Resources(memory="200Mi"))


@scalar_memory.task
def hog_at_request(megabytes: int) -> int:
    blocks = [bytearray(1024 * 1024) for _ in range(megabytes)]
    time.sleep(2)
    return len(blocks)


one_cpu = flyte.TaskEnvironment(name="one-cpu", resources=flyte.Resources(cpu="1"))


@one_cpu.task
def one_cpu_affinity() -> dict[str, str]:
    return {"cores": str(len(os.sched_getaffinity(0))), "omp": os.environ.get("OMP_NUM_THREADS", "")}


@one_cpu.task
def cpu_bound(i: int) -> tuple[float, float]:
    start = time.time()
    time.sleep(0.3)
    return start, time.time()


@plain.task
async def three_cpu_tasks() -> list[tuple[float, float]]:
    return list(await asyncio.gather(*[cpu_bound.aio(i) for i in range(3)]))


@plain.task
def too_big() -> None: ...


pinned = flyte.TaskEnvironment(name="pinned", resources=flyte.Resources(cpu=("1", "1")))


@pinned.task
def affinity() -> dict[str, str]:
    return {"cores": str(len(os.sched_getaffinity(0))), "omp": os.environ.get("OMP_NUM_THREADS", "")}


gpu_env = flyte.TaskEnvironment(name="gpu-env", resources=flyte.Resources(gpu=1))


@gpu_env.task
def sees_gpu() -> str:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")


no_gpu = flyte.TaskEnvironment(name="no-gpu", env_vars={"X": "1"})


@no_gpu.task
def sees_no_gpu() -> str:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")


@plain.task(timeout=timedelta(seconds=0.5))
def stuck(marker: str) -> str:
    time.sleep(3)
    Path(marker).write_text("the worker was not killed")
    return "late"


@plain.task(retries=1)
def crashes_once(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("crashed")
        os.kill(os.getpid(), signal.SIGSEGV)
    return f"recovered in {os.getpid()}"


@red.task
async def red_parent(n: int) -> list[int]:
    return list(await asyncio.gather(*[plain_child(i) for i in range(n)]))


@plain.task
async def plain_child(i: int) -> int:
    return i * i


@red.task
def env_probe(name: str) -> str:
    return os.environ.get(name, "<absent>")
