"""RunStore: runs, actions, attempts and logs in one SQLite file, written with group commit.

The controller is the only writer. It mutates its live records and calls ``mark(record)``; a writer
thread wakes at most every ``commit_interval`` seconds and writes the *current* state of every
record marked since its last commit, in one transaction. Several transitions of one action between
two commits therefore cost one row write, and recording an action costs the controller a dict
insert. ``flush()`` waits until everything marked before it is on disk. Readers (the CLI, run
handles) use their own connections; WAL mode lets them read while the writer writes. The task
result cache shares the file (``cache_store.py``): its entries go through the same writer. The
tables (the cache's too), their statements and the conversion between records and rows are in
``run_tables.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from roost.errors import StoreError
from roost.store import write_failures
from roost.store.records import ActionRecord, AttemptRecord, CacheEntry, ConditionRecord, LogRecord, RunRecord
from roost.store.run_tables import (
    ACTION_COLUMNS,
    ACTION_UPSERT,
    ADDED_COLUMNS,
    ATTEMPT_COLUMNS,
    ATTEMPT_UPSERT,
    CACHE_UPSERT,
    LOG_INSERT,
    RUN_COLUMNS,
    RUN_INSERT,
    RUN_UPSERT,
    SCHEMA,
    SCHEMA_VERSION,
    action_from,
    action_row,
    attempt_from,
    attempt_row,
    cache_entry_row,
    log_rows,
    logs_from,
    run_from,
    run_row,
    where_clause,
)
from roost.store.store_config import default_home


class RunNameTaken(ValueError):
    """``claim_run`` found the name already recorded (by another run, possibly of another process)."""

    def __init__(self, name: str):
        super().__init__(f"a run named {name!r} already exists; choose another name")
        self.name = name


class RunStore:
    """The run store at ``path`` (created on first use)."""

    def __init__(
        self, path: Path | str, *, commit_interval: float = 0.005, readonly: bool = False, busy_timeout: float = 10.0
    ):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.commit_interval = commit_interval
        self.readonly = readonly
        self._local = threading.local()
        self._lock = threading.Lock()
        self._dirty: dict[int, Any] = {}
        self._logs: list[LogRecord] = []
        self._wake = threading.Event()
        self._committed = threading.Condition(self._lock)
        self._swapped_epoch = 0
        self._committed_epoch = 0
        self._urgent = False
        self._closed = False
        self._failure: BaseException | None = None
        self._writer: threading.Thread | None = None
        self._watched: dict[str, Callable[[], None]] = {}
        # Runs told when a commit fails (the disk is full...): they stop and fail.
        self._failure_watchers: dict[str, Callable[[str], None]] = {}
        # Runs whose controller hears requests to abort one action, and the requests it has heard.
        self._action_watchers: dict[str, Callable[[str, str], None]] = {}
        self._heard_action_aborts: set[tuple[str, str]] = set()
        # Cache entries handed to the writer and not committed yet, by key (see pending_cache_entry).
        self._pending_cache: dict[str, CacheEntry] = {}
        if not readonly:
            with self._translate_errors():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._retry_busy(self._create_schema)
                write_failures.prepare(self.path.parent)
                self.settle_write_failures()

    def settle_write_failures(self) -> list[str]:
        """Record as failed the runs that stopped because this store could not be written, now that
        it can (see write_failures.py); the names recorded."""
        if self.readonly or not write_failures.pending(self.path.parent):
            return []
        with self._lock:
            live = set(self._watched)
        try:
            with self._translate_errors():
                return write_failures.settle(self._reader(), self.path.parent, live)
        except StoreError:
            return []  # still not writable: the notes stay for the next try

    def _create_schema(self) -> None:
        conn = self._connect()
        try:
            # One write transaction taken up front: creating tables from a read snapshot could need an
            # upgrade that SQLite refuses at once (no busy wait) when another process just committed.
            conn.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for table, column, declaration in ADDED_COLUMNS:
                present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
                if column not in present:  # a store written by an older roost: its rows get NULL
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _retry_busy(self, operation: Callable[[], None]) -> None:
        """Run ``operation``, trying again while another process holds the database, up to the busy
        timeout (two processes opening a new store at once race for the switch to WAL mode)."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.01
        while True:
            try:
                operation()
                return
            except sqlite3.OperationalError as e:
                text = str(e)
                if ("locked" not in text and "busy" not in text) or time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    # -- connections ------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.readonly and not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)):
            # Reading a store this user may not write (or on a read-only disk). Where it may, a
            # plain connection is used: it waits for a busy writer instead of failing.
            return self._connect_readonly()
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crash of the process (what resume needs) at a fraction of
        # FULL's cost; only a power loss can take the last commits.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        conn.row_factory = sqlite3.Row
        return conn

    def _connect_readonly(self) -> sqlite3.Connection:
        """A connection that never writes: reading needs no write access to the store or its folder.

        A WAL database is read through its shared-memory index, which a read-only connection can
        open but not create. Where it cannot be created (a folder the user may not write, a read-only
        disk) no writer can be at work either; with no write-ahead log left, the database file holds
        everything and is read as it is (``immutable``).
        """
        uri = self.path.absolute().as_uri()
        for query in ("mode=ro", "mode=ro&immutable=1"):
            conn = sqlite3.connect(
                f"{uri}?{query}", uri=True, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError as e:
                conn.close()
                if "immutable" in query or ("readonly" not in str(e) and "unable to open" not in str(e)):
                    raise
                wal = self.path.with_name(self.path.name + "-wal")
                if wal.exists() and wal.stat().st_size > 0:
                    # Read without it, the newest records would be missing, silently.
                    raise sqlite3.OperationalError(
                        f"it cannot be read without write access while its write-ahead log {wal} holds changes; "
                        "any roost command run once by a user who may write it folds them in"
                    ) from None
                continue
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            conn.row_factory = sqlite3.Row
            return conn
        raise AssertionError("unreachable")  # pragma: no cover

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's own connection (autocommit): for the cache store's reads and immediate writes."""
        return self._reader()

    def errors(self) -> AbstractContextManager[None]:
        """Turns sqlite errors raised inside it into StoreErrors that say what is wrong with the store."""
        return self._translate_errors()

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """sqlite internals never reach the user: a corrupt or locked store is a StoreError saying so."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            text = str(e)
            if "disk is full" in text:
                raise StoreError(write_failures.describe(e, self.path)) from None
            if "locked" in text or "busy" in text:
                raise StoreError(
                    f"The run store {self.path} is locked by another process ({text}); roost waited up to "
                    f"{self.busy_timeout:g} s for it"
                ) from None
            if "not a database" in text or "malformed" in text or "corrupt" in text:
                raise StoreError(
                    f"The run store {self.path} is corrupt ({text}). Move it away (or set ROOST_HOME to another "
                    "folder) to start with an empty store."
                ) from None
            raise StoreError(f"The run store {self.path} could not be used: {text}") from None
        except OSError as e:
            raise StoreError(f"The run store {self.path} could not be opened: {e}") from None

    # -- writing ----------------------------------------------------------------------------------
    def mark(self, record: RunRecord | ActionRecord | AttemptRecord) -> None:
        """Schedule a write of ``record``'s state as it will be at the next commit."""
        with self._lock:
            self._dirty[id(record)] = record
        if not self._wake.is_set():
            self._wake.set()
        if self._writer is None:
            self._start_writer()

    def put_cache_entry(self, entry: CacheEntry) -> None:
        """Schedule ``entry`` for the next commit; until then ``pending_cache_entry`` returns it."""
        with self._lock:
            self._dirty[id(entry)] = entry
            self._pending_cache[entry.key] = entry
        if not self._wake.is_set():
            self._wake.set()
        if self._writer is None:
            self._start_writer()

    def pending_cache_entry(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` that this process stored and the writer has not committed yet.

        Without it, a call made within one commit interval of an identical call that just stored its
        result would miss. A plain dict read: the writer removes an entry only after committing it.
        """
        return self._pending_cache.get(key)

    def log(self, record: LogRecord) -> None:
        with self._lock:
            self._logs.append(record)
        if not self._wake.is_set():
            self._wake.set()
        if self._writer is None:
            self._start_writer()

    def flush(self, timeout: float = 30.0) -> None:
        """Block until everything marked before this call is committed; raise the writer's failure."""
        if self._writer is None:
            self._raise_failure()
            return
        with self._lock:
            target = self._swapped_epoch + 1
            self._urgent = True
            self._wake.set()
            deadline = time.monotonic() + timeout
            while self._committed_epoch < target and self._failure is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreError(f"The run store {self.path} did not commit within {timeout:g} s")
                self._committed.wait(remaining)
        self._raise_failure()

    def watch_run(
        self, run_name: str, on_abort: Callable[[], None], on_write_failure: Callable[[str], None] | None = None
    ) -> None:
        """While a run is active, keep its heartbeat fresh and call ``on_abort`` if an abort is requested,
        ``on_write_failure(reason)`` (from the writer's thread) if a commit fails."""
        with self._lock:
            self._watched[run_name] = on_abort
            if on_write_failure is not None:
                self._failure_watchers[run_name] = on_write_failure
        if self._writer is None:
            self._start_writer()

    def unwatch_run(self, run_name: str) -> None:
        with self._lock:
            self._watched.pop(run_name, None)
            self._action_watchers.pop(run_name, None)
            self._failure_watchers.pop(run_name, None)

    def watch_action_aborts(self, run_name: str, on_abort_action: Callable[[str, str], None]) -> None:
        """While ``run_name`` is watched, call ``on_abort_action(action_id, reason)`` once for each action
        whose abort is requested (``request_action_abort``, from this or another process)."""
        with self._lock:
            self._action_watchers[run_name] = on_abort_action

    def close(self) -> None:
        if self._writer is not None:
            self.flush()
            self._closed = True
            self._wake.set()
            self._writer.join(timeout=10)
            self._writer = None
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _raise_failure(self) -> None:
        failure = self._failure
        if failure is not None:
            raise StoreError(write_failures.describe(failure, self.path)) from None

    def _start_writer(self) -> None:
        with self._lock:
            if self._writer is not None or self.readonly:
                return
            self._writer = threading.Thread(target=self._write_loop, name="roost-store-writer", daemon=True)
            self._writer.start()

    def _write_loop(self) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error as e:
            self._fail(e)
            return
        last_commit = 0.0
        last_watch = 0.0
        while True:
            self._wake.wait(timeout=0.2)
            now = time.monotonic()
            if not self._urgent and not self._closed:
                # Group commit: gather what arrives during the rest of the window into this transaction.
                wait = last_commit + self.commit_interval - now
                if wait > 0:
                    time.sleep(wait)
            with self._lock:
                self._wake.clear()
                self._urgent = False
                batch, self._dirty = self._dirty, {}
                logs, self._logs = self._logs, []
                self._swapped_epoch += 1
                epoch = self._swapped_epoch
                watched = dict(self._watched) if now - last_watch > 0.25 else {}
                action_watchers = dict(self._action_watchers) if watched else {}
            try:
                if batch or logs or watched:
                    self._commit(conn, batch, logs, watched, action_watchers)
                    if watched:
                        last_watch = now
                last_commit = time.monotonic()
            except sqlite3.Error as e:
                # Kept for the next try (newer states of the same records win): a full disk may free up.
                with self._lock:
                    self._dirty = {**batch, **self._dirty}
                    self._logs = logs + self._logs
                self._fail(e)
                if self._closed:
                    break
                time.sleep(0.5)
                continue
            if self._failure is not None:
                self._recovered_from_failure()
            with self._lock:
                self._committed_epoch = epoch
                self._committed.notify_all()
                if self._closed and not self._dirty and not self._logs:
                    break
        conn.close()

    def _commit(
        self,
        conn: sqlite3.Connection,
        batch: dict[int, Any],
        logs: list[LogRecord],
        watched: dict[str, Any],
        action_watchers: dict[str, Callable[[str, str], None]],
    ) -> None:
        runs, actions, attempts, entries = [], [], [], []
        for record in batch.values():
            if isinstance(record, ActionRecord):
                actions.append(action_row(record))
            elif isinstance(record, AttemptRecord):
                attempts.append(attempt_row(record))
            elif isinstance(record, CacheEntry):
                entries.append(record)
            else:
                runs.append(run_row(record))
        conn.execute("BEGIN IMMEDIATE")
        try:
            if runs:
                conn.executemany(RUN_UPSERT, runs)
            if actions:
                conn.executemany(ACTION_UPSERT, actions)
            if attempts:
                conn.executemany(ATTEMPT_UPSERT, attempts)
            if entries:
                conn.executemany(CACHE_UPSERT, [cache_entry_row(e) for e in entries])
            if logs:
                conn.executemany(LOG_INSERT, log_rows(logs))
            aborted = []
            if watched:
                now = time.time()
                names = list(watched)
                marks = ",".join("?" * len(names))
                conn.execute(f"UPDATE runs SET heartbeat_at = ? WHERE name IN ({marks})", (now, *names))
                rows = conn.execute(f"SELECT name FROM runs WHERE abort_requested = 1 AND name IN ({marks})", names)
                aborted = [watched[r[0]] for r in rows]
                if action_watchers:
                    names = list(action_watchers)
                    marks = ",".join("?" * len(names))
                    sql = f"SELECT run_name, action_id, reason FROM action_aborts WHERE run_name IN ({marks})"
                    for run_name, action_id, reason in conn.execute(sql, names):
                        if (run_name, action_id) not in self._heard_action_aborts:
                            self._heard_action_aborts.add((run_name, action_id))
                            on_abort_action = action_watchers[run_name]
                            aborted.append(functools.partial(on_abort_action, action_id, reason))
            conn.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (a full disk) has rolled back already; another ROLLBACK would replace the
            # real error with "cannot rollback - no transaction is active".
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if entries:
            with self._lock:
                for entry in entries:
                    # A newer entry for the same key may have been stored meanwhile: it stays pending.
                    if self._pending_cache.get(entry.key) is entry:
                        del self._pending_cache[entry.key]
        for on_abort in aborted:
            on_abort()

    def _fail(self, e: BaseException) -> None:
        with self._lock:
            first = self._failure is None
            self._failure = e
            self._committed.notify_all()
            told = dict(self._failure_watchers) if first else {}
        if first:
            reason = write_failures.describe(e, self.path)
            write_failures.note(self.path.parent, list(told), reason)
            for on_write_failure in told.values():
                on_write_failure(reason)

    def _recovered_from_failure(self) -> None:
        """A commit went through after failing: what was held back is written; runs whose process
        ended meanwhile are recorded failed."""
        with self._lock:
            self._failure = None
        self.settle_write_failures()

    # -- direct writes (other processes: the CLI) ------------------------------------------------
    def request_abort(self, run_name: str) -> bool:
        """Ask the controller of ``run_name`` to abort it; False when there is no such active run."""
        with self._translate_errors():
            cur = self._reader().execute("UPDATE runs SET abort_requested = 1 WHERE name = ?", (run_name,))
            return cur.rowcount > 0

    def request_action_abort(self, run_name: str, action_id: str, reason: str) -> None:
        """Ask the controller of ``run_name`` to abort one action (and what it started)."""
        with self._translate_errors():
            self._reader().execute(
                "INSERT OR REPLACE INTO action_aborts VALUES (?, ?, ?, ?)", (run_name, action_id, reason, time.time())
            )

    # -- conditions (human in the loop): written at once, read by whoever answers or waits ------------
    def put_condition(self, condition: ConditionRecord) -> bool:
        """Record a condition an action waits on; False (and nothing changed) when it is recorded
        already -- a resumed run registering it again keeps its answer."""
        values = tuple(getattr(condition, f.name) for f in dataclasses.fields(ConditionRecord))
        marks = ", ".join("?" * len(values))
        with self._translate_errors():
            cursor = self._reader().execute(f"INSERT OR IGNORE INTO conditions VALUES ({marks})", values)
        return cursor.rowcount > 0

    def get_condition(self, run_name: str, action_id: str) -> ConditionRecord | None:
        rows = self._query("SELECT * FROM conditions WHERE run_name = ? AND action_id = ?", (run_name, action_id))
        return ConditionRecord(**dict(rows[0])) if rows else None

    def list_conditions(
        self, run_name: str | None = None, name: str | None = None, pending: bool = False, limit: int = 1000
    ) -> list[ConditionRecord]:
        """Conditions, newest first: of one run, by name, only those still waiting."""
        where, args = where_clause(
            (("run_name", run_name), ("name", name)), *(["state = 'waiting'"] if pending else [])
        )
        sql = f"SELECT * FROM conditions {where} ORDER BY created_at DESC LIMIT ?"
        return [ConditionRecord(**dict(r)) for r in self._query(sql, (*args, limit))]

    def answer_condition(
        self, run_name: str, action_id: str, state: str, value: str | None, reason: str | None, by: str | None
    ) -> bool:
        """Answer a waiting condition (signalled with ``value``, failed or timed out with ``reason``);
        False when it was answered already -- the first answer stands."""
        with self._translate_errors():
            cursor = self._reader().execute(
                "UPDATE conditions SET state = ?, value = ?, reason = ?, signalled_by = ?, signalled_at = ? "
                "WHERE run_name = ? AND action_id = ? AND state = 'waiting'",
                (state, value, reason, by, time.time(), run_name, action_id),
            )
        return cursor.rowcount > 0

    def claim_run(self, run: RunRecord) -> None:
        """Record a new run at once, or raise RunNameTaken when its name is recorded already.

        The one INSERT is the claim: of two runs started with one name at the same moment, in one
        process or two, exactly one gets the row; the other has written nothing. Later states of
        the run go through ``mark`` as usual.
        """
        with self._translate_errors():
            try:
                self._reader().execute(RUN_INSERT, run_row(run))
            except sqlite3.IntegrityError:
                raise RunNameTaken(run.name) from None

    def put_run(self, run: RunRecord) -> None:
        """Write a run row at once (used before anything else of the run is recorded)."""
        with self._translate_errors():
            self._reader().execute(RUN_UPSERT, run_row(run))

    # -- reading ----------------------------------------------------------------------------------
    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        if self.readonly and not self.path.exists():
            return []
        with self._translate_errors():
            try:
                return self._reader().execute(sql, args).fetchall()
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    return []
                raise

    def get_run(self, name: str) -> RunRecord | None:
        rows = self._query(f"SELECT {RUN_COLUMNS} FROM runs WHERE name = ?", (name,))
        return run_from(rows[0]) if rows else None

    def list_runs(
        self,
        limit: int = 50,
        phase: str | None = None,
        task_name: str | None = None,
        *,
        name_contains: str | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first; with ``before=(created_at, name)`` of the last run of a page, the next page.

        The page boundary is a key, not an offset: a later page costs as little as the first one, and a
        run started meanwhile does not shift the pages a reader is paging through.
        """
        where: list[str] = []
        args: list[Any] = []
        if phase is not None:
            where.append("phase = ?")
            args.append(phase)
        if task_name is not None:
            where.append("task_name = ?")
            args.append(task_name)
        if name_contains:
            where.append("instr(name, ?) > 0")
            args.append(name_contains)
        if before is not None:
            where.append("(created_at < ? OR (created_at = ? AND name < ?))")
            args += [before[0], before[0], before[1]]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        # Named: with a filter on an unindexed column SQLite would otherwise sort the whole table.
        sql = (
            f"SELECT {RUN_COLUMNS} FROM runs INDEXED BY runs_by_created {clause} "
            "ORDER BY created_at DESC, name DESC LIMIT ?"
        )
        return [run_from(r) for r in self._query(sql, (*args, limit))]

    def list_actions(self, run_name: str, phases: tuple[str, ...] = ()) -> list[ActionRecord]:
        """The actions of a run in the order they were created; only those in ``phases`` if given."""
        if not phases:
            sql = f"SELECT {ACTION_COLUMNS} FROM actions WHERE run_name = ? ORDER BY seq"
            return [action_from(r) for r in self._query(sql, (run_name,))]
        marks = ",".join("?" * len(phases))
        sql = f"SELECT {ACTION_COLUMNS} FROM actions WHERE run_name = ? AND phase IN ({marks}) ORDER BY seq"
        return [action_from(r) for r in self._query(sql, (run_name, *phases))]

    def child_counts(self, run_name: str) -> dict[str, int]:
        """How many actions each action of the run started, by parent id ("" for its roots)."""
        sql = "SELECT COALESCE(parent_id, ''), COUNT(*) FROM actions WHERE run_name = ? GROUP BY parent_id"
        return {row[0]: row[1] for row in self._query(sql, (run_name,))}

    def list_children(self, run_name: str, parent_id: str | None, limit: int) -> list[ActionRecord]:
        """The first ``limit`` actions ``parent_id`` started (the run's roots for None), in order."""
        where = "parent_id = ?" if parent_id is not None else "parent_id IS NULL"
        args = (run_name, parent_id, limit) if parent_id is not None else (run_name, limit)
        sql = f"SELECT {ACTION_COLUMNS} FROM actions WHERE run_name = ? AND {where} ORDER BY seq LIMIT ?"
        return [action_from(r) for r in self._query(sql, args)]

    def get_action(self, run_name: str, action_id: str) -> ActionRecord | None:
        sql = f"SELECT {ACTION_COLUMNS} FROM actions WHERE run_name = ? AND action_id = ?"
        rows = self._query(sql, (run_name, action_id))
        return action_from(rows[0]) if rows else None

    def action_abort_reason(self, run_name: str, action_id: str) -> str | None:
        """Why the abort of this action was requested, if it was."""
        rows = self._query(
            "SELECT reason FROM action_aborts WHERE run_name = ? AND action_id = ?", (run_name, action_id)
        )
        return rows[0]["reason"] if rows else None

    def succeeded_actions(self, run_name: str) -> dict[str, ActionRecord]:
        """The actions of a run that finished successfully, by id (what a recovery may reuse)."""
        sql = f"SELECT {ACTION_COLUMNS} FROM actions WHERE run_name = ? AND phase IN ('succeeded', 'recovered')"
        return {r["action_id"]: action_from(r) for r in self._query(sql, (run_name,))}

    def list_attempts(self, run_name: str, action_id: str) -> list[AttemptRecord]:
        sql = f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE run_name = ? AND action_id = ? ORDER BY attempt"
        return [attempt_from(r) for r in self._query(sql, (run_name, action_id))]

    def list_logs(self, run_name: str, action_id: str | None = None, attempt: int | None = None) -> list[LogRecord]:
        """Log lines in the order written; of one action, and of one of its attempts (from 0), if given."""
        if action_id is None:
            rows = self._query("SELECT * FROM logs WHERE run_name = ? ORDER BY ts, rowid", (run_name,))
        elif attempt is None:
            sql = "SELECT * FROM logs WHERE run_name = ? AND action_id = ? ORDER BY ts, rowid"
            rows = self._query(sql, (run_name, action_id))
        else:
            sql = "SELECT * FROM logs WHERE run_name = ? AND action_id = ? AND attempt = ? ORDER BY ts, rowid"
            rows = self._query(sql, (run_name, action_id, attempt))
        return logs_from(rows)


def default_store_path() -> Path:
    return default_home() / "roost.db"
