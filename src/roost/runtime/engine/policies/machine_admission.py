"""Resource admission: an attempt starts only when its requests fit what the machine has free.

Requests (cpu, memory, gpu of ``Resources``) are taken from the machine's capacity while the attempt
runs. One that does not fit waits (WAITING_FOR_RESOURCES, bounded by ``max_queued_time``); one the
machine could never satisfy fails at once. An action waiting for its children lends them its CPU --
otherwise a parent holding the cores its children need would wait for them forever. A CPU limit (a
scalar request is one too, as on the platform) pins the worker to that many of the least busy cores;
granted GPUs become its CUDA_VISIBLE_DEVICES.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

from roost.core.task_spec import TaskSpec
from roost.errors import MaxQueuedTimeExceededError, ResourceExhaustedError
from roost.runtime.engine.actions import ActionRun
from roost.runtime.engine.capacity import Capacity, Gpu, detect
from roost.runtime.engine.policies import Next
from roost.spec.quantities import format_bytes, format_cpu
from roost.spec.timeouts import seconds
from roost.store.records import ActionPhase


@dataclass
class Grant:
    millicores: int
    memory: int
    gpus: tuple[Gpu, ...]
    cores: tuple[int, ...] = ()
    lending: int = 0  # child calls in flight while the CPU is lent


@dataclass
class _Waiter:
    need: tuple[int, int, int]
    # Resolved with the GPUs reserved for it: the resources are taken when the waiter is woken,
    # so that two waiters cannot both be woken for the same free capacity.
    future: asyncio.Future[tuple[Gpu, ...]] = field(repr=False)


def need_of(spec: TaskSpec) -> tuple[int, int, int]:
    """What one attempt of a task asks of the machine: millicores, bytes of memory, GPUs."""
    r = spec.resources
    return (r.cpu_request or 0, r.memory_request or 0, r.gpu.quantity if r.gpu is not None else 0)


class ResourceAdmission:
    """The machine's capacity, shared by every run of this process."""

    def __init__(self, capacity: Capacity):
        self.capacity = capacity
        self.free_millicores = capacity.millicores
        self.free_memory = capacity.memory
        self.free_gpus = list(capacity.gpus)
        self._core_load = dict.fromkeys(capacity.cores, 0)
        self._waiters: list[_Waiter] = []

    @staticmethod
    def need(action: ActionRun) -> tuple[int, int, int]:
        return need_of(action.spec)

    def at_once(self, need: tuple[int, int, int]) -> int | None:
        """How many attempts needing ``need`` the whole machine holds at once (None: no bound)."""
        counts = [
            have // asked
            for asked, have in zip(need, (self.capacity.millicores, self.capacity.memory, len(self.capacity.gpus)))
            if asked
        ]
        return min(counts) if counts else None

    def _fits(self, need: tuple[int, int, int]) -> bool:
        cpu, memory, gpus = need
        return cpu <= self.free_millicores and memory <= self.free_memory and gpus <= len(self.free_gpus)

    def _never_fits(self, action: ActionRun, need: tuple[int, int, int]) -> str | None:
        cpu, memory, gpus = need
        c = self.capacity
        if cpu > c.millicores or memory > c.memory or gpus > len(c.gpus):
            asked = f"cpu {format_cpu(cpu)}, memory {format_bytes(memory)}, gpu {gpus}"
            return (
                f"{action.spec.name} requests {asked}, but this machine has {c.describe()}: it can never start "
                "here (lower the request, or run it where there is more: ROOST_CAPACITY overrides detection)"
            )
        return None

    async def __call__(self, action: ActionRun, call_next: Next) -> Any:
        need = self.need(action)
        problem = self._never_fits(action, need)
        if problem is not None:
            raise ResourceExhaustedError(problem)
        if self._fits(need) and not self._waiters:
            gpus = self._reserve(need)
        else:
            gpus = await self._wait(action, need)
        grant = self._grant(action, need, gpus)
        action.grant = grant
        action.limits = self._limits(grant)
        try:
            return await call_next(action)
        finally:
            action.grant = None
            self._give_back(grant)

    async def _wait(self, action: ActionRun, need: tuple[int, int, int]) -> tuple[Gpu, ...]:
        action.recorder.set_phase(action, ActionPhase.WAITING_FOR_RESOURCES)
        waiter = _Waiter(need, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        timeout = action.spec.timeout
        limit = seconds(timeout.max_queued_time) if timeout is not None else None
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.future), limit)
        except BaseException as e:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.future.done() and not waiter.future.cancelled():
                # Woken just as it gave up: hand the reserved resources back.
                self._give_back(Grant(need[0], need[1], waiter.future.result()))
            if isinstance(e, asyncio.TimeoutError):
                raise MaxQueuedTimeExceededError(
                    f"{action.spec.name} waited more than its max_queued_time of {limit:g} s for resources "
                    f"(it requests cpu {format_cpu(need[0])}, memory {format_bytes(need[1])}, gpu {need[2]})"
                ) from None
            raise

    def _reserve(self, need: tuple[int, int, int]) -> tuple[Gpu, ...]:
        cpu, memory, gpus = need
        self.free_millicores -= cpu
        self.free_memory -= memory
        granted = tuple(self.free_gpus[:gpus])
        del self.free_gpus[:gpus]
        return granted

    def _grant(self, action: ActionRun, need: tuple[int, int, int], gpus: tuple[Gpu, ...]) -> Grant:
        cores: tuple[int, ...] = ()
        limit = action.spec.resources.cpu_enforced
        if limit:
            count = min(len(self._core_load), max(1, math.ceil(limit / 1000)))
            cores = tuple(sorted(sorted(self._core_load, key=self._core_load.__getitem__)[:count]))
            for core in cores:
                self._core_load[core] += 1
        return Grant(need[0], need[1], gpus, cores)

    def _give_back(self, grant: Grant) -> None:
        if not grant.lending:
            self.free_millicores += grant.millicores
        self.free_memory += grant.memory
        self.free_gpus.extend(grant.gpus)
        for core in grant.cores:
            self._core_load[core] -= 1
        self._wake()

    def _wake(self) -> None:
        # First fit, in arrival order: a small request is not held up behind a large one that waits.
        for waiter in list(self._waiters):
            if self._fits(waiter.need) and not waiter.future.done():
                self._waiters.remove(waiter)
                waiter.future.set_result(self._reserve(waiter.need))

    def lend(self, action: ActionRun) -> None:
        """``action`` waits for a child: its CPU is free for others meanwhile."""
        grant = action.grant
        if grant is None or not grant.millicores:
            return
        grant.lending += 1
        if grant.lending == 1:
            self.free_millicores += grant.millicores
            self._wake()

    def reclaim(self, action: ActionRun) -> None:
        """The child returned: ``action`` takes its CPU back at once (briefly over the capacity if need be)."""
        grant = action.grant
        if grant is None or not grant.lending:
            return
        grant.lending -= 1
        if grant.lending == 0:
            self.free_millicores -= grant.millicores

    def default_limits(self) -> dict[str, Any]:
        """The limits of a worker whose task requests nothing: it sees no GPU."""
        return self._limits(None)

    def _limits(self, grant: Grant | None) -> dict[str, Any]:
        limits: dict[str, Any] = {}
        if grant is not None and grant.cores:
            limits["cpus"] = list(grant.cores)
        if self.capacity.gpus:
            # A worker sees exactly its GPUs; none when it asked for none.
            limits["cuda_visible_devices"] = ",".join(g.index for g in grant.gpus) if grant else ""
        return limits


_MACHINE: ResourceAdmission | None = None


def machine() -> ResourceAdmission:
    """The admission of this process's machine (its capacity detected on first use)."""
    global _MACHINE
    if _MACHINE is None:
        _MACHINE = ResourceAdmission(detect())
    return _MACHINE
