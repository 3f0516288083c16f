"""Finding a task again from where it was defined: a module name or a script's file path."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from roost._loading import load_module, module_location
from roost.task import TaskTemplate

__all__ = ["find_task", "load_module", "module_location", "tasks_in"]


def tasks_in(module: ModuleType) -> dict[str, TaskTemplate[Any]]:
    """The tasks a module defines, by their short function name and by their full name."""
    found: dict[str, TaskTemplate[Any]] = {}
    for attr, value in vars(module).items():
        if isinstance(value, TaskTemplate):
            found.setdefault(attr, value)
            found.setdefault(value.name, value)
    return found


def find_task(module: ModuleType, name: str) -> TaskTemplate[Any]:
    tasks = tasks_in(module)
    if name in tasks:
        return tasks[name]
    known = sorted({t.name for t in tasks.values()})
    where = getattr(module, "__file__", module.__name__)
    raise LookupError(f"no task {name!r} in {where}; tasks there: {', '.join(known) or 'none'}")
