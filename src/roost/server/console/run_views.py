"""What the console shows of runs and actions: records of the store as small maps of display values.

The pages and their live updates read these maps (as JSON); nothing here writes. Inputs and outputs
are decoded without the task's code, as plain values -- and never unpickled: a pickled value is shown
by its type name, so reading a run cannot run code that the run's data brings with it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
from typing import Any

from roost.runtime.runs.run_liveness import controller_gone
from roost.runtime.task_api.action_report import REPORT_FILE
from roost.store.blobs import is_remote_uri, local_path_of
from roost.store.records import ActionRecord, AttemptRecord, ConditionRecord, ErrorInfo, RunRecord
from roost.types import task_io
from roost.types.literals import Literal

# The isolation of a condition's action: it runs nothing, it waits for an answer.
CONDITION = "condition"
# A value's text is cut here: a page shows a preview, `roost get io` the whole value.
MAX_VALUE_CHARS = 20_000


def run_options(run: RunRecord) -> dict[str, Any]:
    try:
        options = json.loads(run.options or "{}")
    except ValueError:
        return {}
    return options if isinstance(options, dict) else {}


def run_row(run: RunRecord) -> dict[str, Any]:
    """A run as the runs list and the run page's header show it."""
    options = run_options(run)
    gone = controller_gone(run)
    return {
        "name": run.name,
        "task": run.task_name,
        "phase": run.phase.value,
        "controller_gone": gone,
        "terminal": run.phase.is_terminal or gone,
        "mode": run.mode,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "version": options.get("version") if isinstance(options.get("version"), str) else None,
        "trigger": options.get("trigger") if isinstance(options.get("trigger"), str) else None,
        "recovered_from": run.recovered_from,
        "started_by": options.get("started_by") if isinstance(options.get("started_by"), str) else None,
        "abort_requested": run.abort_requested,
        "isolation": options.get("isolation") if isinstance(options.get("isolation"), str) else None,
        # Names only: the values of a run's variables never leave the process that ran it.
        "env_var_names": [n for n in options.get("env_var_names") or [] if isinstance(n, str)],
        "error": error_map(run.error),
    }


def error_map(error: ErrorInfo | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "kind": error.kind, "message": error.message, "traceback": error.traceback}


def action_node(action: ActionRecord) -> dict[str, Any]:
    """An action as a node of the tree and a bar of the timeline (no inputs, outputs or traceback)."""
    return {
        "id": action.action_id,
        "parent": action.parent_id,
        "task": action.task_name,
        "name": action.short_name or action.task_name,
        "group": action.group_name,
        "phase": action.phase.value,
        "attempts": action.attempts,
        "queued_at": action.queued_at,
        "started_at": action.started_at,
        "ended_at": action.ended_at,
        "cache_hit": action.cache_hit,
        "isolation": action.isolation,
        "isolation_reason": action.isolation_reason,
        "node": action.node,
        "error": action.error.message[:300] if action.error is not None else None,
    }


def action_detail(
    run: RunRecord,
    action: ActionRecord,
    attempts: list[AttemptRecord],
    abort_reason: str | None,
    condition: ConditionRecord | None = None,
) -> dict[str, Any]:
    """Everything the console shows of one selected action (of a condition: what it asks, and its answer)."""
    is_condition = action.isolation == CONDITION
    return {
        **action_node(action),
        # A condition's inputs are its spec, webhook included: shown as the condition below, never raw.
        "inputs": decoded_values(action.inputs, "inputs") if not is_condition else [],
        "outputs": decoded_values(action.outputs, "outputs") if action.outputs else [],
        "error": error_map(action.error),
        "attempt_list": [
            {
                "attempt": a.attempt,
                "phase": a.phase.value,
                "started_at": a.started_at,
                "ended_at": a.ended_at,
                "error": error_map(a.error),
            }
            for a in attempts
        ],
        "has_report": report_path(run, action.action_id) is not None,
        "abort_reason": abort_reason,
        "condition": condition_view(condition) if is_condition and condition is not None else None,
    }


