"""Tasks for the cgroup tests: they report, from inside the worker, the cgroup they run in."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import roost as flyte
from roost.runtime.host import cgroups

from .tasks import hungry, scalar_memory


def worker_cgroups() -> dict[str, str]:
    """This process's own cgroup folder per controller, where it is a worker cgroup of roost's."""
    found: dict[str, str] = {}
    for controller in cgroups.CONTROLLERS:
        for version in ("v2", "v1"):
            folder = cgroups.own_folder(controller, version)
            if folder is not None and folder.parent.name == cgroups.ROOST_FOLDER:
                found[controller] = str(folder)
                break
    return found


def cpu_quota(folder: str) -> str:
    """The CPU quota written in a worker cgroup, as ``"quota period"`` (v1 and v2 alike)."""
    path = Path(folder)
    if (path / "cpu.max").exists():
        return (path / "cpu.max").read_text().strip()
    quota = (path / "cpu.cfs_quota_us").read_text().strip()
    return f"{quota} {(path / 'cpu.cfs_period_us').read_text().strip()}"


def memory_limit(folder: str) -> int:
    path = Path(folder)
    text = (path / "memory.max" if (path / "memory.max").exists() else path / "memory.limit_in_bytes").read_text()
    return int(text)


@hungry.task
def where() -> dict[str, str]:
    return worker_cgroups()


@hungry.task
def memory_seen() -> int:
    return memory_limit(worker_cgroups()["memory"])


@scalar_memory.task
def scalar_memory_seen() -> int:
    return memory_limit(worker_cgroups()["memory"])


@hungry.task
def sigkill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # dies the way an OOM kill does, under its limit


half = flyte.TaskEnvironment(name="half-cpu", resources=flyte.Resources(cpu=("500m", "500m")))


@half.task
def spin(seconds: float) -> dict[str, str]:
    """Busy-loop for ``seconds`` of wall time; the CPU time it got, and how it was limited."""
    wall, cpu = time.monotonic(), time.process_time()
    while time.monotonic() - wall < seconds:
        pass
    folders = worker_cgroups()
    return {
        "wall": repr(time.monotonic() - wall),
        "cpu": repr(time.process_time() - cpu),
        "cores": str(len(os.sched_getaffinity(0))),
        "omp": os.environ.get("OMP_NUM_THREADS", ""),
        "quota": cpu_quota(folders["cpu"]) if "cpu" in folders else "",
    }


limited_pool = flyte.TaskEnvironment(
    name="limited-pool",
    resources=flyte.Resources(memory=("50Mi", "200Mi"), cpu=("500m", "500m")),
    reusable=flyte.ReusePolicy(replicas=(1, 2), idle_ttl=30, scaledown_ttl=30),
)


@limited_pool.task
def pool_where() -> dict[str, str]:
    return worker_cgroups()
