"""Ray: each attempt of an action is a Ray task on the cluster (isolation ``ray``).

The controller stays here, on the driver, with the run store: it passes each action through the same
policies as local actions (cache, retries, deadline, ...), then submits one Ray task per attempt
with the task's resources as Ray options (``ray_options.py``), its variables and secrets in the
task's arguments (set by the wrapper in the worker, never in a runtime_env, which Ray records), and
its inputs as stored. The task returns the outputs, the action's output lines and where it ran.

Task calls made by code running in Ray reach the run's broker actor (``ray_worker.CallBroker``);
this executor takes them from there and runs each as a child action of its caller, exactly as for a
worker process, so that one run tree and one store record everything.

A request the cluster cannot satisfy in total (3 CPUs on a 2-CPU cluster) leaves the action waiting
for the cluster to grow (WAITING_FOR_RESOURCES), as an autoscaling cluster does, for at most its
``max_queued_time``. A Ray worker that dies fails only its attempt (WorkerCrashedError): retries apply.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from roost.errors import (
    ActionAbortedError,
    ImageBuildError,
    MaxQueuedTimeExceededError,
    MaxRuntimeExceededError,
    OOMError,
    RuntimeSystemError,
    WorkerCrashedError,
)
from roost.runtime import values
from roost.runtime.engine.executors.contract import Attempt, AttemptReport
from roost.runtime.engine.executors.ray_cluster import RayCluster, connect
from roost.runtime.engine.executors.ray_options import RayOptions, ray_options, shortfall
from roost.runtime.messages import (
    CallReply,
    CallRequest,
    RayReply,
    RayRun,
    SecretGrant,
    Setup,
)
from roost.runtime.wire import error_to_wire, exception_from_wire, task_to_wire
from roost.spec.timeouts import seconds
from roost.store.records import ActionPhase, LogRecord

logger = logging.getLogger("roost")

# How often an action waiting for the cluster to grow looks at the cluster again.
GROWTH_POLL = 1.0
_OPTIONS: dict[int, tuple[Any, RayOptions]] = {}


def options_for(spec: Any) -> RayOptions:
    """The Ray options of a task spec, computed once per spec."""
    cached = _OPTIONS.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    options = ray_options(spec)
    _OPTIONS[id(spec)] = (spec, options)  # the spec is held, so its id is not reused
    return options


def reply_of(ref: Any) -> asyncio.Future[Any]:
    """The reply of a Ray task or actor call as a future of the running loop.

    Await it through ``asyncio.shield``: cancelling it would cancel the future Ray (its client, for
    ray:// addresses) completes later, which Ray reports as an error. One abandoned (a timeout, an
    abort, the end of the run) ends later with Ray's error, which nobody awaits: it is marked as
    seen, not logged.
    """
    future = asyncio.wrap_future(ref.future())
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


def setup_for(attempt: Attempt, secrets: list[SecretGrant], cluster: RayCluster) -> Setup:
    """What the wrapper applies in the Ray worker before the action's code runs (no limits: Ray
    enforces the task's resources itself)."""
    env = {**options_for(attempt.spec).image_env, **attempt.env}
    return attempt.setup(secrets, env=env, limits={}, code_paths=cluster.code_paths)


