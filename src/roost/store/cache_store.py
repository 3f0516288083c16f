"""CacheStore: task results by cache key, and the reservations that serialize their computation.

Both tables live in the run store's SQLite file, so a cache is shared by every process that uses
the same ROOST_HOME. Entries are written through the run store's group-commit writer (a result
costs the controller a dict insert); ``RunStore.pending_cache_entry`` answers for an entry that is
not committed yet, so a call right after the one that stored it already hits.

Reservations are the opposite: each change is committed at once, because they exist to be seen by
other processes. A reservation is taken with INSERT-or-nothing, so exactly one of several racing
processes gets it; the holder publishes its result and drops its reservation in one transaction,
so whoever sees the reservation gone also sees the result (or, after a failure, sees neither and
computes it itself).

This module holds no policy: when to look up, what counts as stale and how long to wait are the
runtime's decisions (``roost.runtime.engine.policies.cache``).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from roost.store.records import CacheEntry, CacheReservation
from roost.store.run_tables import CACHE_ENTRY_COLUMNS, CACHE_UPSERT, cache_entry_from, cache_entry_row

if TYPE_CHECKING:
    from roost.store.run_store import RunStore

_LOOKUP = "SELECT outputs, created_at FROM cache_entries WHERE key = ?"
_RESERVE = (
    "INSERT INTO cache_reservations (key, holder, host, pid, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(key) DO NOTHING"
)
_RELEASE = "DELETE FROM cache_reservations WHERE key = ? AND holder = ?"


def _task_clause(task: str | None) -> tuple[str, tuple[Any, ...]]:
    """A task by its full name (``env.fn``) or its short name (``fn``), as a user remembers it."""
    if task is None:
        return "", ()
    return " WHERE task_name = ? OR task_name LIKE ? ESCAPE '\\'", (task, "%." + _escape_like(task))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class CacheStore:
    """The cache tables of ``runs``'s file, read and written on the calling thread's connection."""

    def __init__(self, runs: RunStore):
        self.runs = runs

    # -- entries ----------------------------------------------------------------------------------
    def get(self, key: str) -> tuple[bytes, float] | None:
        """``(outputs, created_at)`` of the entry for ``key``: one primary-key read (the hot path)."""
        pending = self.runs.pending_cache_entry(key)
        if pending is not None:
            return pending.outputs, pending.created_at
        try:
            row = self.runs.connection().execute(_LOOKUP, (key,)).fetchone()
        except sqlite3.Error:
            with self.runs.errors():
                raise
        return None if row is None else (row[0], row[1])

    def put(self, entry: CacheEntry) -> None:
        """Store ``entry`` with the next group commit (replacing any older entry for its key)."""
        self.runs.put_cache_entry(entry)

    def entries(self, task: str | None = None, limit: int | None = None) -> list[CacheEntry]:
        """The entries (of ``task``), newest first (the ``limit`` newest)."""
        clause, args = _task_clause(task)
        sql = f"SELECT {CACHE_ENTRY_COLUMNS} FROM cache_entries{clause} ORDER BY created_at DESC"
        if limit is not None:
            sql, args = f"{sql} LIMIT ?", (*args, limit)
        with self.runs.errors():
            return [cache_entry_from(r) for r in self.runs.connection().execute(sql, args).fetchall()]

    def forget(self, key: str) -> bool:
        """Remove the entry of ``key``; whether there was one."""
        self.runs.flush()
        with self.runs.errors():
            return self.runs.connection().execute("DELETE FROM cache_entries WHERE key = ?", (key,)).rowcount > 0

    def clear(self, task: str | None = None) -> int:
        """Remove every entry (of ``task``); the number removed."""
        self.runs.flush()  # entries still waiting for the writer would otherwise survive the clear
        clause, args = _task_clause(task)
        with self.runs.errors():
            return self.runs.connection().execute(f"DELETE FROM cache_entries{clause}", args).rowcount

    # -- reservations (each statement commits at once) --------------------------------------------
    def reserve(self, key: str, holder: str, host: str, pid: int, now: float) -> bool:
        """Take the reservation of ``key``; False when someone else holds it."""
        with self.runs.errors():
            cursor = self.runs.connection().execute(_RESERVE, (key, holder, host, pid, now, now))
            return cursor.rowcount == 1

    def take_over(self, key: str, stale_holder: str, holder: str, host: str, pid: int, now: float) -> bool:
        """Replace ``stale_holder``'s reservation with ours; False if another waiter was faster."""
        conn = self.runs.connection()
        with self.runs.errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(_RELEASE, (key, stale_holder))
                taken = conn.execute(_RESERVE, (key, holder, host, pid, now, now)).rowcount == 1
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return taken

    def reservation(self, key: str) -> CacheReservation | None:
        sql = "SELECT key, holder, host, pid, acquired_at, heartbeat_at FROM cache_reservations WHERE key = ?"
        with self.runs.errors():
            row = self.runs.connection().execute(sql, (key,)).fetchone()
        return None if row is None else CacheReservation(*row)

    def heartbeat(self, held: list[tuple[str, str]], now: float) -> set[tuple[str, str]]:
        """Refresh the reservations ``(key, holder)`` in one transaction; those no longer held (taken
        over by another process) are returned."""
        sql = "UPDATE cache_reservations SET heartbeat_at = ? WHERE key = ? AND holder = ?"
        conn = self.runs.connection()
        lost = set()
        with self.runs.errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                for key, holder in held:
                    if conn.execute(sql, (now, key, holder)).rowcount != 1:
                        lost.add((key, holder))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return lost

    def release(self, key: str, holder: str) -> None:
        with self.runs.errors():
            self.runs.connection().execute(_RELEASE, (key, holder))

    def publish(self, entry: CacheEntry, holder: str) -> None:
        """Store ``entry`` and drop ``holder``'s reservation in one transaction: a waiter that finds
        the reservation gone finds the result."""
        conn = self.runs.connection()
        with self.runs.errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(CACHE_UPSERT, cache_entry_row(entry))
                conn.execute(_RELEASE, (entry.key, holder))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise


def summary(entry: CacheEntry) -> dict[str, Any]:
    """What an entry is -- never its value: for listings."""
    return {
        "key": entry.key,
        "task": entry.task_name,
        "version": entry.version,
        "created_at": entry.created_at,
        "run_name": entry.run_name,
        "action_id": entry.action_id,
        "size": len(entry.outputs),
    }
