"""Deployed triggers: each task's triggers, the version they run, whether they are active, and the last
time they fired (ROOST_HOME/server/registry.sqlite, beside the deployed tasks).

A trigger is named within its task (``(task, name)``, as Flyte names them). Deploying it again points
it at the version just deployed; ``auto_activate`` activates it (an inactive one stays inactive
otherwise, as a user left it). Activating starts its schedule afresh: nothing it would have fired while
inactive fires later. A trigger that a later deploy no longer declares stays until it is deleted.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgpack

from roost.server.schedules import is_schedule, next_time
from roost.server.table_files import open_table_file
from roost.store.run_tables import where_clause

_SCHEMA = """
CREATE TABLE IF NOT EXISTS triggers (
    task TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    spec BLOB NOT NULL,
    content TEXT NOT NULL,
    active INTEGER NOT NULL,
    activated_at REAL,
    last_fired REAL,
    last_error TEXT,
    deployed_at REAL NOT NULL,
    PRIMARY KEY (task, name)
);
"""


@dataclass(frozen=True)
class DeployedTrigger:
    """One trigger as the server keeps it. ``spec`` is its wire form (see ``api.check_trigger``):
    automation, description, auto_activate, inputs (msgpack of the fixed input values), time_input
    (the input bound to the firing time), options (the run settings of the runs it starts)."""

    task: str
    name: str
    version: str
    spec: dict[str, Any]
    active: bool
    activated_at: float | None
    last_fired: float | None
    deployed_at: float
    last_error: str | None = None
    content: str = field(default="", repr=False)

    @property
    def automation(self) -> dict[str, Any]:
        """The automation, a FixedRate without start time anchored on its activation."""
        automation = dict(self.spec["automation"])
        if automation.get("kind") == "fixed_rate":
            # Whole seconds: firing times name runs.
            automation["anchor"] = math.ceil(self.activated_at or self.deployed_at)
        return automation

    def inputs(self) -> dict[str, Any]:
        """The fixed input values of the runs it starts."""
        data = self.spec.get("inputs")
        return msgpack.unpackb(data, raw=False, timestamp=3) if data else {}  # type: ignore[no-any-return]

    @property
    def since(self) -> float:
        """Times after this one are this trigger's to fire."""
        return max(self.last_fired or -math.inf, self.activated_at or -math.inf)

    def next_fire(self) -> float | None:
        if not self.active or not is_schedule(self.automation):
            return None
        return next_time(self.automation, self.since)

    def to_wire(self) -> dict[str, Any]:
        spec = {k: v for k, v in self.spec.items() if k != "inputs"}
        spec["inputs"] = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.inputs().items()}
        return {
            "task": self.task,
            "name": self.name,
            "version": self.version,
            "active": self.active,
            "activated_at": self.activated_at,
            "last_fired": self.last_fired,
            "next_fire": self.next_fire(),
            "deployed_at": self.deployed_at,
            "last_error": self.last_error,
            **spec,
        }


def content_of(spec: dict[str, Any]) -> str:
    return hashlib.sha256(msgpack.packb(spec, use_bin_type=True)).hexdigest()


class TriggerTable:
    def __init__(self, path: Path):
        self._lock = threading.Lock()
        self._conn = open_table_file(path, _SCHEMA, rows=True)

    def register(self, triggers: list[tuple[str, str, str, dict[str, Any]]], now: float) -> list[str]:
        """Register ``(task, name, version, spec)`` all at once; the ``task/name`` of those new or changed."""
        changed = []
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for task, name, version, spec in triggers:
                    content = content_of(spec)
                    row = self._conn.execute(
                        "SELECT * FROM triggers WHERE task = ? AND name = ?", (task, name)
                    ).fetchone()
                    active = bool(spec.get("auto_activate"))
                    if row is None:
                        self._conn.execute(
                            "INSERT INTO triggers VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)",
                            (task, name, version, _pack(spec), content, active, now if active else None, now),
                        )
                        changed.append(f"{task}/{name}")
                        continue
                    if row["content"] == content and row["version"] == version:
                        continue
                    old = _unpack(row["spec"])
                    was_active = bool(row["active"])
                    activated_at = row["activated_at"]
                    if (active and not was_active) or (was_active and old["automation"] != spec["automation"]):
                        activated_at = now  # a new schedule starts now
                    self._conn.execute(
                        "UPDATE triggers SET version = ?, spec = ?, content = ?, active = ?, activated_at = ?, "
                        "deployed_at = ? WHERE task = ? AND name = ?",
                        (version, _pack(spec), content, was_active or active, activated_at, now, task, name),
                    )
                    changed.append(f"{task}/{name}")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return changed

    def get(self, task: str, name: str) -> DeployedTrigger | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM triggers WHERE task = ? AND name = ?", (task, name)).fetchone()
        return _trigger(row) if row is not None else None

    def list(
        self, task: str | None = None, name: str | None = None, active_only: bool = False
    ) -> list[DeployedTrigger]:
        where, args = where_clause((("task", task), ("name", name)), *(["active = 1"] if active_only else []))
        with self._lock:
            rows = self._conn.execute(f"SELECT * FROM triggers {where} ORDER BY task, name", args).fetchall()
        return [_trigger(r) for r in rows]

    def set_active(self, task: str, name: str, active: bool, now: float) -> bool:
        """Activate or deactivate; False when there is no such trigger. Activating an inactive trigger
        starts its schedule at ``now``; activating an active one changes nothing."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE triggers SET active = ?, activated_at = CASE WHEN ? AND active = 0 THEN ? "
                "ELSE activated_at END WHERE task = ? AND name = ?",
                (active, active, now, task, name),
            )
        return cursor.rowcount > 0

    def fired(self, task: str, name: str, at: float, error: str | None) -> None:
        """It fired for the scheduled time ``at`` (``error``: the run could not start)."""
        with self._lock:
            self._conn.execute(
                "UPDATE triggers SET last_fired = MAX(COALESCE(last_fired, ?), ?), last_error = ? "
                "WHERE task = ? AND name = ?",
                (at, at, error, task, name),
            )

    def delete(self, task: str, name: str) -> bool:
        with self._lock:
            cursor = self._conn.execute("DELETE FROM triggers WHERE task = ? AND name = ?", (task, name))
        return cursor.rowcount > 0

    def close(self) -> None:
        self._conn.close()


def _pack(spec: dict[str, Any]) -> bytes:
    return msgpack.packb(spec, use_bin_type=True)  # type: ignore[no-any-return]


def _unpack(data: bytes) -> dict[str, Any]:
    return msgpack.unpackb(data, raw=False)  # type: ignore[no-any-return]


def _trigger(row: sqlite3.Row) -> DeployedTrigger:
    return DeployedTrigger(
        task=row["task"],
        name=row["name"],
        version=row["version"],
        spec=_unpack(row["spec"]),
        active=bool(row["active"]),
        activated_at=row["activated_at"],
        last_fired=row["last_fired"],
        deployed_at=row["deployed_at"],
        last_error=row["last_error"],
        content=row["content"],
    )
