"""The Flyte runs of a server kept past its life: what the Flyte protocol answers about a run (its specs,
where its data is, its errors as the runtime wrote them) beyond what roost's run store holds, so that
``flyte.remote.Run.get`` and ``Run.listall`` read a run the server ran before a restart."""

from __future__ import annotations

import json
from typing import Any

from flyteidl2.core import execution_pb2
from flyteidl2.task import task_definition_pb2

from roost.server.flyte_api.flyte_tables import SqliteTable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS flyte_runs (
    name TEXT PRIMARY KEY, org TEXT NOT NULL, project TEXT NOT NULL, domain TEXT NOT NULL,
    created_at REAL NOT NULL, start_time REAL, run_spec BLOB, base TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS flyte_runs_by_time ON flyte_runs (created_at);
CREATE TABLE IF NOT EXISTS flyte_actions (
    run TEXT NOT NULL, name TEXT NOT NULL, parent TEXT, spec BLOB NOT NULL, input_uri TEXT NOT NULL,
    output_base TEXT NOT NULL, grp TEXT, seq INTEGER NOT NULL, call_name TEXT, kind TEXT NOT NULL,
    phase INTEGER NOT NULL,
    queued_at REAL, started_at REAL, ended_at REAL, error BLOB, output_uri TEXT, abort_reason TEXT,
    attempts TEXT NOT NULL,
    PRIMARY KEY (run, name)
);
"""


def _error_bytes(error: execution_pb2.ExecutionError | None) -> bytes | None:
    return error.SerializeToString() if error is not None else None


def _error(data: bytes | None) -> execution_pb2.ExecutionError | None:
    if data is None:
        return None
    error = execution_pb2.ExecutionError()
    error.ParseFromString(data)
    return error


class FlyteRunTable(SqliteTable):
    SCHEMA = _SCHEMA

    def put_run(self, run: Any) -> None:
        spec = run.run_spec.SerializeToString() if run.run_spec is not None else None
        with self._locked() as db:
            db.execute(
                "INSERT OR REPLACE INTO flyte_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run.name, run.org, run.project, run.domain, run.created_at, run.start_time, spec, run.base),
            )

    def put_action(self, a: Any, with_spec: bool) -> None:
        """The action as it is now; its spec is written once (``with_spec``), when it is created."""
        attempts = json.dumps(
            [[i.attempt, i.phase, i.started_at, i.ended_at, (_error_bytes(i.error) or b"").hex()] for i in a.attempts]
        )
        state = (a.phase, a.queued_at, a.started_at, a.ended_at, _error_bytes(a.error), a.output_uri, a.abort_reason)
        with self._locked() as db:
            if with_spec:
                db.execute(
                    f"INSERT OR REPLACE INTO flyte_actions VALUES ({', '.join('?' * 18)})",
                    (a.run.name, a.name, a.parent, a.spec.SerializeToString(), a.input_uri, a.output_base, a.group,
                     a.seq, a.call_name, a.kind, *state, attempts),
                )  # fmt: skip
            else:
                db.execute(
                    "UPDATE flyte_actions SET phase=?, queued_at=?, started_at=?, ended_at=?, error=?, output_uri=?, "
                    "abort_reason=?, attempts=? WHERE run=? AND name=?",
                    (*state, attempts, a.run.name, a.name),
                )

    def run_row(self, name: str) -> tuple[Any, ...] | None:
        with self._locked() as db:
            return db.execute("SELECT * FROM flyte_runs WHERE name=?", (name,)).fetchone()  # type: ignore[no-any-return]

    def action_rows(self, run: str) -> list[tuple[Any, ...]]:
        with self._locked() as db:
            return db.execute("SELECT * FROM flyte_actions WHERE run=? ORDER BY seq", (run,)).fetchall()

    def run_names(self, project: str | None, domain: str | None) -> list[str]:
        """The runs, newest first, of a project and domain (all of them where not given)."""
        sql, args = "SELECT name FROM flyte_runs", []
        where = []
        if project:
            where.append("project=?")
            args.append(project)
        if domain:
            where.append("domain=?")
            args.append(domain)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._locked() as db:
            return [r[0] for r in db.execute(sql + " ORDER BY created_at DESC", args).fetchall()]


def spec_of(data: bytes) -> task_definition_pb2.TaskSpec:
    spec = task_definition_pb2.TaskSpec()
    spec.ParseFromString(data)
    return spec


def error_of(data: bytes | None) -> execution_pb2.ExecutionError | None:
    return _error(data)


def attempts_of(text: str) -> list[tuple[int, int, float, float | None, execution_pb2.ExecutionError | None]]:
    return [
        (n, phase, start, end, _error(bytes.fromhex(err)) if err else None)
        for n, phase, start, end, err in json.loads(text)
    ]
