"""Running an action's code away from the controller (a worker process, a Ray worker) with the
context it expects: its action, the call handler its task calls go to, its log sink, its store scope."""

from __future__ import annotations

import contextvars
from typing import Any, Protocol

from roost.runtime.task_api.action_report import flush_declared
from roost.runtime.task_api.calls import TaskCalls
from roost.runtime.task_api.code_context import enter_action
from roost.runtime.task_api.logs import LogSink
from roost.runtime.task_api.task_context import TaskContext
from roost.runtime.threads import SYNC_THREADS
from roost.store.store_config import StoreConfig
from roost.task import TaskTemplate


class RemoteAction(Protocol):
    """An action as the code running it sees it (``ctx()``, the ids of its calls, its store path)."""

    id: str
    scope: tuple[StoreConfig, str]

    def task_context(self) -> TaskContext: ...


async def run_code(
    handler: TaskCalls, task: TaskTemplate[Any], action: RemoteAction, inputs: dict[str, Any], sink: LogSink
) -> Any:
    """Await the task's body. The caller runs this in an asyncio task of its own (one per action), so
    the variables set for an async body stay private to it; a sync body runs on a thread."""
    if getattr(task, "is_async", True):
        enter_action(action, handler, sink, action.scope)
        result = await task.execute(**inputs)
    else:
        context = contextvars.copy_context()
        context.run(enter_action, action, handler, sink, action.scope)
        assert handler.loop is not None
        result = await SYNC_THREADS.submit(handler.loop, context, task.forward, **inputs)
    if task.report:  # report=True: the page is written when the body succeeds
        await flush_declared(action)
    return result
