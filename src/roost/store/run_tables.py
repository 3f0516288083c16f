"""The run store's tables: their SQL schema, the statements that write them, and records <-> rows.

One place owns the SQLite file's schema: the runs, actions, attempts and logs that ``RunStore``
(``run_store.py``) writes, and the task result cache's entries and reservations, which share the
file and that ``CacheStore`` (``cache_store.py``) reads and reserves.
"""

from __future__ import annotations

import sqlite3
import zlib
from typing import Any

from roost.store.records import ActionPhase, ActionRecord, AttemptRecord, CacheEntry, ErrorInfo, LogRecord, RunRecord

# Python's sqlite3 (3.11 and older) adapts every parameter that is not exactly an int, float or str:
# with no adapter registered for its type it asks the protocol type for ``__adapt__``, which raises
# -- and formats -- an AttributeError internally each time. None and bytes are most of an action's
# row, so that lookup was a quarter of the writer's work. Registered, the lookup finds an adapter
# that returns the value unchanged (C callables: no Python frame), and what is stored is the same.
# The registry is the process's: an adapter the program registered itself is left as it is.
for _type, _same in ((type(None), {}.get), (bytes, bytes)):
    if (_type, sqlite3.PrepareProtocol) not in sqlite3.adapters:
        sqlite3.register_adapter(_type, _same)
del _type, _same

# 2 added actions.transitions and the action_aborts table; 3 actions.environment. An older store gains
# what it lacks when opened.
SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY, task_name TEXT NOT NULL, phase TEXT NOT NULL, mode TEXT NOT NULL,
    created_at REAL NOT NULL, started_at REAL, ended_at REAL, inputs BLOB, outputs BLOB,
    error_code TEXT, error_kind TEXT, error_message TEXT, error_traceback TEXT,
    pid INTEGER, host TEXT, heartbeat_at REAL, task_module TEXT, task_function TEXT,
    recovered_from TEXT, abort_requested INTEGER NOT NULL DEFAULT 0, options TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at);
