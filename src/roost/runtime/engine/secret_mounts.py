"""The controller's side of secrets: granting resolved values to an action, and the per-action folders
of mounted secrets on the host (``ROOST_HOME/secret-mounts``).

A worker puts mounted secrets in a private tmpfs that nothing else sees and that vanishes with it
(worker/setup.py). Only where the kernel allows no private mount does it write them to the
action's folder here, ``secret-mounts/<pid>@<host>/<run>-<action>-<attempt>``: removed when the
action ends, all of this process's folders at its exit, and -- after a ``kill -9`` left them --
by the next roost process on the same host, which removes the folders of every pid no longer alive.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from roost.runtime.messages import SecretGrant
from roost.store.secret_store import SecretStore

HOST = socket.gethostname()
_homes: set[Path] = set()
_swept: set[Path] = set()


def owner_dir(home: Path, pid: int | None = None) -> Path:
    return home / "secret-mounts" / f"{os.getpid() if pid is None else pid}@{HOST}"


def mount_dir(home: Path, run_name: str, action_id: str, attempt: int) -> Path:
    """The folder for an attempt's mounted secrets where no private mount can be made."""
    if home not in _homes:
        _homes.add(home)
        atexit.register(shutil.rmtree, owner_dir(home), ignore_errors=True)
    return owner_dir(home) / f"{run_name}-{action_id}-{attempt}"


def grants(secrets: Iterable[Any], home: Path, folder: Path) -> list[SecretGrant]:
    """The resolved values of an action's secrets, as its worker receives them."""
    store = SecretStore(home=home)
    return [
        SecretGrant(s.key, s.as_env_var, s.mount is not None, store.resolve(s), str(folder), s.group) for s in secrets
    ]


def release(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def sweep_stale(home: Path) -> list[Path]:
    """Remove the secret folders that processes of this host left behind when they died; what was removed."""
    root = home / "secret-mounts"
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    if not entries:
        return removed
    from roost.runtime.engine.reservations import pid_alive  # here: most runs find nothing to sweep

    for entry in entries:
        pid_text, _, host = entry.name.partition("@")
        if host and (host != HOST or not pid_text.isdigit() or pid_alive(int(pid_text))):
            continue
        # No "@": a folder of the layout before owners were named; no live process can use it.
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def sweep_stale_once(home: Path) -> None:
    """``sweep_stale``, the first time this process runs something in ``home``."""
    if home not in _swept:
        _swept.add(home)
        sweep_stale(home)