def condition_view(condition: ConditionRecord) -> dict[str, Any]:
    """A condition as its page shows it: what it asks and how it was answered. Its webhook (an address
    and a payload that may carry a token) is not shown."""
    try:
        value = json.loads(condition.value) if condition.value is not None else None
    except ValueError:
        value = condition.value
    return {
        "name": condition.name,
        "prompt": condition.prompt[:MAX_VALUE_CHARS],
        "prompt_type": condition.prompt_type,
        "data_type": condition.data_type,
        "description": condition.description[:MAX_VALUE_CHARS],
        "state": condition.state,
        "value": value,
        "reason": condition.reason,
        "signalled_by": condition.signalled_by,
        "signalled_at": condition.signalled_at,
        "timeout_at": condition.timeout_at,
    }


def decoded_values(data: bytes | None, what: str) -> list[dict[str, str]]:
    """Named values as ``{"name", "type", "text"}``: scalars as text, the rest as indented JSON."""
    if not data:
        return []
    try:
        literals = task_io.unpack(data)
        values = task_io.literals_to_native({name: inert(lit) for name, lit in literals.items()})
    except Exception as e:  # a store written by another roost, or damaged: say so instead of failing
        return [{"name": f"({what})", "type": "unreadable", "text": f"cannot be decoded here: {type(e).__name__}"}]
    return [{"name": name, "type": _type_name(value), "text": _text(value)} for name, value in values.items()]


def inert(lit: Literal) -> Literal:
    """``lit`` with each pickled member replaced by its type's name (the server never unpickles)."""
    kind, value = lit.kind, lit.value
    if kind == "pickle":
        return Literal("str", f"<pickled {lit.meta or 'value'}>")
    if kind in ("list", "tuple") and isinstance(value, (list, tuple)):
        return dataclasses.replace(lit, value=type(value)(inert(v) for v in value))
    if kind in ("map", "record") and isinstance(value, dict):
        return dataclasses.replace(lit, value={k: inert(v) for k, v in value.items()})
    if kind == "pairs" and isinstance(value, (list, tuple)):
        return dataclasses.replace(lit, value=[(inert(k), inert(v)) for k, v in value])
    if kind in ("union", "enum") and isinstance(value, Literal):
        return dataclasses.replace(lit, value=inert(value))
    return lit


def _type_name(value: Any) -> str:
    name = type(value).__name__
    return {"NoneType": "None"}.get(name, name)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    for field in ("path", "uri"):  # File, Dir, DataFrame: where the data lives
        where = getattr(value, field, None)
        if isinstance(where, str):
            return {type(value).__name__: where}
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return repr(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int, float)) or value is None:
        text = repr(value)
    else:
        shown = _jsonable(value)
        text = shown if isinstance(shown, str) else json.dumps(shown, indent=2, ensure_ascii=False)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + f"\n... ({len(text) - MAX_VALUE_CHARS} more characters)"
    return text


def report_path(run: RunRecord, action_id: str) -> str | None:
    """The report.html the action wrote (``flyte.report``), where the run's folder is on this machine."""
    base = run_options(run).get("run_base_dir")
    if not isinstance(base, str) or not base or is_remote_uri(base):
        return None
    if not action_id or "/" in action_id or action_id.startswith("."):
        return None
    path = os.path.join(local_path_of(base), action_id, REPORT_FILE)
    return path if os.path.isfile(path) else None


def encode_cursor(run: RunRecord) -> str:
    """Where the next page of runs starts: after this run (run names have no '~')."""
    return f"{run.created_at!r}~{run.name}"


def decode_cursor(text: str) -> tuple[float, str] | None:
    """A cursor made by ``encode_cursor``, or None for text that is not one."""
    created, sep, name = text.partition("~")
    try:
        value = float(created)
    except ValueError:
        return None
    return (value, name) if sep and name and math.isfinite(value) else None
