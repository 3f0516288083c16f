"""The replica management of a reusable environment (ReusePolicy), whatever a replica is.

A pool keeps ``min`` replicas warm, starts another (up to ``max``) when every slot is busy, and lets
each replica run ``concurrency`` actions at once. A replica idle for ``scaledown_ttl`` is removed
while the pool is above ``min``; after ``idle_ttl`` without any work the whole pool shuts down, and
the next call starts it again. A replica that dies is replaced; actions waiting for a slot are not
lost. Subclasses say what a replica is: a forked worker process (``pool.py``) or a Ray actor
(``ray_pool.py``).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Generic, Protocol, TypeVar

from roost.spec.reuse import ReusePolicy

# A test-only knob: multiply every TTL by this factor (e.g. 0.01) so tests need not wait 30 s.
# Validation is untouched: a ReusePolicy still refuses TTLs under 30 s.
TTL_SCALE_ENV = "ROOST_TEST_TTL_SCALE"


def ttl_scale() -> float:
    return float(os.environ.get(TTL_SCALE_ENV) or 1.0)


class ReplicaLike(Protocol):
    number: int
    running: int
    idle_since: float


R = TypeVar("R", bound=ReplicaLike)


class ReplicaPool(Generic[R]):
    """Replicas between the policy's min and max, their slots, and their scaling down."""

    def __init__(self, name: str, policy: ReusePolicy):
        self.name = name
        self.policy = policy
        self.replicas: list[R] = []
        self._starting = 0
        self._numbers = iter(range(1, 1 << 30))
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._last_activity = time.monotonic()
        self._maintainer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()  # replacements being started
        scale = ttl_scale()
        self.idle_ttl = policy.idle_ttl.total_seconds() * scale  # type: ignore[union-attr]
        self.scaledown_ttl = policy.get_scaledown_ttl().total_seconds() * scale
        self.started_total = 0

    # -- what a replica is (subclasses) ---------------------------------------------------------------
    async def _create(self, number: int) -> R:
        """Start replica ``number`` and return it once it can take work."""
        raise NotImplementedError

    def _watch(self, replica: R) -> None:
        """Arrange for ``self._lost(replica)`` to be called when the replica dies (if it can tell)."""

    def _alive(self, replica: R) -> bool:
        raise NotImplementedError

    def _stop(self, replica: R) -> None:
        """Stop a replica the pool no longer uses."""
        raise NotImplementedError

    # -- replicas -------------------------------------------------------------------------------------
    async def _start_replica(self) -> R:
        self._starting += 1
        try:
            replica = await self._create(next(self._numbers))
            self.replicas.append(replica)
            self.started_total += 1
            self._watch(replica)
            self._wake()  # someone may be waiting for exactly this replica
            return replica
        finally:
            self._starting -= 1

    def _lost(self, replica: R) -> None:
        """A replica died (a crash, a timeout kill): replace it if the pool is below min."""
        if replica in self.replicas:
            self.replicas.remove(replica)
            self._stop(replica)
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

    async def _acquire(self) -> R:
        self._ensure_maintainer()
        while True:
            while len(self.replicas) + self._starting < self.policy.min_replicas:
                await self._start_replica()
            for replica in self.replicas:
                # The first idle one is the least busy (what the search below would pick): the usual
                # case of a warm pool, found without building the list of free replicas.
                if replica.running == 0 and self._alive(replica):
                    replica.running += 1
                    return replica
            free = [r for r in self.replicas if self._alive(r) and r.running < self.policy.concurrency]
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

    def _release(self, replica: R) -> None:
        replica.running -= 1
        now = time.monotonic()
        self._last_activity = now
        if replica.running == 0:
            replica.idle_since = now
        self._wake()

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

    def _retire(self, replica: R) -> None:
        self.replicas.remove(replica)
        self._stop(replica)
        # The next retirement waits another full scaledown_ttl.
        for other in self.replicas:
            if other.running == 0:
                other.idle_since = max(other.idle_since, time.monotonic())


P = TypeVar("P")


class Pools(Generic[P]):
    """The pools of a kind (worker processes, Ray actors), by key, for the whole process: pools
    outlive runs. Making one may await (secrets, an image's virtualenv), so it is made outside the
    lock and kept only if no other call made the same pool meanwhile."""

    def __init__(self) -> None:
        self._pools: dict[Hashable, P] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> P | None:
        # No lock: one dict read is atomic, and a pool once added is never replaced (every call of a
        # warm pool's tasks comes this way).
        return self._pools.get(key)

    def add(self, key: Hashable, make: Callable[[], P]) -> tuple[P, bool]:
        """The pool of ``key``: the one there, or the one ``make`` returns (and whether it was made)."""
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                return pool, False
            pool = self._pools[key] = make()
            return pool, True

    def all(self) -> list[P]:
        with self._lock:
            return list(self._pools.values())
