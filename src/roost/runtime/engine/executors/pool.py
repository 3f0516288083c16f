"""Pool: reusable environments (ReusePolicy) served by warm worker replicas.

A pool keeps ``min`` replicas warm, starts another (up to ``max``) when every slot is busy, and lets
each replica run ``concurrency`` actions at once (async tasks share its event loop). A replica idle
for ``scaledown_ttl`` is removed while the pool is above ``min``; after ``idle_ttl`` without any work
the whole pool shuts down, and the next call starts it again. Module state survives between calls
on one replica, as Flyte warns. A replica that dies is replaced; actions waiting for a slot are
not lost. Each replica gets its memory and CPU limits as a process worker does (a cgroup of its own
where one can be made, process.py). A pool whose replicas could never all run on this machine at
once says so once, when it is made, instead of leaving its calls to queue without a word.

Pools outlive runs (``scope="global"``); like every run, they live on the process's runtime loop.
The sizing and scaling rules are ``replicas.py``'s, shared with the Ray actor pools (``ray_pool.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from roost.core.task_spec import TaskSpec
from roost.images.local import DEFAULT, LocalImage
from roost.runtime import values
from roost.runtime.engine.executors.contract import Attempt, AttemptReport
from roost.runtime.engine.executors.process import (
    fork_limits,
    local_image,
    node_of,
    preload_of,
    run_bounded,
    template_of,
    worker_setup,
)
from roost.runtime.engine.executors.replicas import TTL_SCALE_ENV, Pools, ReplicaPool
from roost.runtime.engine.policies.machine_admission import ResourceAdmission, machine, need_of
from roost.runtime.host.connection import WorkerConnection
from roost.runtime.messages import Setup, TaskRef
from roost.runtime.wire import task_to_wire
from roost.spec.quantities import format_bytes, format_cpu
from roost.spec.reuse import ReusePolicy

logger = logging.getLogger("roost")

__all__ = ["TTL_SCALE_ENV", "PoolExecutor", "Replica", "WorkerPool", "pools"]


@dataclass(eq=False)
class Replica:
    connection: WorkerConnection
    number: int
    node: str  # where its actions run, as their records say (the same for every one of them)
    running: int = 0
    idle_since: float = field(default_factory=time.monotonic)


class WorkerPool(ReplicaPool[Replica]):
    """A pool whose replicas are worker processes forked from the image's template (replicas.py
    holds the sizing and scaling rules)."""

    def __init__(
        self,
        name: str,
        policy: ReusePolicy,
        setup: Setup,
        preload: list[str],
        memory: int | None,
        local: LocalImage = DEFAULT,
        *,
        cpu: int | None = None,
    ):
        super().__init__(name, policy)
        self._local = local  # the image's interpreter, variables and folder for every replica
        self._setup = setup
        self._preload = preload
        self._memory = memory
        self._cpu = cpu  # millicores

    # -- replicas -------------------------------------------------------------------------------------
    async def _create(self, number: int) -> Replica:
        limits = fork_limits(self._memory, self._cpu)
        worker = await template_of(self._local).fork(self._preload, limits)
        connection = WorkerConnection(worker, self._memory, f"a replica of {self.name}")
        connection.setup(worker_setup(self._setup, connection, self._cpu))
        return Replica(connection, number, node_of(connection, f"replica {number} of {self.name}"))

    def _watch(self, replica: Replica) -> None:
        replica.connection.death.add_done_callback(lambda _: self._lost(replica))

    def _alive(self, replica: Replica) -> bool:
        return replica.connection.alive

    def _stop(self, replica: Replica) -> None:
        replica.connection.shutdown()

    async def execute(self, attempt: Attempt, report: AttemptReport, ref: TaskRef) -> values.EncodedOutputs:
        replica = await self._acquire()
        report.node(replica.node)
        try:
            return await run_bounded(attempt, report, replica.connection, ref)
        except asyncio.CancelledError:
            replica.connection.kill("abandoned")  # an abort: nothing of it may run on
            raise
        finally:
            self._release(replica)


_POOLS: Pools[WorkerPool] = Pools()
_SAID: set[tuple[Any, ...]] = set()  # pools already warned about: once per process, not per restart


def replicas_beyond_capacity(name: str, policy: ReusePolicy, need: tuple[int, int, int]) -> str | None:
    """What to tell the user when ``policy``'s replicas, each asking ``need`` (millicores, bytes,
    gpus), cannot all run on this machine at once; None when they can. Each call is admitted by its
    request, so the replicas beyond what fits stay idle while calls wait for resources."""
    admission: ResourceAdmission = machine()
    fits = admission.at_once(need)
    if fits is None or fits >= policy.max_replicas or fits == 0:  # 0: admission refuses each call, clearly
        return None
    cpu, memory, gpus = need
    asked = ", ".join(
        part
        for part, wanted in (
            (f"cpu {format_cpu(cpu)}", cpu),
            (f"memory {format_bytes(memory)}", memory),
            (f"gpu {gpus}", gpus),
        )
        if wanted
    )
    have = admission.capacity.describe()
    fix = (
        "lower the replicas or the request, or set ROOST_CAPACITY (e.g. ROOST_CAPACITY=cpu=8,memory=32Gi) "
        "if this machine has more than roost detected"
    )
    if fits < policy.min_replicas:
        return (
            f"reusable environment {name} keeps {policy.min_replicas} replicas warm (its min), each requesting "
            f"{asked}, but this machine's capacity is {have}: only {fits} of them can ever run at once, the others "
            f"stay idle and calls wait for resources; {fix}"
        )
    return (
        f"reusable environment {name} may scale to {policy.max_replicas} replicas, each requesting {asked}, but "
        f"this machine's capacity is {have}: only {fits} can run at once and further calls wait for resources; {fix}"
    )


def _say_once_if_replicas_cannot_fit(spec: TaskSpec) -> None:
    said = (spec.env_name or spec.name, spec.resources, repr(spec.reusable))
    if said in _SAID or spec.reusable is None:
        return
    _SAID.add(said)
    message = replicas_beyond_capacity(said[0], spec.reusable, need_of(spec))
    if message is not None:
        logger.warning("%s", message)


def pools() -> list[WorkerPool]:
    return _POOLS.all()


class PoolExecutor:
    name = "pool"

    async def run(self, attempt: Attempt, report: AttemptReport) -> values.EncodedOutputs:
        ref = task_to_wire(attempt.task)
        key = attempt.pool_key
        assert key is not None, "an attempt for a pool carries its pool's key"
        pool = _POOLS.get(key)
        if pool is None:
            # Secrets of a reusable environment are the pool's: resolved when the pool is made.
            secrets = report.grant_secrets()
            local = await local_image(attempt, report)
            spec = attempt.spec
            resources = spec.resources

            def make() -> WorkerPool:
                name, setup = spec.env_name or spec.name, attempt.setup(secrets)
                memory, cpu = resources.memory_enforced, resources.cpu_enforced
                return WorkerPool(name, spec.reusable, setup, preload_of(ref), memory, local, cpu=cpu)  # type: ignore[arg-type]

            pool, made = _POOLS.add(key, make)
            if made:
                _say_once_if_replicas_cannot_fit(spec)
        return await pool.execute(attempt, report, ref)
