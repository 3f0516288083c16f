"""The context an action's code runs in, wherever it runs (inline in the controller, in a worker
process, in Ray): its action (``ctx()``), the handler its task calls go to, the sink of its output,
and its path in the run's store."""

from __future__ import annotations

from roost.runtime.task_api.calls import TaskCalls
from roost.runtime.task_api.logs import LogSink, current_sink
from roost.runtime.task_api.task_context import ContextSource, current_action, current_custom, current_group
from roost.store.store_config import StoreConfig, action_scope
from roost.task import call_handler


def enter_action(action: ContextSource, calls: TaskCalls, sink: LogSink, scope: tuple[StoreConfig, str]) -> None:
    """Set the action's context in the current context (call it inside a copied context)."""
    current_action.set(action)
    call_handler.set(calls)
    current_sink.set(sink)
    action_scope.set(scope)
    # A child does not see its parent's group, and reads its custom context from its own action.
    current_group.set(None)
    current_custom.set(None)
