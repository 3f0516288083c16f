"""What crosses from the controller to a worker process and back: tasks, contexts and errors."""

from __future__ import annotations

import copy
import sys
import weakref
from types import ModuleType
from typing import Any

import cloudpickle

from roost._loading import load_module
from roost.core.compile import compile_task
from roost.errors import BaseRuntimeError, error_class_for, user_error_from
from roost.runtime import masking
from roost.runtime.loader import find_task, tasks_in
from roost.runtime.messages import TaskRef, WireError
from roost.task import AsyncFunctionTaskTemplate, TaskTemplate

_TASKS: dict[tuple[str, str], TaskTemplate[Any]] = {}


# Computed once per task object: every call of a task in a worker sends the same reference.
_REFS: weakref.WeakKeyDictionary[TaskTemplate[Any], TaskRef] = weakref.WeakKeyDictionary()


def task_to_wire(task: TaskTemplate[Any]) -> TaskRef:
    """A task as the worker finds it: by module and name when the module defines it under that
    name, otherwise (an override, a task built in a function) pickled."""
    ref = _REFS.get(task)
    if ref is None:
        ref = _REFS[task] = _task_ref(task)
    return ref


def _task_ref(task: TaskTemplate[Any]) -> TaskRef:
    if isinstance(task, AsyncFunctionTaskTemplate):
        module = sys.modules.get(task.func.__module__)
        if module is not None and getattr(module, task.func.__name__, None) is task:
            return TaskRef(module=compile_task(task).module, name=task.name)
    return TaskRef(pickle=cloudpickle.dumps(task))


def task_from_wire(ref: TaskRef) -> TaskTemplate[Any]:
    if ref.pickle is not None:
        return cloudpickle.loads(ref.pickle)  # type: ignore[no-any-return]
    assert ref.module is not None and ref.name is not None
    key = (ref.module, ref.name)
    task = _TASKS.get(key)
    if task is None:
        task = _TASKS[key] = find_task(load_module(ref.module), ref.name)
    return task


def remember_tasks(location: str, module: ModuleType) -> None:
    """The tasks of a module a worker template preloads, found once, there: every worker forked from
    it then finds its task with a dict lookup. Walking the module in each worker instead would copy
    the page of every object the module holds (the fork shares them until they are written)."""
    for name, task in tasks_in(module).items():
        _TASKS.setdefault((location, name), task)


def error_to_wire(e: BaseException) -> WireError:
    """An error raised in a worker: what can be shown, and the exception itself when it pickles."""
    import traceback

    text = getattr(e, "traceback_text", None) or "".join(traceback.format_exception(e))
    code, kind = (e.code, e.kind) if isinstance(e, BaseRuntimeError) else (type(e).__name__, "user")
    try:
        pickled: bytes | None = cloudpickle.dumps(e)
    except Exception:
        pickled = None
    if masking.active():
        text, message = masking.mask(text), masking.mask(str(e))
        if pickled is not None and masking.contains_secret(pickled):
            pickled = _masked_pickle(e)
        return WireError(code, kind, message, text, pickled)
    return WireError(code, kind, str(e), text, pickled)


def _masked_pickle(e: BaseException) -> bytes | None:
    """The exception pickled with the secrets in its arguments and attributes masked; None (the
    receiver rebuilds it from its code and masked message) when a value would still travel."""
    try:
        clone = copy.copy(e)
        clone.args = tuple(masking.mask(a) if isinstance(a, str) else a for a in e.args)
        for name, value in list(vars(clone).items()):
            if isinstance(value, str):
                setattr(clone, name, masking.mask(value))
        pickled = cloudpickle.dumps(clone)
    except Exception:
        return None
    return None if masking.contains_secret(pickled) else pickled


def exception_from_wire(data: WireError) -> BaseException:
    """The error the caller sees: the original exception when it could travel, else one rebuilt
    from its code -- either way as ``user_error_from`` shapes it."""
    original: BaseException | None = None
    if data.pickle:
        try:
            original = cloudpickle.loads(data.pickle)
        except Exception:
            original = None
    if original is None:
        cls = error_class_for(data.code, data.kind_name)
        original = cls.__new__(cls)
        BaseRuntimeError.__init__(original, data.code, data.kind_name, data.message)  # type: ignore[arg-type]
    err = user_error_from(original, data.traceback)
    if getattr(err, "traceback_text", None) is None:
        err.traceback_text = data.traceback  # type: ignore[attr-defined]
    return err
