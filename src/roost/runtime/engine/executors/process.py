"""Process: each attempt runs in a fresh worker process, forked from a template and gone after it.

The worker gets exactly the environment the task declares (env vars of the environment, task and
run; its secrets; its granted CPUs and GPUs). Its memory and CPU limits go to a cgroup of its own
where one can be made (host/cgroups.py: the kernel kills it at the memory limit and throttles it
to the CPU quota); otherwise the memory limit is watched from here and enforced by killing the
worker, and the CPU limit pins it to that many cores. A runtime bound on any code (sync included)
kills it too. A worker that dies fails only its action, with an error that says how it died, and
retries apply. Where the limits were enforced shows in the action's node ("pid N (memory and cpu
limits in cgroup v1)").
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from roost.errors import MaxRuntimeExceededError
from roost.images.local import LocalImage, known, needs_build, python_for
from roost.runtime import messages, values
from roost.runtime.engine.executors.contract import Attempt, AttemptReport
from roost.runtime.host import cgroups
from roost.runtime.host.connection import WorkerConnection
from roost.runtime.host.launcher import TemplateProcess, template_for
from roost.runtime.messages import Setup, TaskRef
from roost.runtime.wire import task_to_wire
from roost.store.records import ActionPhase


def fork_limits(memory: int | None, cpu: int | None) -> dict[str, int | None] | None:
    """The limits a worker's cgroup enforces where it can: memory in bytes, cpu in millicores."""
    if memory is None and cpu is None:
        return None
    return {"memory": memory, "cpu": cpu}


def worker_setup(setup: Setup, connection: WorkerConnection, cpu_limit: int | None) -> Setup:
    """``setup`` for this worker: where its cgroup enforces the CPU limit, the quota is the limit and the
    worker is not pinned to cores; its thread pools (OMP_NUM_THREADS...) are still sized to it."""
    if not cpu_limit or "cpu" not in connection.cgroup:
        return setup
    limits = {k: v for k, v in setup.limits.items() if k != "cpus"}
    limits["threads"] = math.ceil(cpu_limit / 1000)
    return messages.replace(setup, limits=limits)


def node_of(connection: WorkerConnection, detail: str = "") -> str:
    """The action's node: the worker's pid, and where its limits are enforced when a cgroup does it."""
    notes = [n for n in (detail, cgroups.describe(connection.cgroup)) if n]
    return f"pid {connection.pid}" + (f" ({', '.join(notes)})" if notes else "")


def preload_of(ref: TaskRef) -> list[str]:
    return [ref.module] if ref.module is not None else []


async def run_bounded(
    attempt: Attempt, report: AttemptReport, connection: WorkerConnection, ref: TaskRef
) -> values.EncodedOutputs:
    """Run on ``connection`` within the task's max_runtime; past it, the worker is killed."""
    limit = attempt.spec.max_runtime
    if limit is None:  # most tasks: wait_for would only add a coroutine to every call's way
        return await connection.run(attempt, report, ref)
    try:
        return await asyncio.wait_for(connection.run(attempt, report, ref), limit)
    except asyncio.TimeoutError:
        connection.kill("timeout")
        raise MaxRuntimeExceededError(
            f"{attempt.label} exceeded its max_runtime of {limit:g} s (attempt {attempt.number + 1}); "
            f"its worker process (pid {connection.pid}) was killed"
        ) from None


async def local_image(attempt: Attempt, report: AttemptReport) -> LocalImage:
    """What the attempt's image makes of its workers here: interpreter, added variables, folder.

    The first action of an image whose virtualenv is not built yet waits for uv in a thread (it may
    take seconds), recorded as INITIALIZING, while the runtime loop runs other actions.
    """
    image = attempt.spec.image
    home = Path(attempt.store.home)
    found = known(image, home)
    if found is not None:
        return found
    building = needs_build(image, home)  # type: ignore[arg-type]
    if building:
        report.phase(ActionPhase.INITIALIZING)
    found = await asyncio.to_thread(python_for, image, home=home)
    if building:
        report.phase(ActionPhase.RUNNING)
    return found


def template_of(local: LocalImage) -> TemplateProcess:
    return template_for(local.python, local.env, local.workdir, local.startup_path)


class ProcessExecutor:
    name = "process"

    async def run(self, attempt: Attempt, report: AttemptReport) -> values.EncodedOutputs:
        ref = task_to_wire(attempt.task)
        secrets = report.grant_secrets()  # a missing secret fails the action before it starts
        local = await local_image(attempt, report)
        resources = attempt.spec.resources
        limits = fork_limits(resources.memory_enforced, resources.cpu_enforced)
        worker = await template_of(local).fork(preload=preload_of(ref), limits=limits)
        connection = WorkerConnection(worker, resources.memory_enforced, attempt.label)
        report.node(node_of(connection))
        try:
            connection.setup(worker_setup(attempt.setup(secrets), connection, resources.cpu_enforced))
            return await run_bounded(attempt, report, connection, ref)
        except BaseException:
            connection.kill("abandoned")  # an abort, a timeout: nothing of it may run on
            raise
        finally:
            connection.shutdown()
            report.release_secrets()
