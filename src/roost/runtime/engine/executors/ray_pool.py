"""Reusable environments on Ray (isolation ``ray-pool``): replicas are Ray actors.

Each replica is an async actor (``ray_worker.Replica``) with the environment's resources, variables
and secrets, and ``max_concurrency`` = the policy's ``concurrency``; the pool (``replicas.py``) sizes
it between the policy's min and max replicas and scales it down after ``scaledown_ttl`` /
``idle_ttl``, exactly as local pools of worker processes. Module state survives between the calls a
replica serves. Like local pools, Ray pools outlive runs; they end with the driver process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roost.errors import MaxRuntimeExceededError
from roost.runtime import values
from roost.runtime.engine.executors.contract import Attempt, AttemptReport
from roost.runtime.engine.executors.ray import RayExecutor, options_for, reply_of, setup_for
from roost.runtime.engine.executors.ray_cluster import RayCluster
from roost.runtime.engine.executors.ray_options import RayOptions
from roost.runtime.engine.executors.replicas import Pools, ReplicaPool
from roost.runtime.messages import RayRun, Setup
from roost.spec.reuse import ReusePolicy
from roost.store.records import ActionPhase


@dataclass(eq=False)
class ActorReplica:
    actor: Any
    number: int
    node: str
    running: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    dead: bool = False


class RayActorPool(ReplicaPool[ActorReplica]):
    def __init__(self, name: str, policy: ReusePolicy, cluster: RayCluster, setup: Setup, options: RayOptions):
        super().__init__(name, policy)
        self._cluster = cluster
        self._setup = setup
        # The replica applies the environment's setup once, when it starts: a call carries only the store.
        self.call_setup = Setup({}, [], [], {}, setup.store)
        # Ray must not restart a dead replica by itself: the pool replaces it (below min) and the action
        # that was on it fails, so that roost's retries apply.
        self._actor_options = {**options.actor_options(), "max_concurrency": policy.concurrency, "max_restarts": 0}

    async def _create(self, number: int) -> ActorReplica:
        actor = self._cluster.replica_class.options(**self._actor_options).remote(self._setup)
        try:
            # The actor is up once it answers: its runtime_env built, its setup applied.
            node = await asyncio.shield(reply_of(actor.node.remote()))
        except BaseException:
            self._cluster.ray.kill(actor)
            raise
        return ActorReplica(actor, number, node)

    def _alive(self, replica: ActorReplica) -> bool:
        return not replica.dead

    def _stop(self, replica: ActorReplica) -> None:
        if not replica.dead:
            replica.dead = True
            replica.actor.shutdown.remote()  # removes its secrets folder, then exits

    def kill(self, replica: ActorReplica) -> None:
        """A replica whose code must not run on (a sync action past its max_runtime, an abort)."""
        replica.dead = True
        self._cluster.ray.kill(replica.actor)
        self._lost(replica)

    async def execute(
        self, attempt: Attempt, report: AttemptReport, executor: RayExecutor, payload: RayRun
    ) -> values.EncodedOutputs:
        replica = await self._acquire()
        ref = replica.actor.run.remote(payload)
        result = reply_of(ref)
        report.phase(ActionPhase.RUNNING)
        executor.track(attempt, report)
        spec = attempt.spec
        try:
            reply = await asyncio.wait_for(asyncio.shield(result), spec.max_runtime)
        except asyncio.TimeoutError:
            self._stop_code(replica, ref, spec.is_async)
            raise MaxRuntimeExceededError(
                f"{attempt.label} exceeded its max_runtime of {spec.max_runtime:g} s "
                f"(attempt {attempt.number + 1}); "
                + ("it was cancelled on its replica" if spec.is_async else "its replica (a Ray actor) was killed")
            ) from None
        except asyncio.CancelledError:
            self._stop_code(replica, ref, spec.is_async)
            raise
        except Exception as e:
            if isinstance(e, self._cluster.ray.exceptions.ActorDiedError):
                replica.dead = True
                self._lost(replica)
            raise executor.ray_failure(attempt.label, e) from None
        finally:
            executor.untrack(attempt)
            self._release(replica)
        return executor.outcome(attempt, report, reply, f"{reply.node} (replica {replica.number} of {self.name})")

    def _stop_code(self, replica: ActorReplica, ref: Any, is_async: bool) -> None:
        if is_async:
            self._cluster.ray.cancel(ref)  # cancels the coroutine; the replica serves on
        else:
            self.kill(replica)  # a thread cannot be stopped: the replica goes, and is replaced


_POOLS: Pools[RayActorPool] = Pools()


def ray_pools() -> list[RayActorPool]:
    return _POOLS.all()


class RayPoolExecutor:
    """Reusable environments on Ray. Pools outlive runs; calls from the actions on a replica reach
    the run's own broker (its ``RayExecutor``, made on first use)."""

    name = "ray-pool"

    def __init__(self, run_executor: Callable[[], RayExecutor]):
        self._run_executor = run_executor

    async def run(self, attempt: Attempt, report: AttemptReport) -> values.EncodedOutputs:
        executor = self._run_executor()
        cluster = await executor.ready()
        options = options_for(attempt.spec)
        await executor.wait_for_room(attempt, report, options, None, None)
        assert attempt.pool_key is not None, "an attempt for a pool carries its pool's key"
        key = ("ray", *attempt.pool_key)
        pool = _POOLS.get(key)
        if pool is None:
            # Secrets of a reusable environment are the pool's: resolved when the pool is made.
            setup = setup_for(attempt, report.grant_secrets(), cluster)
            name = attempt.spec.env_name or attempt.spec.name
            policy = attempt.spec.reusable
            pool, _ = _POOLS.add(key, lambda: RayActorPool(name, policy, cluster, setup, options))  # type: ignore[arg-type]
        payload = executor.payload(attempt, cluster, pool.call_setup)
        return await pool.execute(attempt, report, executor, payload)
