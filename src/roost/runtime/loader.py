"""Finding a task again from where it was defined: a module name or a script's file path."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from roost.task import TaskTemplate


def load_module(location: str) -> ModuleType:
    """Import a module by dotted name, or load a ``.py`` file as a module.

    A script is loaded under a name of its own (not ``__main__``), so its
    ``if __name__ == "__main__":`` block does not run; its folder goes on ``sys.path`` first, as
    when Python runs the script.
    """
    if location.endswith(".py") or "/" in location or "\\" in location:
        path = Path(location).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {location}")
        for module in list(sys.modules.values()):
            # Already imported (the running script itself, as __main__, included): use it as it is.
            if getattr(module, "__file__", None) and Path(module.__file__).resolve() == path:  # type: ignore[arg-type]
                return module
        name = f"roost_script_{path.stem}"
        directory = str(path.parent)
        if directory not in sys.path:
            sys.path.insert(0, directory)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {location} as a Python module")
        module = importlib.util.module_from_spec(spec)
        # Recorded runs must point at the file, since no other process can import this name.
        module.__roost_script__ = str(path)  # type: ignore[attr-defined]
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module
    return importlib.import_module(location)


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
