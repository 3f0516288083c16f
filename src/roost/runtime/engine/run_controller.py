"""RunController: owns one run's action tree -- creates actions for task calls, passes each through
the policy pipeline to an executor, and records every transition in the run store."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from roost.core.compile import compile_task
from roost.core.task_spec import TaskSpec
from roost.errors import ActionAbortedError, RemoteTaskUsageError, RuntimeUserError, escaped_task, user_error_from
from roost.runtime import values
from roost.runtime.engine import deployed_calls, secret_mounts
from roost.runtime.engine.actions import ActionRun, RunScope
from roost.runtime.engine.condition_waits import ConditionWaits
from roost.runtime.engine.executors.contract import Attempt, Executor
from roost.runtime.engine.executors.inline import InlineExecutor
from roost.runtime.engine.policies import Next, compose
from roost.runtime.engine.policies.deadline import Deadline
from roost.runtime.engine.policies.recovery import Recovery
from roost.runtime.engine.policies.retries import Retries
from roost.runtime.engine.policies.run_slots import Admission
from roost.runtime.engine.recording import RunRecorder, error_info, failure_phase
from roost.runtime.engine.trace_records import TraceRecords
from roost.runtime.ids import ROOT_ACTION
from roost.runtime.messages import (
    CallDeployed,
    CallReply,
    CallRequest,
    SecretGrant,
    StoreLocation,
    TraceBegin,
    TraceEnd,
)
from roost.runtime.task_api.calls import DeployedCall, PreparedCall, TaskCalls
from roost.runtime.task_api.task_context import RunFacts, current_action
from roost.runtime.wire import error_to_wire, exception_from_wire, task_from_wire
from roost.spec.environment import list_loaded_environments
from roost.spec.secrets import normalize_secrets
from roost.store.records import ActionPhase, ActionRecord, ErrorInfo, LogRecord
from roost.store.run_store import RunStore
from roost.store.secret_store import derived_env_var
from roost.store.store_config import StoreConfig
from roost.task import TaskTemplate

if TYPE_CHECKING:
    from roost.runtime.engine.policies.cache import Cache
    from roost.runtime.engine.policies.machine_admission import ResourceAdmission

logger = logging.getLogger("roost")


@dataclass
class RunOptions:
    """The run-level settings of ``with_runcontext(...)`` that the controller applies."""

    mode: str = "local"
    env_vars: dict[str, str] = field(default_factory=dict)
    overwrite_cache: bool = False
    disable_run_cache: bool = False
    max_action_concurrency: int | None = None
    custom_context: dict[str, str] = field(default_factory=dict)
    raw_data_path: str | None = None
    run_base_dir: str | None = None
    # None until the run starts: then runner.resolve_options decides ("ray" after init(ray_address=...)).
    isolation: str | None = None
    ray_address: str | None = None  # the Ray cluster of isolation "ray"
    # Where the run belongs (with_runcontext, else init / the config file): ctx().action.project ...
    project: str | None = None
    domain: str | None = None
    org: str | None = None
    # How the Run handle gives DataFrame outputs back: as declared, or as flyte.io.DataFrame (SDK default).
    preserve_original_types: bool = True
    # mode="hybrid" on a roost server: the root action runs in the client that started the run (its
    # worker, reached through the server), its children here (executors/client.py).
    root_on_client: bool = False
    # A run on a roost server: what runs is what was sent, so a task may call the tasks of another
    # environment only when its environment lists that one in depends_on (as a Flyte deployment needs).
    on_server: bool = False
    # Recorded on the run (``roost get run``): the deployed version it runs, and the trigger that fired it.
    deployed_version: str | None = None
    trigger: str | None = None
    started_by: str | None = None  # who asked the server for this run (a rerun from the console)


async def _mark_running(action: ActionRun, call_next: Next) -> Any:
    """With no admission limit, an attempt starts at once."""
    action.recorder.set_phase(action, ActionPhase.RUNNING)
    return await call_next(action)


_NO_LIMITS: dict[str, Any] = {}
# Attempts are made for every action: built from all their fields, in the class's order, by the tuple's
# own constructor -- the Python-level __new__ of a NamedTuple would double what making one costs.
_new_attempt: Any = tuple.__new__
_NO_ENV: dict[str, str] = {}  # an inline attempt applies none: it runs in the controller's process

# Variables of secrets declared by any environment loaded in this process, and how many
# environments were loaded when they were counted: recounted only when that changes.
_SECRET_VARIABLES: tuple[int, frozenset[str]] = (-1, frozenset())


def declared_secret_variables() -> frozenset[str]:
    """The variable names of every secret declared by any environment or task loaded here."""
    global _SECRET_VARIABLES
    envs = list_loaded_environments()
    if _SECRET_VARIABLES[0] != len(envs):
        names: set[str] = set()
        for env in envs:
            for request in (env.secrets, *(t.secrets for t in getattr(env, "tasks", {}).values())):
                for secret in normalize_secrets(request):  # type: ignore[arg-type]
                    names.add(secret.as_env_var or derived_env_var(secret.key, secret.group))
        _SECRET_VARIABLES = (len(envs), frozenset(names))
    return _SECRET_VARIABLES[1]


def _check_depends_on(caller: TaskTemplate[Any], callee: TaskTemplate[Any]) -> None:
    """A task of a server run calls a task of another environment only through ``depends_on``."""
    here, there = caller.env, callee.env
    if here is None or there is None or here.name == there.name:
        return
    reachable: set[str] = set()
    pending = list(here.depends_on)
    while pending:
        env = pending.pop()
        if env.name not in reachable:
            reachable.add(env.name)
            pending.extend(env.depends_on)
    if there.name not in reachable:
        raise RuntimeUserError(
            "MissingEnvironment",
            f"{caller.name} (environment {here.name!r}) calls {callee.name} of environment {there.name!r}, which "
            f"{here.name!r} does not depend on: add depends_on=[{there.name}] to the environment {here.name!r}",
        )


class RunController(TaskCalls):
    """The controller of one run. It is the call handler of every action's code (``roost.task``)."""

    def __init__(
        self,
        store: RunStore,
        run_name: str,
        options: RunOptions,
        *,
        run_base_dir: str,
        raw_data_path: str,
        store_config: StoreConfig,
        recovered: dict[str, ActionRecord] | None = None,
        recovered_base_dir: str | None = None,
        recovered_from: str | None = None,
    ):
        self.store = store
        self.run_name = run_name
        self.options = options
        self.mode = options.mode
        self.run_base_dir = run_base_dir
        self.raw_data_path = raw_data_path
        self.store_config = store_config
        self.started_at = time.time()
        self.run_facts = RunFacts(
            run_name,
            options.mode,
            raw_data_path,
            run_base_dir,
            options.disable_run_cache,
            self.started_at,
            recovered_base_dir,
            project=options.project,
            domain=options.domain,
            org=options.org,
        )
        self.run_facts_wire = self.run_facts.to_wire()
        self.scope = RunScope(self.run_facts, self.run_facts_wire, store_config, run_name)
        self.recorder = RunRecorder(store, run_name, tuple(options.env_vars))
        self.store_location = StoreLocation(str(store_config.home), store_config.raw_data_url)
        # Per task spec of this run (the spec is held, so its id is not reused): what every attempt
        # of it gets -- its variables, the secret variables it must not see, its pool, the limits of
        # a worker the machine granted nothing in particular.
        self._per_spec: dict[
            int, tuple[TaskSpec, dict[str, str], tuple[str, ...], tuple[Any, ...] | None, dict[str, Any]]
        ] = {}
        # Per task spec: where its child actions run and why (the spec is held, so its id is not reused).
        self._placements: dict[int, tuple[TaskSpec, str, str]] = {}
        self._order = itertools.count()
        self._inline = InlineExecutor()
        # The others by isolation, each made when the run's first action needs it: a run whose actions
        # all run inline imports none of the machinery of worker processes or Ray.
        self._executors: dict[str | None, Executor] = {}
        self._ray: Any = None  # executors.ray.RayExecutor, made when the run's first action goes to Ray
        self._resources: ResourceAdmission | None = None  # this machine's, looked up on first use
        self._warned: set[tuple[str, str]] = set()  # (task, message) of the warnings given
        self._pickle_checked: set[str] = set()
        self._recovery = Recovery(recovered) if recovered else None
        self._deadline = Deadline()
        self._retries = Retries()
        self._admission = Admission(options.max_action_concurrency) if options.max_action_concurrency else None
        self._cache: Cache | None = None  # the cache policy, made for the run's first cached task
        self._pipelines: dict[tuple[bool, ...], Next] = {}
        self.traces = TraceRecords(store, run_name, self._order, self._recovery)
        # The actions whose abort alone was requested (`roost abort action`), with why. Which asyncio
        # task executes an action is looked up then, not registered for every action.
        self._aborting: dict[str, str] = {}
        self.recovered_from = recovered_from
        self._waits: ConditionWaits | None = None  # made for the run's first condition

    # -- starting children (the call rules are in TaskCalls) ---------------------------------------
    async def start(self, prepared: PreparedCall) -> Any:
        action = self.new_action(
            prepared.task, prepared.action_id, prepared.encoded, prepared.parent, prepared.group, prepared.custom
        )
        return await self.start_child(prepared.parent, action)

    async def start_child(self, parent: ActionRun, child: ActionRun) -> Any:
        """Run a child while its parent waits; the parent lends its CPU to the machine meanwhile."""
        if parent.grant is None:
            return await self.execute(child)
        self._machine().lend(parent)
        try:
            return await self.execute(child)
        finally:
            self._machine().reclaim(parent)

    async def start_deployed(self, call: DeployedCall) -> Any:
        outputs = await self.run_deployed(call.parent, call.action_id, call.name, call.version, call.data,
                                          call.group, call.custom)  # fmt: skip
        return values.decode_outputs(None, outputs)

    async def run_deployed(
        self,
        parent: ActionRun,
        action_id: str,
        name: str,
        version: str | None,
        data: bytes,
        group: str | None,
        custom: dict[str, str],
    ) -> bytes:
        """Run the deployed task ``name`` as a child of ``parent``: the server runs it where its code is
        (another bundle host), recorded in this run; its packed outputs."""
        if not (self.options.on_server and deployed_calls.available()):
            raise RemoteTaskUsageError(
                f"the deployed task {name!r} can be called from a task only in a run on a roost server"
            )
        done = self.store.get_action(self.run_name, action_id)
        if done is not None and done.phase == ActionPhase.SUCCEEDED:  # a resumed run: it ran already
            return done.outputs or b""
        request = CallDeployed(self.run_name, parent.id, action_id, name, version, data, group, custom)
        if parent.grant is not None:
            self._machine().lend(parent)
        try:
            reply = await deployed_calls.call(request)
        except asyncio.CancelledError:
            self.store.request_action_abort(self.run_name, action_id, f"its caller {parent.id} was cancelled")
            raise
        finally:
            if parent.grant is not None:
                self._machine().reclaim(parent)
        if reply.error is not None:
            raise exception_from_wire(reply.error)
        return reply.outputs or b""

    # -- conditions: recorded and answered through the store (engine/condition_waits.py) ---------------
    def _condition_waits(self) -> ConditionWaits:
        if self._waits is None:
            self._waits = ConditionWaits(self.store, self.run_name, self.recovered_from)
        return self._waits

    def register_condition(self, condition: Any, parent: ActionRun, data: bytes, group: str | None) -> None:
        self.register_condition_spec(parent, condition._action_id, data, group)

    def register_condition_spec(self, parent: ActionRun, action_id: str, data: bytes, group: str | None) -> None:
        spec = msgpack.unpackb(data, raw=False)
        self._condition_waits().register(parent.id, action_id, spec, next(self._order), group)

    async def wait_condition(self, condition: Any) -> Any:
        parent = current_action.get()
        return values.decode_outputs(None, await self.wait_condition_id(parent, condition._action_id))  # type: ignore[arg-type]

    async def wait_condition_id(self, parent: ActionRun, action_id: str) -> bytes:
        """The answer, packed; the waiting parent lends its share of the machine and its run slot
        meanwhile (a condition may wait for days)."""
        if parent.grant is not None:
            self._machine().lend(parent)
        if self._admission is not None:
            self._admission.lend()
        try:
            return await self._condition_waits().wait(action_id)
        finally:
            if self._admission is not None:
                await self._admission.reclaim()
            if parent.grant is not None:
                self._machine().reclaim(parent)

    def new_action(
        self,
        task: TaskTemplate[Any],
        action_id: str,
        encoded: values.EncodedInputs,
        parent: ActionRun | None,
        group: str | None,
        custom: dict[str, str],
        parent_id: str | None = None,
    ) -> ActionRun:
        """A new action of ``task``; without ``parent``, the root of what this controller runs -- of the
        run, or (``parent_id``) of a deployed task called by an action another controller runs."""
        spec = compile_task(task)
        if task.name not in self._pickle_checked:
            self._warn_pickled(task)
        if parent is not None and self.options.on_server:
            _check_depends_on(parent.task, task)
        record = ActionRecord(
            run_name=self.run_name,
            action_id=action_id,
            parent_id=parent.id if parent is not None else None,
            task_name=task.name,
            short_name=task.short_name,
            group_name=group,
            seq=next(self._order),
            phase=ActionPhase.QUEUED,
            queued_at=time.time(),
            inputs=encoded.data,
            inputs_hash=encoded.hash,
        )
        if parent is None:
            record.parent_id = parent_id
            record.isolation, record.isolation_reason = self._placement(spec, root=True)
        else:
            # The same for every call of a task: decided once per task spec of the run.
            placed = self._placements.get(id(spec))
            if placed is None or placed[0] is not spec:
                placed = self._placements[id(spec)] = (spec, *self._placement(spec))
            record.isolation, record.isolation_reason = placed[1], placed[2]
        self.store.mark(record)
        action = ActionRun(self.scope, self.recorder, record, task, spec, parent, custom)
        action.reusable_inputs = encoded.reusable
        return action

    def root_action(self, task: TaskTemplate[Any], encoded: values.EncodedInputs) -> ActionRun:
        return self.new_action(task, ROOT_ACTION, encoded, None, None, dict(self.options.custom_context))

    # -- @flyte.trace calls: pseudo-actions run by their caller (tracing.py, trace_records.py) -------
    records_traces = True

    def trace_begin_blocking(self, call: Any, replay: bool = True) -> bytes | None:
        traced, encoded = call.traced, call.encoded
        return self.traces.begin(
            call.parent.id,
            call.action_id,
            traced.name,
            traced.short_name,
            call.group,
            encoded.data,
            encoded.hash,
            replay,
        )

    def trace_end(self, call: Any, outputs: bytes | None, error: BaseException | None) -> None:
        self.traces.end(call.action_id, outputs, None if error is None else error_info(error))

    # -- where an action runs ------------------------------------------------------------------------
    def _placement(self, spec: TaskSpec, root: bool = False) -> tuple[str, str]:
        """(isolation, why), by the ``auto`` rule of docs/architecture.md unless the run forces one."""
        mode = self.options.isolation or "auto"
        if root and self.options.root_on_client:
            return "client", "mode='hybrid' runs the root action in the client that started the run"
        if mode == "ray":
            if root and self.mode == "hybrid":
                where, why = self._placement_here(spec, "auto")
                return where, f"mode='hybrid' runs the root action here ({why}) and its children on the Ray cluster"
            from roost.runtime.engine.executors.ray import options_for

            notes = options_for(spec).notes
            why = {
                "remote": "mode='remote' runs every action on the Ray cluster",
                "hybrid": "mode='hybrid' runs child actions on the Ray cluster",
            }.get(self.mode, "isolation='ray' runs every action on the Ray cluster")
            where = "ray-pool" if spec.reusable is not None else "ray"
            return where, why + (f"; {'; '.join(notes)}" if notes else "")
        return self._placement_here(spec, mode)

    def _placement_here(self, spec: TaskSpec, mode: str) -> tuple[str, str]:
        reasons = spec.process_reasons + (("run env_vars",) if self.options.env_vars else ())
        if mode == "inline":
            if reasons:
                self._warn_unhonoured(spec.name, reasons)
            return "inline", "isolation='inline' was requested"
        # A reusable environment's actions go to its pool of warm replicas.
        process = "pool" if spec.reusable is not None else "process"
        if mode == "process":
            return process, "isolation='process' was requested"
        if reasons:
            return process, "declares " + ", ".join(reasons)
        return "inline", "declares nothing that needs a process of its own"

    def _executor_for(self, action: ActionRun) -> Executor:
        isolation = action.record.isolation
        if isolation == "inline":
            return self._inline
        executor = self._executors.get(isolation)
        if executor is None:
            executor = self._executors[isolation] = self._new_executor(isolation)
        return executor

    def _new_executor(self, isolation: str | None) -> Executor:
        if isolation == "ray":
            return self.ray_executor()  # type: ignore[no-any-return]
        if isolation == "ray-pool":
            from roost.runtime.engine.executors.ray_pool import RayPoolExecutor

            return RayPoolExecutor(self.ray_executor)
        if isolation == "client":
            from roost.runtime.engine.executors.client import ClientExecutor

            return ClientExecutor()
        if isolation == "pool":
            from roost.runtime.engine.executors.pool import PoolExecutor

            return PoolExecutor()
        from roost.runtime.engine.executors.process import ProcessExecutor

        return ProcessExecutor()

    def ray_executor(self) -> Any:  # executors.ray.RayExecutor (Ray is imported on first use)
        """This run's side of the Ray cluster (its broker of task calls), made on first use."""
        if self._ray is None:
            from roost.runtime.engine.executors.ray import RayExecutor

            assert self.options.ray_address, "isolation 'ray' is resolved with an address"
            self._ray = RayExecutor(self.options.ray_address)
        return self._ray

    def _machine(self) -> ResourceAdmission:
        """This machine's admission, imported on first use: a run whose actions all run inline and
        declare no resources never needs it."""
        if self._resources is None:
            from roost.runtime.engine.policies.machine_admission import machine

            self._resources = machine()
        return self._resources

    def close(self) -> None:
        """The run ended: release what it held outside this process (its Ray broker)."""
        if self._ray is not None:
            self._ray.close()

    def env_for(self, spec: TaskSpec) -> dict[str, str]:
        """The variables a task's process gets: environment and task (as merged at definition), then run."""
        return {**spec.env_vars, **self.options.env_vars}

    def secrets_for(self, action: ActionRun) -> list[SecretGrant]:
        """The action's secrets, resolved now (values never reach the store, logs or errors)."""
        if not action.spec.secrets:
            return []
        return secret_mounts.grants(action.spec.secrets, self.store_config.home, self._secret_mount_dir(action))

    def release_secrets(self, action: ActionRun) -> None:
        """Remove the folder of mounted secrets when a worker could not use a private mount."""
        if action.spec.secrets:
            secret_mounts.release(self._secret_mount_dir(action))

    def _secret_mount_dir(self, action: ActionRun) -> Path:
        return secret_mounts.mount_dir(self.store_config.home, self.run_name, action.id, action.attempt)

    def _warn_once(self, task_name: str, message: str, *args: Any) -> None:
        """A warning about a task, logged once per run: here, in the one process that sees every action
        (the type engine runs in every worker too, and a warning from there would repeat with each call)."""
        if (task_name, message) not in self._warned:
            self._warned.add((task_name, message))
            logger.warning(message, *args)

    def _warn_unhonoured(self, task_name: str, reasons: tuple[str, ...]) -> None:
        message = (
            "%s declares %s, which running inline (isolation='inline') cannot apply; process isolation honours them"
        )
        self._warn_once(task_name, message, task_name, ", ".join(reasons))

    def _warn_pickled(self, task: TaskTemplate[Any]) -> None:
        self._pickle_checked.add(task.name)
        parts = values.pickled_parts(task)
        if parts:
            message = (
                "task %s: %s will be pickled (cloudpickle), which ties the values to this Python version and "
                "code; declare a supported type, or flyte.types.FlytePickle to choose pickling"
            )
            self._warn_once(task.name, message, task.name, "; ".join(parts))

    # -- executing ---------------------------------------------------------------------------------
    def _pipeline_for(self, action: ActionRun) -> Next:
        """The policies this task needs, composed once per combination (a policy with nothing to do
        for a task would still cost every one of its actions a coroutine frame).

        An action on Ray is admitted by the cluster, not by this machine's capacity, and its executor
        says when it runs (it may wait for the cluster to grow first).
        """
        spec = action.spec
        r = spec.resources
        deadline = spec.timeout is not None and spec.timeout.deadline is not None
        retries = spec.retries.count > 0
        cached = spec.cache.is_enabled() and not self.options.disable_run_cache
        on_ray = action.record.isolation in ("ray", "ray-pool")
        requests = bool(r.cpu_request or r.memory_request or r.gpu) and not on_ray
        key = (deadline, retries, cached, requests, on_ray)
        pipeline = self._pipelines.get(key)
        if pipeline is None:
            policies: list[Any] = [self._recovery] if self._recovery is not None else []
            if cached:
                policies.append(self._cache_policy())
            if deadline:
                policies.append(self._deadline)
            if retries:
                policies.append(self._retries)
            if self._admission is not None:
                policies.append(self._admission)
            if requests:
                policies.append(self._machine())
            if not on_ray:
                policies.append(_mark_running)
            pipeline = self._pipelines[key] = compose(policies, self._attempt)
        return pipeline

    def _cache_policy(self) -> Cache:
        if self._cache is None:
            from roost.runtime.engine.policies.cache import Cache
            from roost.store.cache_store import CacheStore

            self._cache = Cache(CacheStore(self.store), overwrite=self.options.overwrite_cache)
        return self._cache

    async def execute(self, action: ActionRun) -> Any:
        """Run ``action`` through the pipeline; record how it ended; give the caller its value."""
        try:
            return await self._pipeline_for(action)(action)
        except asyncio.CancelledError:
            reason = self._aborting.pop(action.id, None) if self._aborting else None
            if reason is not None:
                # This action's own abort, not its run's: the caller gets an ActionAbortedError it may
                # catch, and the task it shares with its caller goes on.
                task = asyncio.current_task()
                if hasattr(task, "uncancel"):  # Python 3.11+ counts cancellations; 3.10 has no count
                    task.uncancel()  # type: ignore[union-attr]
                message = f"action {action.id} was aborted: {reason}"
                action.record.error = ErrorInfo("ActionAbortedError", "user", message)
                self.recorder.finish(action, ActionPhase.ABORTED)
                raise ActionAbortedError(message) from None
            if not action.record.phase.is_terminal:
                action.record.error = ErrorInfo("ActionAborted", "user", "the run was aborted")
                self.recorder.finish(action, ActionPhase.ABORTED)
            raise
        except BaseException as e:
            if not action.record.phase.is_terminal:
                action.record.error = error_info(e)
                self.recorder.finish(action, failure_phase(e))
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            raise user_error_from(e, action.record.error.traceback if action.record.error else None) from None

    def abort_action(self, action_id: str, reason: str) -> None:
        """Cancel one executing action and what it started (on the run's loop; from any thread)."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._abort_live, action_id, reason)

    def _abort_live(self, action_id: str, reason: str) -> None:
        task = self._task_executing(action_id)
        if task is None:  # not executing (ended meanwhile): nothing to abort
            return
        self._aborting[action_id] = reason
        task.cancel()

    def _task_executing(self, action_id: str) -> asyncio.Task[Any] | None:
        """The asyncio task whose chain of awaits holds this controller's ``execute`` of the action.

        A child awaited by its parent runs in the parent's task, so the chain of each task is followed
        from its outermost coroutine inwards, past the executes of the action's ancestors."""
        assert self.loop is not None
        for task in asyncio.all_tasks(self.loop):
            awaited: Any = task.get_coro()
            while awaited is not None and getattr(awaited, "cr_frame", None) is not None:
                if awaited.cr_code is _EXECUTE:
                    frame_locals = awaited.cr_frame.f_locals
                    if frame_locals.get("self") is self and frame_locals["action"].id == action_id:
                        return task
                awaited = awaited.cr_await
        return None

    async def _attempt(self, action: ActionRun) -> Any:
        """One attempt: resolve it, have its executor run it, record success.

        Each attempt receives its inputs freshly converted from the stored literals, as a task on a
        cluster would: what one attempt did to them cannot leak into the next, or into the caller.
        """
        attempt = self._resolve(action)
        try:
            encoded = await self._executor_for(action).run(attempt, ActionReport(self, action))
        except BaseException as e:
            if not escaped_task(e):
                raise
            # Here, before the retry policy and the callers' asyncio tasks: a SystemExit travelling on
            # would stop the runtime loop and leave the run hanging.
            raise user_error_from(e, "".join(traceback.format_exception(e))) from None
        action.record.outputs = encoded.data
        self.recorder.finish(action, ActionPhase.SUCCEEDED)
        return encoded.value if encoded.reusable else self.recorder.output_value(action)

    def _resolve(self, action: ActionRun) -> Attempt:
        """Everything the attempt needs, decided here, before an executor sees it."""
        record = action.record
        placement = record.isolation or "inline"
        if placement == "inline":
            # Its code runs here: the action itself is its context, its inputs are Python values;
            # nothing is set up for it (this path is every inline action's: positional, no lookups).
            inputs = action.reusable_inputs
            if inputs is None:
                inputs = values.decode_inputs(action.task, record.inputs)  # type: ignore[arg-type]
            return _new_attempt(Attempt, (
                self.run_name, record.action_id, action.attempt, action.task, action.spec, placement, record.inputs,
                None, _NO_ENV, (), _NO_LIMITS, self.store_location, None, 0, None, inputs, action,
            ))  # fmt: skip
        spec = action.spec
        per_spec = self._per_spec.get(id(spec))
        if per_spec is None or per_spec[0] is not spec:
            per_spec = self._per_spec[id(spec)] = (spec, *self._spec_settings(spec))
        _, env, unset, pool_key, default_limits = per_spec
        depth = 0
        if placement in ("ray", "ray-pool"):
            parent = action.parent
            while parent is not None:
                depth, parent = depth + 1, parent.parent
        limits = action.limits if action.limits is not None else default_limits
        replays = self.traces.replays(record.action_id)
        return _new_attempt(Attempt, (
            self.run_name, record.action_id, action.attempt, action.task, spec, placement, record.inputs,
            action.wire_context(), env, unset, limits, self.store_location, replays, depth, pool_key, None, None,
        ))  # fmt: skip

    def _spec_settings(
        self, spec: TaskSpec
    ) -> tuple[dict[str, str], tuple[str, ...], tuple[Any, ...] | None, dict[str, Any]]:
        """A task's variables, the secret variables its workers must not see, its pool's key, and the
        limits of its workers when the machine granted them nothing in particular (the same for every
        attempt: worked out here, once, rather than on each attempt's way)."""
        env = self.env_for(spec)
        # Workers inherit the launching environment, where a secret may sit (the store's fallback);
        # only the tasks granted a secret may see it.
        granted = {s.as_env_var for s in spec.secrets if s.as_env_var}
        unset = tuple(sorted(declared_secret_variables() - granted))
        pool_key = None
        if spec.reusable is not None:
            # Actions share a pool when its replicas would be started identically.
            policy = spec.reusable
            secrets = tuple(sorted((s.key, s.group or "", s.as_env_var or "", str(s.mount)) for s in spec.secrets))
            scope = self.run_name if policy.scope == "run" else ""
            variables = tuple(sorted(env.items()))
            name = spec.env_name or spec.name
            pool_key = (name, variables, secrets, spec.resources, spec.image_uri, repr(policy), scope)
        return env, unset, pool_key, self._machine().default_limits()


