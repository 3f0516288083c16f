"""Pool: reusable environments (ReusePolicy) served by warm worker replicas.

A pool keeps ``min`` replicas warm, starts another (up to ``max``) when every slot is busy, and lets
each replica run ``concurrency`` actions at once (async tasks share its event loop). A replica idle
for ``scaledown_ttl`` is removed while the pool is above ``min``; after ``idle_ttl`` without any work
the whole pool shuts down, and the next call starts it again. Module state survives between calls
on one replica, as the seeds warn. A replica that dies is replaced; actions waiting for a slot are
not lost.

Pools outlive runs (``scope="global"``); like every run, they live on the process's runtime loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from roost.images.local import DEFAULT, LocalImage
from roost.runtime import values
from roost.runtime.actions import ActionRun
from roost.runtime.executors.process import local_image, preload_of, run_bounded, setup_message, template_of
from roost.runtime.wire import task_to_wire
from roost.runtime.workers.connection import WorkerConnection
from roost.spec.reuse import ReusePolicy

# A test-only knob: multiply every TTL by this factor (e.g. 0.01) so tests need not wait 30 s.
# Validation is untouched: a ReusePolicy still refuses TTLs under 30 s.
TTL_SCALE_ENV = "ROOST_TEST_TTL_SCALE"


def _ttl_scale() -> float:
    return float(os.environ.get(TTL_SCALE_ENV) or 1.0)


@dataclass(eq=False)
class Replica:
    connection: WorkerConnection
    number: int
    running: int = 0
    idle_since: float = field(default_factory=time.monotonic)


class WorkerPool:
    def __init__(
        self,
        name: str,
        policy: ReusePolicy,
        setup: dict[str, Any],
        preload: list[str],
        memory: int | None,
        local: LocalImage = DEFAULT,
    ):
        self.name = name
        self._local = local  # the image's interpreter, variables and folder for every replica
        self.policy = policy
        self._setup = setup
        self._preload = preload
        self._memory = memory
        self.replicas: list[Replica] = []
        self._starting = 0
        self._numbers = iter(range(1, 1 << 30))
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._last_activity = time.monotonic()
        self._maintainer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()  # replacements being started
        scale = _ttl_scale()
        self.idle_ttl = policy.idle_ttl.total_seconds() * scale  # type: ignore[union-attr]
        self.scaledown_ttl = policy.get_scaledown_ttl().total_seconds() * scale
        self.started_total = 0

    # -- replicas -------------------------------------------------------------------------------------
    async def _start_replica(self) -> Replica:
        self._starting += 1
        try:
            worker = await template_of(self._local).fork(self._preload)
            connection = WorkerConnection(worker, self._memory, f"a replica of {self.name}")
            connection.setup(self._setup)
            replica = Replica(connection, next(self._numbers))
            self.replicas.append(replica)
            self.started_total += 1
            connection.death.add_done_callback(lambda _: self._lost(replica))
            self._wake()  # someone may be waiting for exactly this replica
            return replica
        finally:
            self._starting -= 1

    def _lost(self, replica: Replica) -> None:
        """A replica died (a crash, a timeout kill): replace it if the pool is below min."""
        if replica in self.replicas:
            self.replicas.remove(replica)
            replica.connection.shutdown()
        if len(self.replicas) + self._starting < self.policy.min_replicas:
            replacement = asyncio.ensure_future(self._start_replica())
            self._background.add(replacement)
            replacement.add_done_callback(self._background.discard)
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _acquire(self) -> Replica:
        self._ensure_maintainer()
        while True:
            while len(self.replicas) + self._starting < self.policy.min_replicas:
                await self._start_replica()
            free = [r for r in self.replicas if r.connection.alive and r.running < self.policy.concurrency]
            if free:
                replica = min(free, key=lambda r: r.running)  # spread the work over warm replicas
                replica.running += 1
                return replica
            if len(self.replicas) + self._starting < self.policy.max_replicas:
                replica = await self._start_replica()
                replica.running += 1
                return replica
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def _release(self, replica: Replica) -> None:
        replica.running -= 1
        now = time.monotonic()
        self._last_activity = now
        if replica.running == 0:
            replica.idle_since = now
        self._wake()

    async def execute(self, action: ActionRun, ref: dict[str, Any]) -> values.EncodedOutputs:
        replica = await self._acquire()
        action.record.node = f"pid {replica.connection.pid} (replica {replica.number} of {self.name})"
        action.controller.store.mark(action.record)
        try:
            return await run_bounded(action, replica.connection, ref)
        except asyncio.CancelledError:
            replica.connection.kill("abandoned")  # an abort: nothing of it may run on
            raise
        finally:
            self._release(replica)

    # -- scaling down --------------------------------------------------------------------------------------
    def _ensure_maintainer(self) -> None:
        if self._maintainer is None or self._maintainer.done():
            self._maintainer = asyncio.ensure_future(self._maintain())

    async def _maintain(self) -> None:
        tick = max(0.01, min(self.idle_ttl, self.scaledown_ttl) / 10)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            busy = any(r.running for r in self.replicas) or self._waiters
            if not busy and self.replicas and now - self._last_activity >= self.idle_ttl:
                for replica in list(self.replicas):
                    self._retire(replica)
                return  # the pool is cold; the next call starts it again
            idle = [r for r in self.replicas if r.running == 0 and now - r.idle_since >= self.scaledown_ttl]
            if idle and len(self.replicas) > self.policy.min_replicas:
                self._retire(min(idle, key=lambda r: r.idle_since))  # one replica per scaledown_ttl

    def _retire(self, replica: Replica) -> None:
        self.replicas.remove(replica)
        replica.connection.shutdown()
        # The next retirement waits another full scaledown_ttl.
        for other in self.replicas:
            if other.running == 0:
                other.idle_since = max(other.idle_since, time.monotonic())


_POOLS: dict[tuple[Any, ...], WorkerPool] = {}
_LOCK = threading.Lock()


def pool_key(action: ActionRun) -> tuple[Any, ...]:
    """Actions share a pool when their replicas would be started identically (computed once per
    task spec and run)."""
    cache = action.controller.pool_keys
    cached = cache.get(id(action.spec))
    if cached is not None and cached[0] is action.spec:
        return cached[1]
    key = _pool_key(action)
    cache[id(action.spec)] = (action.spec, key)  # the spec is held, so its id is not reused
    return key


def _pool_key(action: ActionRun) -> tuple[Any, ...]:
    spec = action.spec
    policy = spec.reusable
    assert policy is not None
    env = tuple(sorted(action.controller.env_for(spec).items()))
    secrets = tuple(sorted((s.key, s.group or "", s.as_env_var or "", str(s.mount)) for s in spec.secrets))
    scope = action.controller.run_name if policy.scope == "run" else ""
    return (spec.env_name or spec.name, env, secrets, spec.resources, spec.image_uri, repr(policy), scope)


def pools() -> list[WorkerPool]:
    return list(_POOLS.values())


class PoolExecutor:
    name = "pool"

    async def run(self, action: ActionRun) -> values.EncodedOutputs:
        ref = task_to_wire(action.task)
        key = pool_key(action)
        with _LOCK:
            pool = _POOLS.get(key)
        if pool is None:
            # Secrets of a reusable environment are the pool's: resolved when the pool is made.
            secrets = action.controller.secrets_for(action)
            local = await local_image(action)
            with _LOCK:
                pool = _POOLS.get(key)
                if pool is None:
                    pool = _POOLS[key] = WorkerPool(
                        action.spec.env_name or action.spec.name,
                        action.spec.reusable,  # type: ignore[arg-type]
                        setup_message(action, secrets),
                        preload_of(ref),
                        action.spec.resources.memory_limit,
                        local,
                    )
        return await pool.execute(action, ref)
