"""What crosses from the controller to a worker process and back: tasks, contexts and errors."""

from __future__ import annotations

import sys
import weakref
from typing import Any

import cloudpickle

from roost._loading import load_module
from roost.core.compile import compile_task
from roost.errors import BaseRuntimeError, error_class_for, user_error_from
from roost.runtime.loader import find_task
from roost.task import AsyncFunctionTaskTemplate, TaskTemplate

_TASKS: dict[tuple[str, str], TaskTemplate[Any]] = {}


# Computed once per task object: every call of a task in a worker sends the same reference.
_REFS: weakref.WeakKeyDictionary[TaskTemplate[Any], dict[str, Any]] = weakref.WeakKeyDictionary()


def task_to_wire(task: TaskTemplate[Any]) -> dict[str, Any]:
    """A task as the worker finds it: by module and name when the module defines it under that
    name, otherwise (an override, a task built in a function) pickled."""
    ref = _REFS.get(task)
    if ref is None:
        ref = _REFS[task] = _task_ref(task)
    return ref


def _task_ref(task: TaskTemplate[Any]) -> dict[str, Any]:
    if isinstance(task, AsyncFunctionTaskTemplate):
        module = sys.modules.get(task.func.__module__)
        if module is not None and getattr(module, task.func.__name__, None) is task:
            return {"module": compile_task(task).module, "name": task.name}
    return {"pickle": cloudpickle.dumps(task)}


def task_from_wire(data: dict[str, Any]) -> TaskTemplate[Any]:
    if "pickle" in data:
        return cloudpickle.loads(data["pickle"])  # type: ignore[no-any-return]
    key = (data["module"], data["name"])
    task = _TASKS.get(key)
    if task is None:
        task = _TASKS[key] = find_task(load_module(data["module"]), data["name"])
    return task


def error_to_wire(e: BaseException) -> dict[str, Any]:
    """An error raised in a worker: what can be shown, and the exception itself when it pickles."""
    import traceback

    text = getattr(e, "traceback_text", None) or "".join(traceback.format_exception(e))
    code, kind = (e.code, e.kind) if isinstance(e, BaseRuntimeError) else (type(e).__name__, "user")
    try:
        pickled: bytes | None = cloudpickle.dumps(e)
    except Exception:
        pickled = None
    return {"code": code, "kind": kind, "message": str(e), "traceback": text, "pickle": pickled}


def exception_from_wire(data: dict[str, Any]) -> BaseException:
    """The error the caller sees: the original exception when it could travel, else one rebuilt
    from its code -- either way as ``user_error_from`` shapes it."""
    original: BaseException | None = None
    if data.get("pickle"):
        try:
            original = cloudpickle.loads(data["pickle"])
        except Exception:
            original = None
    if original is None:
        cls = error_class_for(data["code"], data["kind"])
        original = cls.__new__(cls)
        BaseRuntimeError.__init__(original, data["code"], data["kind"], data["message"])  # type: ignore[arg-type]
    err = user_error_from(original, data.get("traceback"))
    if getattr(err, "traceback_text", None) is None:
        err.traceback_text = data.get("traceback")  # type: ignore[attr-defined]
    return err
