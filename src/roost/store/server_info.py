"""Which roost server runs for a ROOST_HOME: the file a running server writes (server/server.json: its
pid, address and URL) and removes when it stops. Read by clients on this machine -- ``roost run``
printing a run's console page, a local run's ``Run.url`` -- as well as ``roost server status | stop``."""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    host: str
    port: int
    url: str
    started_at: float
    home: str


def info_path(home: Path) -> Path:
    return home / "server" / "server.json"


def read_info(home: Path) -> ServerInfo | None:
    """The server recorded as running in ``home``, if its process is alive."""
    try:
        info = ServerInfo(**json.loads(info_path(home).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return info


def run_page_url(home: Path, run_name: str) -> str | None:
    """The run's page in the console of the server running for ``home``, if one runs."""
    info = read_info(home)
    return f"{info.url}/runs/{urllib.parse.quote(run_name)}" if info is not None else None
