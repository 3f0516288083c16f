"""The run stores this process has opened: one per ROOST_HOME database, shared by everything in the
process that reads or writes runs (the runner, run and action handles, the CLI), closed at exit."""

from __future__ import annotations

import atexit
from pathlib import Path

from roost.errors import StoreError
from roost.store import store_config
from roost.store.run_store import RunStore

_stores: dict[Path, RunStore] = {}


def get_store() -> RunStore:
    """The run store of ROOST_HOME (the one ``init()`` configured, else ``$ROOST_HOME`` or
    ``~/.roost``), opened once per process."""
    path = store_config.current().home / "roost.db"
    store = _stores.get(path)
    if store is None:
        store = _stores[path] = RunStore(path)
    return store


def close_store(path: Path) -> None:
    """Close the store at ``path`` if this process opened it; the next ``get_store()`` opens it anew."""
    store = _stores.pop(path, None)
    if store is not None:
        store.close()


@atexit.register
def _close_stores() -> None:
    for store in list(_stores.values()):
        try:
            store.close()
        except StoreError:
            pass  # already reported where it happened; nothing more can be saved at exit
    _stores.clear()
