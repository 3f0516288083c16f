"""What the commands ask of the run store, and the one judgement they share: is a run's controller alive?"""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import Any

import click

from roost.errors import StoreError
from roost.runtime.runs.readers import RunReader
from roost.store import store_config, write_failures
from roost.store.open_stores import get_store
from roost.store.records import ActionRecord, RunRecord
from roost.store.run_store import RunStore

_readers: dict[Path, RunStore] = {}
# A roost server to read from instead of ROOST_HOME's store (`roost get ... --endpoint URL`).
_server: RunReader | None = None


def read_from_server(endpoint: str) -> None:
    """Make ``store()`` read through the API of the roost server at ``endpoint`` (its key:
    $ROOST_API_KEY)."""
    global _server
    from roost.runtime.runs.server_client import ServerClient

    try:
        _server = ServerClient(endpoint)
    except ValueError as e:
        raise click.UsageError(str(e)) from None


def endpoint_option(command: Any) -> Any:
    """``--endpoint URL`` on a reading command: read a roost server's runs through its API."""

    def use(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if not value:  # `roost -c FILE get ...` with an admin.endpoint reads that server, as `flyte -c` does
            from roost.runtime.runs import flyte_config

            explicit = flyte_config._explicit_path
            value = flyte_config.load(explicit).platform.endpoint if explicit is not None else None
        if value:
            read_from_server(value)

    return click.option(
        "--endpoint",
        metavar="URL",
        expose_value=False,
        callback=use,
        help="Read the runs of the roost server at URL (its API key: $ROOST_API_KEY) instead of ROOST_HOME's "
        "(default: the admin.endpoint of `roost -c FILE`).",
    )(command)


def store() -> RunStore:
    """The run store, for reading: opened read-only, so that a reading command works on a store the
    user may not write, and creates nothing where there is no store yet. With ``--endpoint``, the
    server's API, which answers the same reads."""
    if _server is not None:
        return _server  # type: ignore[return-value]
    path = store_config.current().home / "roost.db"
    reader = _readers.get(path)
    if reader is None:
        _settle_write_failures(path)
        reader = _readers[path] = RunStore(path, readonly=True)
    return reader


def _settle_write_failures(path: Path) -> None:
    """Runs stopped by a store that could not be written are recorded failed by the next command
    that finds it writable again (write_failures.py); a reading command too, where it may write."""
    if write_failures.pending(path.parent) and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        try:
            RunStore(path).close()  # opening it for writing settles them
        except StoreError:
            pass


@atexit.register
def _close_readers() -> None:
    # Before the runs' writable store closes (atexit runs this first): the last connection to close
    # is the one that folds the write-ahead log into the database and removes it, and only a
    # connection that may write can.
    for reader in _readers.values():
        reader.close()
    _readers.clear()


def writer() -> RunStore:
    """The run store, for the few commands that write to it (abort, cache clear)."""
    return get_store()


def require_run(name: str) -> RunRecord:
    run = store().get_run(name)
    if run is None:
        raise click.ClickException(f"no run named {name!r} in {store().path}")
    return run


def find_action(run_name: str, ref: str) -> ActionRecord:
    """An action by its id or by a unique prefix of it (the tree shows ids shortened)."""
    record = store().get_action(run_name, ref)
    if record is not None:
        return record
    matches = [a for a in store().list_actions(run_name) if a.action_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise click.ClickException(f"run {run_name!r} has no action {ref!r}")
    raise click.ClickException(f"{ref!r} matches {len(matches)} actions of run {run_name!r}; give more of the id")
