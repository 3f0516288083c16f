"""Inline: the attempt runs in the controller's own process -- async bodies on its event loop,
sync bodies on a thread -- with its context, call handler and log sink set around it."""

from __future__ import annotations

import asyncio
import contextvars
import time
import traceback
from collections.abc import Coroutine
from typing import Any

from roost.errors import MaxRuntimeExceededError, escaped_task, user_error_from
from roost.runtime import loop_watch, values
from roost.runtime.engine.executors.contract import Attempt, AttemptReport, LiveAction
from roost.runtime.loop_watch import BlockingBody, Interrupted
from roost.runtime.task_api.action_report import flush_declared
from roost.runtime.task_api.calls import TaskCalls
from roost.runtime.task_api.code_context import enter_action
from roost.runtime.task_api.logs import LogSink, current_sink
from roost.runtime.task_api.task_context import current_action, current_custom, current_group
from roost.runtime.threads import SYNC_THREADS
from roost.store.store_config import action_scope
from roost.task import call_handler


async def _contained(body: Coroutine[Any, Any, Any], attempt: Attempt, started: float) -> Any:
    """A body awaited in an asyncio task of its own: a SystemExit or KeyboardInterrupt it raises would
    otherwise leave that task by stopping the runtime loop itself (asyncio re-raises them). Its frame
    tells the loop's watchdog which attempt runs, since when (``_blocking``)."""
    try:
        return await body
    except BaseException as e:
        if isinstance(e, Interrupted) or not escaped_task(e):
            raise
        raise user_error_from(e, "".join(traceback.format_exception(e))) from None


class InlineExecutor:
    name = "inline"

    def __init__(self) -> None:
        self._threads = SYNC_THREADS

    async def run(self, attempt: Attempt, report: AttemptReport) -> values.EncodedOutputs:
        action = attempt.source
        assert action is not None and attempt.values is not None, "an inline attempt carries its action and values"
        sink = LogSink(report.log, attempt.run_name, attempt.action_id, attempt.number)
        limit = attempt.spec.max_runtime
        try:
            if attempt.spec.is_async:
                result = await self._run_async(attempt, action, report.calls, sink, limit)
            else:
                result = await self._run_sync(attempt, action, report.calls, sink, limit)
        finally:
            sink.close()
        if attempt.spec.report:  # report=True: the page is written when the body succeeds
            await flush_declared(action)
        return values.encode_outputs(attempt.task, result)

    async def _run_async(
        self, attempt: Attempt, action: LiveAction, calls: TaskCalls, sink: LogSink, limit: float | None
    ) -> Any:
        task = attempt.task
        body = task.execute(**(attempt.values or {}))
        try:
            if limit is None:
                # Awaited in the caller's own asyncio task: cheaper than a new task, and the variables
                # are restored before the caller's code continues.
                tokens = (
                    current_action.set(action),
                    call_handler.set(calls),
                    current_sink.set(sink),
                    current_group.set(None),
                    current_custom.set(None),
                    action_scope.set(action.store_scope()),
                )
                try:
                    return await body
                finally:
                    action_scope.reset(tokens[5])
                    current_custom.reset(tokens[4])
                    current_group.reset(tokens[3])
                    current_sink.reset(tokens[2])
                    call_handler.reset(tokens[1])
                    current_action.reset(tokens[0])
            context = contextvars.copy_context()
            context.run(enter_action, action, calls, sink, action.store_scope())
            running = context.run(asyncio.ensure_future, _contained(body, attempt, time.monotonic()))
            try:
                return await asyncio.wait_for(running, limit)
            except asyncio.TimeoutError:
                raise MaxRuntimeExceededError(
                    f"{task.name} exceeded its max_runtime of {limit:g} s (attempt {attempt.number + 1}) "
                    "and was cancelled"
                ) from None
        except Interrupted:
            # The watchdog stopped a body that never awaited (loop_watch.py).
            if loop_watch.reason_for(body) == "timeout":
                raise MaxRuntimeExceededError(
                    f"{task.name} exceeded its max_runtime of {limit:g} s (attempt {attempt.number + 1}) "
                    "without ever awaiting, blocking the runtime loop; it was interrupted"
                ) from None
            raise asyncio.CancelledError() from None

    async def _run_sync(
        self, attempt: Attempt, action: LiveAction, calls: TaskCalls, sink: LogSink, limit: float | None
    ) -> Any:
        context = contextvars.copy_context()
        context.run(enter_action, action, calls, sink, action.store_scope())
        loop = asyncio.get_running_loop()
        future = self._threads.submit(loop, context, attempt.task.forward, **(attempt.values or {}))
        if limit is None:
            return await future
        try:
            return await asyncio.wait_for(future, limit)
        except asyncio.TimeoutError:
            raise MaxRuntimeExceededError(
                f"{attempt.task.name} exceeded its max_runtime of {limit:g} s (attempt {attempt.number + 1}). "
                "It is sync code running inline, which cannot be interrupted: its thread runs on until it "
                "returns and its result is discarded. Run it with isolation='process' to have it killed."
            ) from None


def _blocking(frame_locals: dict[str, Any]) -> BlockingBody | None:
    """What ``_run_async``'s frame says of the body it runs, for the loop's watchdog."""
    attempt, body, started = frame_locals.get("attempt"), frame_locals.get("body"), frame_locals.get("started")
    if attempt is None or body is None:
        return None
    limit = attempt.spec.max_runtime
    deadline = started + limit if started is not None and limit is not None else None
    return BlockingBody(body, f"action {attempt.action_id} ({attempt.task.name})", deadline)


# Their frames are on the loop thread's stack while a body runs: without a max_runtime in the action's
# own asyncio task (_run_async), with one in a task of its own (_contained).
loop_watch.mark_body_runner(InlineExecutor._run_async, _blocking)
loop_watch.mark_body_runner(_contained, _blocking)
