"""What the console shows of runs and actions: records of the store as small maps of display values.

The pages and their live updates read these maps (as JSON); nothing here writes. Inputs and outputs
are shown by ``value_views.py``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from roost.runtime.runs.run_liveness import controller_gone
from roost.runtime.runs.transitions import attempt_transitions
from roost.runtime.task_api.action_report import REPORT_FILE
from roost.runtime.task_api.checkpoint import saved_checkpoints
from roost.server.console.value_views import MAX_VALUE_CHARS, decoded_values
from roost.store.blobs import is_remote_uri, local_path_of, url_to_fs
from roost.store.records import ActionRecord, AttemptRecord, ConditionRecord, ErrorInfo, RunRecord

# The isolation of a condition's action: it runs nothing, it waits for an answer.
CONDITION = "condition"


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
        **action.summary(),
        "name": action.short_name or action.task_name,
        "error": action.error.message[:300] if action.error is not None else None,
        "segments": segments(action),
    }


def segments(action: ActionRecord) -> list[list[Any]] | None:
    """The timeline's pieces of an action whose record dates more than queued and running (waiting for
    resources, initializing, retries): ``[phase, start, end or None]``, attempt after attempt. None for
    the common action, which its own times draw."""
    if not action.transitions:
        return None
    return [
        [t.phase.value, t.start_time.timestamp(), t.end_time.timestamp() if t.end_time else None]
        for attempt in attempt_transitions(action, [])
        for t in attempt
    ]


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
        "checkpoints": checkpoints(run, action.action_id) if not is_condition else [],
        "environment": environment_view(action),
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


def report_path(run: RunRecord, action_id: str) -> str | None:
    """The report.html the action wrote (``flyte.report``), where the run's folder is on this machine."""
    folder = action_folder(run, action_id)
    if folder is None or is_remote_uri(folder):
        return None
    path = os.path.join(local_path_of(folder), REPORT_FILE)
    return path if os.path.isfile(path) else None


def action_folder(run: RunRecord, action_id: str) -> str | None:
    """The action's folder in the run's (``<run_base_dir>/<action id>``: its report, its checkpoints)."""
    base = run_options(run).get("run_base_dir")
    if not isinstance(base, str) or not base:
        return None
    if not action_id or "/" in action_id or "\\" in action_id or action_id.startswith("."):
        return None
    return f"{base.rstrip('/')}/{action_id}"


MAX_CHECKPOINT_FILES = 20


def checkpoints(run: RunRecord, action_id: str) -> list[dict[str, Any]]:
    """The checkpoints the action's attempts saved (``flyte.ctx().checkpoint``): per attempt, where it
    is, its files (the first ``MAX_CHECKPOINT_FILES``) and their size."""
    folder = action_folder(run, action_id)
    if folder is None:
        return []
    shown = []
    try:
        for attempt, where in saved_checkpoints(folder):
            fs, path = url_to_fs(where if is_remote_uri(where) else local_path_of(where))
            files = sorted((p, fs.size(p)) for p in fs.find(path) if not os.path.basename(p).startswith("."))
            prefix = path.rstrip("/") + "/"
            shown.append(
                {
                    "attempt": attempt,
                    "where": where,
                    "files": [{"name": p[len(prefix) :], "size": size} for p, size in files[:MAX_CHECKPOINT_FILES]],
                    "count": len(files),
                    "bytes": sum(size or 0 for _, size in files),
                }
            )
    except (OSError, ValueError):
        return shown  # the folder went away while read: what was read
    return shown


def environment_view(action: ActionRecord) -> dict[str, Any] | None:
    """What the action ran with, as recorded when it started (names only: see ``environment_record``);
    None for an action that has not started, a cache hit, or one recorded by an older roost."""
    if not action.environment:
        return None
    try:
        shown = json.loads(action.environment)
    except ValueError:
        return None
    return shown if isinstance(shown, dict) else None


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
