"""Loading user code by module name or by a script's path, in any process (controller or worker)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

# Scripts loaded (or found already loaded) by their resolved path.
_BY_PATH: dict[Path, ModuleType] = {}


def load_module(location: str) -> ModuleType:
    """Import a module by dotted name, or load a ``.py`` file as a module.

    A script is loaded under a name of its own (not ``__main__``), so its
    ``if __name__ == "__main__":`` block does not run; its folder goes on ``sys.path`` first, as
    when Python runs the script.
    """
    if location.endswith(".py") or "/" in location or "\\" in location:
        path = Path(location).resolve()
        known = _BY_PATH.get(path)
        if known is not None:
            return known
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {location}")
        for module in list(sys.modules.values()):
            # Already imported (the running script itself, as __main__, included): use it as it is.
            # Names are compared first: resolving every module's path would cost milliseconds.
            file = getattr(module, "__file__", None)
            if file and os.path.basename(file) == path.name and Path(file).resolve() == path:
                _BY_PATH[path] = module
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
        _BY_PATH[path] = module
        return module
    return importlib.import_module(location)


def module_location(module_name: str) -> str:
    """How another process finds this module again: its dotted name, or -- for a script run as
    ``__main__`` or loaded from its path -- the script's file path."""
    module = sys.modules.get(module_name)
    if module_name == "__main__" or getattr(module, "__roost_script__", None):
        path = getattr(module, "__file__", None)
        if path:
            return str(path)
    return module_name
