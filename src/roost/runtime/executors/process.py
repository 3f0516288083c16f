"""Process: each attempt runs in a fresh worker process, forked from a template and gone after it.

The worker gets exactly the environment the task declares (env vars of the environment, task and
run; its secrets; its granted CPUs and GPUs). Its memory and CPU limits go to a cgroup of its own
where one can be made (workers/cgroups.py: the kernel kills it at the memory limit and throttles it
to the CPU quota); otherwise the memory limit is watched from here and enforced by killing the
worker, and the CPU limit pins it to that many cores. A runtime bound on any code (sync included)
kills it too. A worker that dies fails only its action, with an error that says how it died, and
retries apply. Where the limits were enforced shows in the action's node ("pid N (memory and cpu
limits in cgroup v1)").
"""

from __future__ import annotations

import asyncio
import dataclasses
import math

from roost.errors import MaxRuntimeExceededError
from roost.images.local import LocalImage, known, needs_build, python_for
from roost.runtime import values
from roost.runtime.actions import ActionRun
from roost.runtime.messages import SecretGrant, Setup, StoreLocation, TaskRef
from roost.runtime.policies.resources import machine
from roost.runtime.wire import task_to_wire
from roost.runtime.workers import cgroups
from roost.runtime.workers.connection import WorkerConnection
from roost.runtime.workers.launcher import TemplateProcess, template_for
from roost.spec.environment import list_loaded_environments
from roost.spec.secrets import normalize_secrets
from roost.store.records import ActionPhase
from roost.store.secrets import derived_env_var


def setup_message(action: ActionRun, secrets: list[SecretGrant]) -> Setup:
    """What a worker applies to its process before running the action's code."""
    controller = action.controller
    granted = {s.env for s in secrets if s.env}
    return Setup(
        env=controller.env_for(action.spec),
        # Workers inherit the launching environment, where a secret may sit (the store's fallback);
        # only the actions granted a secret may see it.
        unset=sorted(declared_secret_variables() - granted),
        secrets=secrets,
        limits=action.limits if action.limits is not None else machine().default_limits(),
        store=StoreLocation(str(controller.store_config.home), controller.store_config.raw_data_url),
    )


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
    return dataclasses.replace(setup, limits=limits)


def node_of(connection: WorkerConnection, detail: str = "") -> str:
    """The action's node: the worker's pid, and where its limits are enforced when a cgroup does it."""
    notes = [n for n in (detail, cgroups.describe(connection.cgroup)) if n]
    return f"pid {connection.pid}" + (f" ({', '.join(notes)})" if notes else "")


def declared_secret_variables() -> set[str]:
    """The variable names of every secret declared by any environment or task loaded here."""
    names: set[str] = set()
    for env in list_loaded_environments():
        requests = [env.secrets, *(t.secrets for t in getattr(env, "tasks", {}).values())]
        for request in requests:
            for secret in normalize_secrets(request):  # type: ignore[arg-type]
                names.add(secret.as_env_var or derived_env_var(secret.key, secret.group))
    return names


def preload_of(ref: TaskRef) -> list[str]:
    return [ref.module] if ref.module is not None else []


async def run_bounded(action: ActionRun, connection: WorkerConnection, ref: TaskRef) -> values.EncodedOutputs:
    """Run on ``connection`` within the task's max_runtime; past it, the worker is killed."""
    limit = action.spec.max_runtime
    try:
        return await asyncio.wait_for(connection.run(action, ref), limit)
    except asyncio.TimeoutError:
        connection.kill("timeout")
        raise MaxRuntimeExceededError(
            f"{action.spec.name} exceeded its max_runtime of {limit:g} s (attempt {action.attempt + 1}); "
            f"its worker process (pid {connection.pid}) was killed"
        ) from None


async def local_image(action: ActionRun) -> LocalImage:
    """What the action's image makes of its workers here: interpreter, added variables, folder.

    The first action of an image whose virtualenv is not built yet waits for uv in a thread (it may
    take seconds), recorded as INITIALIZING, while the runtime loop runs other actions.
    """
    image = action.spec.image
    home = action.controller.store_config.home
    found = known(image, home)
    if found is not None:
        return found
    building = needs_build(image, home)  # type: ignore[arg-type]
    if building:
        action.controller.set_phase(action, ActionPhase.INITIALIZING)
    found = await asyncio.to_thread(python_for, image, home=home)
    if building:
        action.controller.set_phase(action, ActionPhase.RUNNING)
    return found


def template_of(local: LocalImage) -> TemplateProcess:
    return template_for(local.python, local.env, local.workdir, local.startup_path)


class ProcessExecutor:
    name = "process"

    async def run(self, action: ActionRun) -> values.EncodedOutputs:
        controller = action.controller
        ref = task_to_wire(action.task)
        secrets = controller.secrets_for(action)  # a missing secret fails the action before it starts
        local = await local_image(action)
        resources = action.spec.resources
        limits = fork_limits(resources.memory_enforced, resources.cpu_enforced)
        worker = await template_of(local).fork(preload=preload_of(ref), limits=limits)
        connection = WorkerConnection(worker, resources.memory_enforced, action.spec.name)
        action.record.node = node_of(connection)
        controller.store.mark(action.record)
        try:
            connection.setup(worker_setup(setup_message(action, secrets), connection, resources.cpu_enforced))
            return await run_bounded(action, connection, ref)
        except BaseException:
            connection.kill("abandoned")  # an abort, a timeout: nothing of it may run on
            raise
        finally:
            connection.shutdown()
            controller.release_secrets(action)
