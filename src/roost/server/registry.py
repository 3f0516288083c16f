"""Deployed tasks: every task of a deployed environment, under a version (ROOST_HOME/server/registry.sqlite).

A version's content is fixed once registered: registering the same content again is a no-op (what
already exists is said so), different content under a version that exists is refused. Each row says
where the task's code is (code bundle, module) and its inputs (names, types, whether they have a
default) -- enough for a client without the code to call it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.server.table_files import open_table_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deployed_tasks (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    env_name TEXT NOT NULL,
    bundle TEXT,
    module TEXT NOT NULL,
    inputs TEXT NOT NULL,
    content TEXT NOT NULL,
    deployed_at REAL NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX IF NOT EXISTS deployed_tasks_newest ON deployed_tasks (name, deployed_at);
"""


class VersionConflict(ValueError):
    """A version that exists already, with other content."""


@dataclass(frozen=True)
class DeployedTask:
    name: str
    version: str
    env_name: str
    bundle: str | None
    module: str
    inputs: dict[str, Any]  # name -> {"type": text, "default": bool}
    content: str  # what makes two registrations of a version the same
    deployed_at: float

    def to_wire(self) -> dict[str, Any]:
        return dict(self.__dict__)


class TaskRegistry:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._conn = open_table_file(path, _SCHEMA, rows=True)

    def register(self, tasks: list[DeployedTask]) -> tuple[list[str], list[str]]:
        """Register ``tasks`` (one version) all at once: ``(registered, already there)`` by name, or
        ``VersionConflict`` -- and nothing written -- when the version holds other content."""
        registered, existing = [], []
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for task in tasks:
                    row = self._conn.execute(
                        "SELECT content FROM deployed_tasks WHERE name = ? AND version = ?", (task.name, task.version)
                    ).fetchone()
                    if row is not None:
                        if row["content"] != task.content:
                            raise VersionConflict(
                                f"version {task.version!r} of {task.name} is deployed already with other content: "
                                "deploy under a new version (or let roost compute one)"
                            )
                        existing.append(task.name)
                        continue
                    self._conn.execute(
                        "INSERT INTO deployed_tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            task.name,
                            task.version,
                            task.env_name,
                            task.bundle,
                            task.module,
                            json.dumps(task.inputs),
                            task.content,
                            task.deployed_at or time.time(),
                        ),
                    )
                    registered.append(task.name)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return registered, existing

    def get(self, name: str, version: str | None = None) -> DeployedTask | None:
        """``version`` of task ``name``, or its newest when ``version`` is None."""
        if version is None:
            sql, args = "SELECT * FROM deployed_tasks WHERE name = ? ORDER BY deployed_at DESC LIMIT 1", (name,)
        else:
            sql, args = "SELECT * FROM deployed_tasks WHERE name = ? AND version = ?", (name, version)
        with self._lock:
            row = self._conn.execute(sql, args).fetchone()
        return _task(row) if row is not None else None

    def list(self, name: str | None = None, limit: int = 1000) -> list[DeployedTask]:
        """Deployed tasks (every version of ``name`` if given), newest first."""
        where, args = ("WHERE name = ?", (name,)) if name else ("", ())
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM deployed_tasks {where} ORDER BY deployed_at DESC, name LIMIT ?", (*args, limit)
            ).fetchall()
        return [_task(r) for r in rows]

    def close(self) -> None:
        self._conn.close()


def _task(row: sqlite3.Row) -> DeployedTask:
    values = dict(row)
    values["inputs"] = json.loads(values["inputs"])
    return DeployedTask(**values)


def registry_path(home: Path) -> Path:
    return home / "server" / "registry.sqlite"
