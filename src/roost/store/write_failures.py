"""When the run store cannot be written (a full disk, above all): what to say, and how a run that
was going on is recorded as failed once the store can be written again.

The writer notes each affected run in ``ROOST_HOME/store-failures/<run>`` (a folder made when the
store is opened, so that a note is an empty file and needs no free block, only an inode). A run
whose note remains -- its process ended before the store could take the failure -- is recorded as
failed by the next process that opens the store for writing, or by the next reading command.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
import time
from pathlib import Path

FOLDER = "store-failures"
CODE = "StoreWriteFailed"
_SQLITE_FULL = 13
_TERMINAL = ("succeeded", "failed", "aborted", "timed_out", "recovered")


def describe(e: BaseException, path: Path) -> str:
    """One line: what failed and why, naming ENOSPC and the path where the disk is full."""
    full = getattr(e, "sqlite_errorcode", None) == _SQLITE_FULL or "disk is full" in str(e)
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        full = True
    if full:
        return f"writing the run store {path} failed: no space left on device (ENOSPC) (the disk of {path.parent})"
    return f"writing the run store {path} failed: {e}"


def folder(home: Path) -> Path:
    return home / FOLDER


def prepare(home: Path) -> None:
    try:
        folder(home).mkdir(exist_ok=True)
    except OSError:
        pass


def note(home: Path, run_names: list[str], reason: str) -> None:
    """Remember, as well as the disk allows, that these runs failed because the store could not be written."""
    for name in run_names:
        path = folder(home) / name
        try:
            path.touch()
            path.write_text(reason)
        except OSError:
            pass  # an empty note still marks the run


def pending(home: Path) -> list[str]:
    try:
        return [p.name for p in folder(home).iterdir()]
    except OSError:
        return []


def settle(conn: sqlite3.Connection, home: Path, live: set[str]) -> list[str]:
    """Record as failed the noted runs that are still unfinished and not ``live`` here (their process
    is gone); forget notes of runs that finished. The names recorded failed."""
    settled: list[str] = []
    for name in pending(home):
        if name in live:
            continue
        note_path = folder(home) / name
        try:
            reason = note_path.read_text().strip()
        except OSError:
            reason = ""
        row = conn.execute("SELECT phase, pid, host FROM runs WHERE name = ?", (name,)).fetchone()
        if row is not None and row[0] not in _TERMINAL:
            if row[2] == socket.gethostname() and row[1] == os.getpid():
                continue  # this process's own run, still going
            message = reason or "the run store could not be written (no space left on device?)"
            conn.execute(
                "UPDATE runs SET phase = 'failed', error_code = ?, error_kind = 'system', error_message = ?, "
                "ended_at = ? WHERE name = ?",
                (CODE, message, time.time(), name),
            )
            settled.append(name)
        try:
            note_path.unlink()
        except OSError:
            pass
    return settled