CREATE TABLE IF NOT EXISTS actions (
    run_name TEXT NOT NULL, action_id TEXT NOT NULL, parent_id TEXT, task_name TEXT NOT NULL,
    short_name TEXT, group_name TEXT, seq INTEGER NOT NULL, phase TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, queued_at REAL, started_at REAL, ended_at REAL,
    inputs BLOB, outputs BLOB, inputs_hash TEXT,
    error_code TEXT, error_kind TEXT, error_message TEXT, error_traceback TEXT,
    cache_hit INTEGER NOT NULL DEFAULT 0, isolation TEXT, isolation_reason TEXT, node TEXT, transitions TEXT,
    environment TEXT,
    PRIMARY KEY (run_name, action_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attempts (
    run_name TEXT NOT NULL, action_id TEXT NOT NULL, attempt INTEGER NOT NULL, phase TEXT NOT NULL,
    started_at REAL, ended_at REAL, error_code TEXT, error_kind TEXT, error_message TEXT, error_traceback TEXT,
    PRIMARY KEY (run_name, action_id, attempt)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS action_aborts (
    run_name TEXT NOT NULL, action_id TEXT NOT NULL, reason TEXT NOT NULL, requested_at REAL NOT NULL,
    PRIMARY KEY (run_name, action_id)
) WITHOUT ROWID;
-- Conditions actions wait on (human in the loop): answered here by whoever can reach the store.
CREATE TABLE IF NOT EXISTS conditions (
    run_name TEXT NOT NULL, action_id TEXT NOT NULL, parent_id TEXT NOT NULL, name TEXT NOT NULL,
    prompt TEXT NOT NULL, prompt_type TEXT NOT NULL, data_type TEXT NOT NULL, description TEXT NOT NULL,
    created_at REAL NOT NULL, timeout_at REAL, webhook TEXT, state TEXT NOT NULL, value TEXT, reason TEXT,
    signalled_by TEXT, signalled_at REAL,
    PRIMARY KEY (run_name, action_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conditions_pending ON conditions (state, created_at);
CREATE TABLE IF NOT EXISTS logs (
    run_name TEXT NOT NULL, action_id TEXT NOT NULL, attempt INTEGER NOT NULL,
    ts REAL NOT NULL, stream TEXT NOT NULL, line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_action ON logs (run_name, action_id);
-- The task result cache. A rowid table (not WITHOUT ROWID): outputs can be large, and WITHOUT ROWID
-- tables store whole rows in the primary-key b-tree, which suits only small rows.
CREATE TABLE IF NOT EXISTS cache_entries (
    key TEXT PRIMARY KEY, task_name TEXT NOT NULL, version TEXT NOT NULL, outputs BLOB NOT NULL,
    created_at REAL NOT NULL, run_name TEXT, action_id TEXT
);
CREATE INDEX IF NOT EXISTS cache_entries_by_task ON cache_entries (task_name);
CREATE TABLE IF NOT EXISTS cache_reservations (
    key TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    acquired_at REAL NOT NULL, heartbeat_at REAL NOT NULL
) WITHOUT ROWID;
"""

RUN_COLUMNS = (
    "name, task_name, phase, mode, created_at, started_at, ended_at, inputs, outputs, error_code, error_kind, "
    "error_message, error_traceback, pid, host, heartbeat_at, task_module, task_function, recovered_from, "
    "abort_requested, options"
)
ACTION_COLUMNS = (
    "run_name, action_id, parent_id, task_name, short_name, group_name, seq, phase, attempts, queued_at, "
    "started_at, ended_at, inputs, outputs, inputs_hash, error_code, error_kind, error_message, error_traceback, "
    "cache_hit, isolation, isolation_reason, node, transitions, environment"
)
# Columns added after the first schema: (table, column, declaration), added to an older store on open.
ADDED_COLUMNS = (("actions", "transitions", "TEXT"), ("actions", "environment", "TEXT"))
ATTEMPT_COLUMNS = (
    "run_name, action_id, attempt, phase, started_at, ended_at, error_code, error_kind, error_message, error_traceback"
)
# Runs are upserted without touching abort_requested, which another process (`roost abort`) may set.
_RUN_UPDATED = [c.strip() for c in RUN_COLUMNS.split(",") if c.strip() not in ("name", "abort_requested")]
RUN_UPSERT = (
    f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * 21)}) ON CONFLICT(name) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RUN_UPDATED)
)
ACTION_UPSERT = f"INSERT OR REPLACE INTO actions ({ACTION_COLUMNS}) VALUES ({', '.join('?' * 25)})"
# Claiming a name: a plain INSERT, which the primary key makes fail when the name is taken.
RUN_INSERT = f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * 21)})"
ATTEMPT_UPSERT = f"INSERT OR REPLACE INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({', '.join('?' * 10)})"
LOG_INSERT = "INSERT INTO logs (run_name, action_id, attempt, ts, stream, line) VALUES (?, ?, ?, ?, ?, ?)"
CACHE_ENTRY_COLUMNS = "key, task_name, version, outputs, created_at, run_name, action_id"
CACHE_UPSERT = f"INSERT OR REPLACE INTO cache_entries ({CACHE_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"

# Captured output is stored line by line while it is little; lines that arrive in a burst (a task
# printing megabytes) are stored as zlib-compressed chunks of lines instead -- one row per chunk, its
# ``line`` a BLOB -- which cuts both the bytes and the per-row overhead. A reader tells the two apart by
# the value's type, so rows written before chunks existed read as they always did.
LOG_CHUNK_MIN = 1024  # bytes of text below which lines stay rows of their own
LOG_CHUNK_MAX = 1 << 20  # bytes of text in one chunk: what a reader holds at once per row


def log_rows(logs: list[LogRecord]) -> list[tuple[Any, ...]]:
    """The rows of a batch of log lines: runs of consecutive lines of one action's stream become
    compressed chunks (consecutive only, so the order across actions is kept)."""
    rows: list[tuple[Any, ...]] = []
    group: list[LogRecord] = []
    size = 0
    for g in logs:
        if group and not (size + len(g.line) <= LOG_CHUNK_MAX and _same_stream(group[0], g)):
            _add_group(rows, group, size)
            group, size = [], 0
        if "\n" in g.line:
            # A chunk is split on line breaks when read: a line holding one keeps a row of its own.
            if group:
                _add_group(rows, group, size)
                group, size = [], 0
            rows.append(_row(g))
            continue
        group.append(g)
        size += len(g.line) + 1
    if group:
        _add_group(rows, group, size)
    return rows


def _row(g: LogRecord) -> tuple[Any, ...]:
    return (g.run_name, g.action_id, g.attempt, g.ts, g.stream, g.line)


def _same_stream(a: LogRecord, b: LogRecord) -> bool:
    return a.action_id == b.action_id and a.stream == b.stream and a.attempt == b.attempt and a.run_name == b.run_name


def _add_group(rows: list[tuple[Any, ...]], group: list[LogRecord], size: int) -> None:
    if size < LOG_CHUNK_MIN:
        rows.extend(_row(g) for g in group)
        return
    first = group[0]
    text = "\n".join(g.line for g in group).encode("utf-8", "surrogatepass")
    rows.append((first.run_name, first.action_id, first.attempt, first.ts, first.stream, zlib.compress(text, 1)))


def logs_from(rows: list[sqlite3.Row]) -> list[LogRecord]:
    """Log lines from their rows: a chunk gives back its lines, each with the chunk's time."""
    lines: list[LogRecord] = []
    for r in rows:
        value = r["line"]
        if isinstance(value, bytes):
            texts = zlib.decompress(value).decode("utf-8", "surrogatepass").split("\n")
            lines.extend(LogRecord(r["run_name"], r["action_id"], r["attempt"], r["ts"], r["stream"], t) for t in texts)
        else:
            lines.append(LogRecord(r["run_name"], r["action_id"], r["attempt"], r["ts"], r["stream"], value))
    return lines


def where_clause(equal: tuple[tuple[str, Any], ...], *conditions: str) -> tuple[str, list[Any]]:
    """A WHERE clause (empty when nothing filters) and its arguments: each column of ``equal`` equal to
    its value, where the value is not None, and the SQL ``conditions``. Columns are the caller's names."""
    clauses, args = [], []
    for column, value in equal:
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    clauses.extend(conditions)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), args


def _err(e: ErrorInfo | None) -> tuple[Any, Any, Any, Any]:
    return (None, None, None, None) if e is None else (e.code, e.kind, e.message, e.traceback)


def run_row(r: RunRecord) -> tuple[Any, ...]:
    return (
        r.name, r.task_name, r.phase.value, r.mode, r.created_at, r.started_at, r.ended_at, r.inputs, r.outputs,
        *_err(r.error), r.pid, r.host, r.heartbeat_at, r.task_module, r.task_function, r.recovered_from,
        int(r.abort_requested), r.options,
    )  # fmt: skip


def action_row(a: ActionRecord) -> tuple[Any, ...]:
    return (
        a.run_name, a.action_id, a.parent_id, a.task_name, a.short_name, a.group_name, a.seq, a.phase.value,
        a.attempts, a.queued_at, a.started_at, a.ended_at, a.inputs, a.outputs, a.inputs_hash, *_err(a.error),
        int(a.cache_hit), a.isolation, a.isolation_reason, a.node, a.transitions, a.environment,
    )  # fmt: skip


def attempt_row(a: AttemptRecord) -> tuple[Any, ...]:
    return (a.run_name, a.action_id, a.attempt, a.phase.value, a.started_at, a.ended_at, *_err(a.error))


def _error_from(row: sqlite3.Row, prefix: str = "error_") -> ErrorInfo | None:
    if row[prefix + "code"] is None:
        return None
    return ErrorInfo(row[prefix + "code"], row[prefix + "kind"], row[prefix + "message"], row[prefix + "traceback"])


def run_from(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        name=row["name"], task_name=row["task_name"], phase=ActionPhase(row["phase"]), mode=row["mode"],
        created_at=row["created_at"], started_at=row["started_at"], ended_at=row["ended_at"], inputs=row["inputs"],
        outputs=row["outputs"], error=_error_from(row), pid=row["pid"], host=row["host"],
        heartbeat_at=row["heartbeat_at"], task_module=row["task_module"], task_function=row["task_function"],
        recovered_from=row["recovered_from"], abort_requested=bool(row["abort_requested"]), options=row["options"],
    )  # fmt: skip


def action_from(row: sqlite3.Row) -> ActionRecord:
    return ActionRecord(
        run_name=row["run_name"], action_id=row["action_id"], parent_id=row["parent_id"], task_name=row["task_name"],
        short_name=row["short_name"], group_name=row["group_name"], seq=row["seq"], phase=ActionPhase(row["phase"]),
        attempts=row["attempts"], queued_at=row["queued_at"], started_at=row["started_at"], ended_at=row["ended_at"],
        inputs=row["inputs"], outputs=row["outputs"], inputs_hash=row["inputs_hash"], error=_error_from(row),
        cache_hit=bool(row["cache_hit"]), isolation=row["isolation"], isolation_reason=row["isolation_reason"],
        node=row["node"], transitions=row["transitions"], environment=row["environment"],
    )  # fmt: skip


def attempt_from(row: sqlite3.Row) -> AttemptRecord:
    return AttemptRecord(
        run_name=row["run_name"], action_id=row["action_id"], attempt=row["attempt"], phase=ActionPhase(row["phase"]),
        started_at=row["started_at"], ended_at=row["ended_at"], error=_error_from(row),
    )  # fmt: skip


def cache_entry_row(e: CacheEntry) -> tuple[Any, ...]:
    return (e.key, e.task_name, e.version, e.outputs, e.created_at, e.run_name, e.action_id)


def cache_entry_from(row: sqlite3.Row) -> CacheEntry:
    return CacheEntry(
        key=row["key"], task_name=row["task_name"], version=row["version"], outputs=row["outputs"],
        created_at=row["created_at"], run_name=row["run_name"], action_id=row["action_id"],
    )  # fmt: skip
