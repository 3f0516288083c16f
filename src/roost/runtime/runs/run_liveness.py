"""Whether a run recorded as unfinished still has a process driving it."""

from __future__ import annotations

import socket
import time

from roost.runtime.engine.reservations import pid_alive
from roost.store.records import RunRecord

# The controller refreshes its heartbeat every quarter second; a minute of silence means it is gone
# even where its pid cannot be checked (another host) or was reused by an unrelated process.
HEARTBEAT_STALE_S = 60.0


def controller_gone(run: RunRecord) -> bool:
    """True for a run recorded as unfinished whose controlling process no longer exists: it will never
    finish on its own (``roost rerun NAME --recover`` resumes it; a server resumes its own runs)."""
    if run.phase.is_terminal:
        return False
    if run.pid is not None and run.host == socket.gethostname() and not pid_alive(run.pid):
        return True
    return run.heartbeat_at is not None and time.time() - run.heartbeat_at > HEARTBEAT_STALE_S
