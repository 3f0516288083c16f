"""RunController: owns one run's action tree -- creates actions for task calls, passes each through
the policy pipeline to an executor, and records every transition in the run store."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from roost.core.compile import compile_task
from roost.core.task_spec import TaskSpec
from roost.errors import (
    ActionAbortedError,
    BaseRuntimeError,
    SyncTaskCallInAsyncContextError,
    TaskTimeoutError,
    user_error_from,
)
from roost.runtime import values
from roost.runtime.actions import ActionRun
from roost.runtime.context import current_action, current_custom, current_group
from roost.runtime.executors.inline import InlineExecutor
from roost.runtime.ids import ROOT_ACTION, child_action_id
from roost.runtime.policies import Next, compose
from roost.runtime.policies.admission import Admission
from roost.runtime.policies.deadline import Deadline
from roost.runtime.policies.recovery import Recovery
from roost.runtime.policies.retries import Retries
from roost.spec.cache import VersionParameters
from roost.store.config import StoreConfig
from roost.store.records import ActionPhase, ActionRecord, AttemptRecord, ErrorInfo
from roost.store.run_store import RunStore
from roost.task import TaskTemplate

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
    isolation: str = "auto"


def error_info(e: BaseException) -> ErrorInfo:
    """What is recorded of a failure: the user's class name as code, the message, the traceback."""
    if isinstance(e, BaseRuntimeError):
        text = getattr(e, "traceback_text", None) or "".join(traceback.format_exception(e))
        return ErrorInfo(e.code, e.kind, e.message, text)
    return ErrorInfo(type(e).__name__, "user", str(e), "".join(traceback.format_exception(e)))


async def _mark_running(action: ActionRun, call_next: Next) -> Any:
    """With no admission limit, an attempt starts at once."""
    action.controller.set_phase(action, ActionPhase.RUNNING)
    return await call_next(action)


def _failure_phase(e: BaseException) -> ActionPhase:
    if isinstance(e, TaskTimeoutError):
        return ActionPhase.TIMED_OUT
    if isinstance(e, ActionAbortedError):
        return ActionPhase.ABORTED
    return ActionPhase.FAILED