class RayExecutor:
    """The Ray side of one run: its Ray tasks, its broker, the calls its actions make."""

    name = "ray"

    def __init__(self, address: str):
        self.address = address
        self.cluster: RayCluster | None = None
        self.broker: Any = None
        self.broker_name = ""
        # The attempts of this run now in Ray, by action id: their number and what they report to.
        self._live: dict[str, tuple[int, AttemptReport]] = {}
        self._serving: asyncio.Task[None] | None = None
        self._children: dict[str, set[asyncio.Task[None]]] = {}  # calls being served, by caller
        self._outbox: list[CallReply] = []
        self._warned: set[str] = set()

    async def ready(self) -> RayCluster:
        """The cluster, and this run's broker with its server, started on first use."""
        if self.cluster is None:
            self.cluster = await connect(self.address)
        if self.broker is None:
            # An async actor: every call in flight waits in it; the limit is far above any fan-out.
            self.broker_name = f"roost-broker-{uuid.uuid4().hex}"
            self.broker = self.cluster.broker_class.options(
                name=self.broker_name, num_cpus=0, max_concurrency=100_000
            ).remote()
            self._serving = asyncio.ensure_future(self._serve())
        return self.cluster

    def payload(self, attempt: Attempt, cluster: RayCluster, setup: Setup) -> RayRun:
        # Traced calls a recovered run finished travel along: answered in Ray by itself.
        return RayRun(attempt.request(task_to_wire(attempt.task)), setup, cluster.driver_host, self.broker_name)

    # -- one attempt ------------------------------------------------------------------------------
    async def run(self, attempt: Attempt, report: AttemptReport) -> values.EncodedOutputs:
        cluster = await self.ready()
        secrets = report.grant_secrets()  # a missing secret fails the action before it starts
        options = options_for(attempt.spec)
        payload = self.payload(attempt, cluster, setup_for(attempt, secrets, cluster))
        function = cluster.function_for(attempt.task.name, attempt.depth)
        ref = function.options(**options.task_options()).remote(payload)
        result = reply_of(ref)
        self.track(attempt, report)
        try:
            await self.wait_for_room(attempt, report, options, result, ref)
            reply = await self.bounded(attempt, result, ref)
        except BaseException:
            if not result.done():
                self.cancel(ref, force=True)  # an abort, a timeout: nothing of it may run on
            raise
        finally:
            self.untrack(attempt)
        return self.outcome(attempt, report, reply)

    async def wait_for_room(
        self,
        attempt: Attempt,
        report: AttemptReport,
        options: RayOptions,
        result: asyncio.Future[Any] | None,
        ref: Any,
    ) -> None:
        """RUNNING once submitted -- unless the cluster could not run it even when idle: then it waits
        for the cluster to grow, for at most its max_queued_time. ``result``/``ref``: its Ray task, if
        submitted already (Ray queues it meanwhile), cancelled when the wait is over."""
        assert self.cluster is not None
        missing = shortfall(options.needs(), self.cluster.totals())
        if missing is not None:
            missing = shortfall(options.needs(), self.cluster.totals(refresh=True))
        if missing is None:
            report.phase(ActionPhase.RUNNING)
            return
        report.phase(ActionPhase.WAITING_FOR_RESOURCES)
        message = f"{attempt.label} waits for the Ray cluster to grow: it needs {missing}"
        report.note(message)
        if attempt.label not in self._warned:
            self._warned.add(attempt.label)
            logger.warning("%s (an autoscaling cluster adds nodes for it; max_queued_time bounds the wait)", message)
        timeout = attempt.spec.timeout
        limit = seconds(timeout.max_queued_time) if timeout is not None else None
        started = time.monotonic()
        while True:
            left = None if limit is None else limit - (time.monotonic() - started)
            if left is not None and left <= 0:
                if ref is not None:
                    self.cancel(ref, force=True)
                raise MaxQueuedTimeExceededError(
                    f"{attempt.label} waited more than its max_queued_time of {limit:g} s for the Ray "
                    f"cluster to have room for it (it needs {missing})"
                )
            poll = GROWTH_POLL if left is None else min(GROWTH_POLL, left)
            if result is not None:
                await asyncio.wait({result}, timeout=poll)
            else:
                await asyncio.sleep(poll)
            if (result is not None and result.done()) or shortfall(
                options.needs(), self.cluster.totals(refresh=True)
            ) is None:
                report.phase(ActionPhase.RUNNING)
                return

    async def bounded(self, attempt: Attempt, result: asyncio.Future[Any], ref: Any) -> Any:
        """The Ray task's reply within max_runtime; past it the task is cancelled -- forcibly (its
        worker process killed) for sync code, which nothing else can stop."""
        limit = attempt.spec.max_runtime
        try:
            return await asyncio.wait_for(asyncio.shield(result), limit)
        except asyncio.TimeoutError:
            self.cancel(ref, force=not attempt.spec.is_async)
            how = "cancelled" if attempt.spec.is_async else "cancelled and its worker process killed"
            raise MaxRuntimeExceededError(
                f"{attempt.label} exceeded its max_runtime of {limit:g} s (attempt {attempt.number + 1}); "
                f"its Ray task was {how}"
            ) from None
        except Exception as e:
            raise self.ray_failure(attempt.label, e) from None

    def cancel(self, ref: Any, force: bool) -> None:
        assert self.cluster is not None
        try:
            self.cluster.ray.cancel(ref, force=force)
        except Exception as e:  # already finished, or its worker already gone
            logger.debug("ray.cancel: %s", e)

    def outcome(
        self, attempt: Attempt, report: AttemptReport, reply: RayReply, node: str | None = None
    ) -> values.EncodedOutputs:
        """Record the attempt's output lines and node; its outputs, or the error its code raised."""
        report.node(node or reply.node)
        for line in reply.logs:
            report.log(LogRecord(attempt.run_name, line.id, line.attempt, line.ts, line.stream, line.line))
        for note in reply.traces:
            report.trace(note)
        if reply.error is not None:
            raise exception_from_wire(reply.error)
        assert reply.outputs is not None
        return values.EncodedOutputs(reply.outputs)

    def ray_failure(self, label: str, e: Exception) -> Exception:
        """Ray's own failures as the errors roost raises for the same events in local runs."""
        ex = self.cluster.ray.exceptions  # type: ignore[union-attr]
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, ex.OutOfMemoryError):
            return OOMError("OOMKilled", f"Ray killed the worker running {label} for memory: {detail}")
        if isinstance(e, (ex.WorkerCrashedError, ex.ActorDiedError, ex.NodeDiedError, ex.ObjectLostError)):
            return WorkerCrashedError(
                f"the Ray worker running {label} died before returning a result ({type(e).__name__}: {detail})"
            )
        if isinstance(e, ex.TaskCancelledError):
            return ActionAbortedError(f"the Ray task of {label} was cancelled outside roost")
        if isinstance(e, ex.RuntimeEnvSetupError):
            return ImageBuildError(f"Ray could not set up the image of {label} (runtime_env): {detail}")
        return RuntimeSystemError("RayError", f"Ray failed running {label}: {type(e).__name__}: {detail}")

    # -- calls made by actions in Ray ------------------------------------------------------------------
    def track(self, attempt: Attempt, report: AttemptReport) -> None:
        """The attempt is in Ray now: calls from its code are accepted."""
        self._live[attempt.action_id] = (attempt.number, report)

    def untrack(self, attempt: Attempt) -> None:
        """Its attempt ended: children it left running (an abort, a timeout) are cancelled with it."""
        self._live.pop(attempt.action_id, None)
        for call in self._children.pop(attempt.action_id, ()):
            call.cancel()

    async def _serve(self) -> None:
        """Take the calls waiting in the broker, each time there are some (a long poll)."""
        while True:
            try:
                requests = await asyncio.shield(reply_of(self.broker.next_requests.remote()))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                logger.error("the call broker of a run on Ray stopped: %s", e)
                return
            for request in requests:
                call = asyncio.ensure_future(self._serve_call(request))
                siblings = self._children.setdefault(request.parent, set())
                siblings.add(call)
                call.add_done_callback(siblings.discard)

    async def _serve_call(self, request: CallRequest) -> None:
        """A task called by code in Ray: a child action of its caller, run by the caller's controller."""
        live = self._live.get(request.parent)
        if live is None or live[0] != request.attempt:
            error = RuntimeError(f"action {request.parent} called a task after its attempt had ended")
            reply = CallReply(request.call, error=error_to_wire(error))
        else:
            reply = await live[1].call(request)
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._send_replies)
        self._outbox.append(reply)

    def _send_replies(self) -> None:
        """The replies of one turn of the loop, in one message (a fan-out's children end together)."""
        replies, self._outbox = self._outbox, []
        if self.broker is not None and replies:
            self.broker.reply.remote(replies)

    def close(self) -> None:
        """The run ended: its broker and the calls still in it go."""
        calls = [call for children in self._children.values() for call in children]
        for task in (self._serving, *calls):
            if task is not None:
                task.cancel()
        if self.broker is not None and self.cluster is not None:
            try:
                self.cluster.ray.kill(self.broker)
            except Exception as e:
                logger.debug("ray.kill(broker): %s", e)
            self.broker = None
