"""The apps a server runs, by name (table ``apps`` of ROOST_HOME/server/registry.sqlite): what each was
registered with and whether it is active, so that a restarted server serves them again."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from roost.server.table_files import open_table_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    active INTEGER NOT NULL,
    registered_at REAL NOT NULL,
    last_request REAL
);
"""


@dataclass(frozen=True)
class AppSpec:
    """What an app was registered with (``POST /api/v1/apps``, checked by ``app_routes.check_app``)."""

    name: str
    bundle: str | None
    module: str
    parameters: dict[str, str] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)
    replicas: tuple[int, int] = (0, 1)
    metric: dict[str, Any] | None = None  # {"kind": "concurrency" | "request_rate", "value": n}
    scaledown_after: float | None = None
    requires_auth: bool = True
    request_timeout: float | None = None
    health_check_path: str = "/health"
    activate_timeout: float = 60.0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> AppSpec:
        values = json.loads(text)
        values["replicas"] = tuple(values["replicas"])
        return cls(**values)


@dataclass
class AppRow:
    spec: AppSpec
    active: bool
    registered_at: float
    last_request: float | None


class AppTable:
    def __init__(self, path: Path):
        self._lock = threading.Lock()
        self._conn = open_table_file(path, _SCHEMA)

    def put(self, spec: AppSpec) -> AppRow:
        """Register ``spec`` (replacing an app of the same name), active."""
        now = time.time()
        with self._lock:
            self._conn.execute(
                "INSERT INTO apps VALUES (?, ?, 1, ?, NULL) ON CONFLICT (name) DO UPDATE SET "
                "spec = excluded.spec, active = 1, registered_at = excluded.registered_at",
                (spec.name, spec.to_json(), now),
            )
        return AppRow(spec, True, now, None)

    def set_active(self, name: str, active: bool) -> None:
        with self._lock:
            self._conn.execute("UPDATE apps SET active = ? WHERE name = ?", (int(active), name))

    def set_last_request(self, name: str, at: float) -> None:
        with self._lock:
            self._conn.execute("UPDATE apps SET last_request = ? WHERE name = ?", (at, name))

    def list(self) -> list[AppRow]:
        with self._lock:
            rows = self._conn.execute("SELECT spec, active, registered_at, last_request FROM apps ORDER BY name")
            return [AppRow(AppSpec.from_json(s), bool(a), r, last) for s, a, r, last in rows.fetchall()]

    def close(self) -> None:
        self._conn.close()