class RunController:
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
    ):
        self.store = store
        self.run_name = run_name
        self.options = options
        self.mode = options.mode
        self.run_base_dir = run_base_dir
        self.raw_data_path = raw_data_path
        self.store_config = store_config
        self.started_at = time.time()
        self.records: list[ActionRecord] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._order = itertools.count()
        self._executor = InlineExecutor()
        self._warned: set[str] = set()
        self._recovery = Recovery(recovered) if recovered else None
        self._deadline = Deadline()
        self._retries = Retries()
        self._admission = Admission(options.max_action_concurrency) if options.max_action_concurrency else None
        self._pipelines: dict[tuple[bool, bool], Next] = {}

    # -- the call handler (roost.task.CallHandler) ------------------------------------------------
    def call(self, task: TaskTemplate[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A task called from a running task's code."""
        on_loop = threading.get_ident() == self._loop_thread
        is_async = compile_task(task).is_async
        if on_loop and not is_async:
            raise SyncTaskCallInAsyncContextError(
                f"{task.name} is a sync task called from async code: calling it would block the event loop "
                f"that runs the other actions. Use `await {task.short_name}.aio(...)` instead."
            )
        action = self.prepare(task, args, kwargs)
        if is_async:
            return self.execute(action) if on_loop else self._from_other_thread(action)
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(self.execute(action), self.loop).result()

    def acall(self, task: TaskTemplate[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``await task.aio(...)`` from a running task's code: sync or async, always awaitable."""
        action = self.prepare(task, args, kwargs)
        if threading.get_ident() == self._loop_thread:
            return self.execute(action)
        return self._from_other_thread(action)

    async def _from_other_thread(self, action: ActionRun) -> Any:
        # Awaited on another thread's event loop (a sync task that ran asyncio.run): the action
        # itself must run on the run's loop.
        assert self.loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.execute(action), self.loop))

    # -- creating actions --------------------------------------------------------------------------
    def prepare(self, task: TaskTemplate[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> ActionRun:
        """Bind and convert the inputs and give the call its deterministic id -- in the caller, at call
        time, so that ids follow the order of the calls in the code."""
        parent = current_action.get()
        assert isinstance(parent, ActionRun), "a task call reached the controller outside an action"
        bound = task.interface.bind(args, kwargs, task.name)
        encoded = values.encode_inputs(task, bound)
        group = current_group.get()
        seq = parent.next_seq(task.name, encoded.hash, group)
        action_id = child_action_id(parent.id, encoded.hash, task.name, seq, group)
        custom = current_custom.get()
        return self.new_action(
            task, action_id, bound, encoded, parent, group, parent.custom if custom is None else custom
        )

    def new_action(
        self,
        task: TaskTemplate[Any],
        action_id: str,
        bound: dict[str, Any],
        encoded: values.EncodedInputs,
        parent: ActionRun | None,
        group: str | None,
        custom: dict[str, str],
    ) -> ActionRun:
        spec = compile_task(task)
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
            isolation=self._executor.name,
        )
        self.records.append(record)
        self.store.mark(record)
        if spec.process_reasons:
            self._warn_unhonoured(spec.name, spec.process_reasons)
        action = ActionRun(self, record, task, spec, bound, parent, custom)
        action.reusable_inputs = encoded.reusable
        return action

    def root_action(self, task: TaskTemplate[Any], bound: dict[str, Any], encoded: values.EncodedInputs) -> ActionRun:
        return self.new_action(task, ROOT_ACTION, bound, encoded, None, None, dict(self.options.custom_context))

    def _warn_unhonoured(self, task_name: str, reasons: tuple[str, ...]) -> None:
        if reasons and task_name not in self._warned:
            self._warned.add(task_name)
            logger.warning(
                "%s declares %s, which running inline cannot apply; process isolation honours them",
                task_name,
                ", ".join(reasons),
            )

    # -- executing ---------------------------------------------------------------------------------
    def _pipeline_for(self, spec: TaskSpec) -> Next:
        """The policies this task needs, composed once per combination (a policy with nothing to do
        for a task would still cost every one of its actions a coroutine frame)."""
        key = (spec.timeout is not None and spec.timeout.deadline is not None, spec.retries.count > 0)
        pipeline = self._pipelines.get(key)
        if pipeline is None:
            policies: list[Any] = [self._recovery] if self._recovery is not None else []
            if key[0]:
                policies.append(self._deadline)
            if key[1]:
                policies.append(self._retries)
            if self._admission is not None:
                policies.append(self._admission)
            else:
                policies.append(_mark_running)
            pipeline = self._pipelines[key] = compose(policies, self._attempt)
        return pipeline

    async def execute(self, action: ActionRun) -> Any:
        """Run ``action`` through the pipeline; record how it ended; give the caller its value."""
        try:
            value = await self._pipeline_for(action.spec)(action)
        except asyncio.CancelledError:
            if not action.record.phase.is_terminal:
                action.record.error = ErrorInfo("ActionAborted", "user", "the run was aborted")
                self.finish(action, ActionPhase.ABORTED)
            raise
        except BaseException as e:
            if not action.record.phase.is_terminal:
                action.record.error = error_info(e)
                self.finish(action, _failure_phase(e))
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            raise user_error_from(e, action.record.error.traceback if action.record.error else None) from None
        return value

    async def _attempt(self, action: ActionRun) -> Any:
        """One attempt: run the code, convert its result, record success.

        Each attempt receives its inputs freshly converted from the stored literals, as a task on a
        cluster would: what one attempt did to them cannot leak into the next, or into the caller.
        """
        if action.reusable_inputs is not None:
            action.inputs = action.reusable_inputs
        else:
            action.inputs = values.decode_inputs(action.task, action.record.inputs)  # type: ignore[arg-type]
        result = await self._executor.run(action)
        encoded = values.encode_outputs(action.task, result)
        action.record.outputs = encoded.data
        self.finish(action, ActionPhase.SUCCEEDED)
        return encoded.value if encoded.reusable else self.output_value(action)

    def output_value(self, action: ActionRun) -> Any:
        """The caller receives the outputs as they were stored, as if they had crossed a process."""
        return values.decode_outputs(action.task, action.record.outputs)  # type: ignore[arg-type]

    # -- recording ---------------------------------------------------------------------------------
    def set_phase(self, action: ActionRun, phase: ActionPhase) -> None:
        record = action.record
        record.phase = phase
        if phase is ActionPhase.RUNNING:
            record.attempts = action.attempt + 1
            action.attempt_started = time.time()
            if record.started_at is None:
                record.started_at = action.attempt_started
        self.store.mark(record)

    def finish(self, action: ActionRun, phase: ActionPhase) -> None:
        record = action.record
        record.phase = phase
        record.ended_at = time.time()
        if phase is not ActionPhase.RECOVERED and record.attempts == 0:
            record.attempts = action.attempt + 1
        self.store.mark(record)
        if phase is ActionPhase.SUCCEEDED and action.attempt:
            # After failed attempts, the attempts table also shows the one that succeeded.
            self.store.mark(
                AttemptRecord(self.run_name, action.id, action.attempt, phase, action.attempt_started, record.ended_at)
            )

    def record_attempt_failure(self, action: ActionRun, e: BaseException) -> None:
        attempt = AttemptRecord(
            run_name=self.run_name,
            action_id=action.id,
            attempt=action.attempt,
            phase=_failure_phase(e),
            started_at=action.attempt_started,
            ended_at=time.time(),
            error=error_info(e),
        )
        self.store.mark(attempt)

    def cache_version(self, task: TaskTemplate[Any], spec: TaskSpec) -> str:
        if not spec.cache.is_enabled():
            return ""
        return spec.cache.get_version(VersionParameters(func=getattr(task, "func", None), image=task.image))

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._loop_thread = threading.get_ident()