_EXECUTE = RunController.execute.__code__


class ActionReport:
    """What an executor reports about one attempt of an action, recorded by the action's controller
    (executors.contract.AttemptReport)."""

    __slots__ = ("_action", "_controller", "calls")

    def __init__(self, controller: RunController, action: ActionRun):
        self._controller = controller
        self._action = action
        self.calls: TaskCalls = controller  # where task calls of code running here go

    def phase(self, phase: ActionPhase) -> None:
        self._controller.recorder.set_phase(self._action, phase)

    def node(self, where: str) -> None:
        record = self._action.record
        record.node = where
        self._controller.store.mark(record)

    def log(self, record: LogRecord) -> None:
        self._controller.store.log(record)

    def note(self, line: str) -> None:
        action = self._action
        self.log(LogRecord(action.record.run_name, action.id, action.attempt, time.time(), "log", line))

    def trace(self, note: TraceBegin | TraceEnd) -> None:
        self._controller.traces.note(note)

    def grant_secrets(self) -> list[SecretGrant]:
        return self._controller.secrets_for(self._action)

    def release_secrets(self) -> None:
        self._controller.release_secrets(self._action)

    async def call(self, request: CallRequest) -> CallReply:
        controller, parent = self._controller, self._action
        try:
            if request.task.role == "condition":
                controller.register_condition_spec(parent, request.action_id, request.inputs, request.group)
                return CallReply(request.call, outputs=b"")
            if request.task.role == "condition_wait":
                return CallReply(request.call, outputs=await controller.wait_condition_id(parent, request.action_id))
            if request.task.role == "deployed":
                outputs = await controller.run_deployed(parent, request.action_id, request.task.name or "",
                                                        request.task.version, request.inputs, request.group,
                                                        dict(request.custom))  # fmt: skip
                return CallReply(request.call, outputs=outputs)
            task = task_from_wire(request.task)
            encoded = values.EncodedInputs(request.inputs, request.hash)
            custom = dict(request.custom)
            child = controller.new_action(task, request.action_id, encoded, parent, request.group, custom)
            await controller.start_child(parent, child)
            return CallReply(request.call, outputs=child.record.outputs)
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            return CallReply(request.call, error=error_to_wire(e))
