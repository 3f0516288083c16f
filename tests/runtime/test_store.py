"""The run store: durable, group-committed, readable by other connections, clear about failures."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest

import roost as flyte
from roost.errors import StoreError
from roost.store.records import ActionPhase, ActionRecord, LogRecord, RunRecord
from roost.store.run_store import RunStore


def a_run(name: str) -> RunRecord:
    return RunRecord(name=name, task_name="t.t", phase=ActionPhase.RUNNING, mode="local", created_at=time.time())


def an_action(run: str, i: int) -> ActionRecord:
    return ActionRecord(run, f"x{i}", "a0", "t.t", "t", None, i, ActionPhase.QUEUED, queued_at=time.time())


def test_marks_are_group_committed_and_coalesced(tmp_path):
    store = RunStore(tmp_path / "s.db", commit_interval=0.05)
    store.mark(a_run("r1"))
    records = [an_action("r1", i) for i in range(1000)]
    for r in records:
        store.mark(r)
    for r in records:  # a second transition before the commit costs no second row write
        r.phase = ActionPhase.SUCCEEDED
        store.mark(r)
    store.flush()
    other = RunStore(tmp_path / "s.db")  # another connection sees everything committed
    actions = other.list_actions("r1")
    assert len(actions) == 1000 and {a.phase for a in actions} == {ActionPhase.SUCCEEDED}
    store.close()
    other.close()


def test_flush_from_many_threads(tmp_path):
    store = RunStore(tmp_path / "s.db")
    store.mark(a_run("r2"))

    def writer(k: int) -> None:
        for i in range(200):
            store.mark(an_action("r2", k * 1000 + i))
            store.log(LogRecord("r2", "a0", 0, time.time(), "stdout", f"{k}-{i}"))
        store.flush()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.list_actions("r2")) == 800 and len(store.list_logs("r2")) == 800
    store.close()


def test_corrupt_store_is_a_clear_error(tmp_path, monkeypatch):
    home = tmp_path / "corrupt"
    home.mkdir()
    (home / "roost.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"is corrupt .*Move it away") as info:
        RunStore(home / "roost.db")
    assert str(home / "roost.db") in str(info.value)


def test_locked_store_is_a_clear_error(tmp_path):
    path = tmp_path / "locked.db"
    RunStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = RunStore(path, busy_timeout=0.2, readonly=True)
        with pytest.raises(StoreError, match="locked by another process"):
            store.request_abort("anything")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_missing_store_reads_as_empty(tmp_path):
    store = RunStore(tmp_path / "nowhere" / "roost.db", readonly=True)
    assert store.list_runs() == [] and store.get_run("x") is None


env = flyte.TaskEnvironment(name="store-env")


@env.task
async def tiny(x: int) -> int:
    return x


def test_a_run_survives_its_process(roost_home):
    run = flyte.with_runcontext(name="kept").run(tiny, 3)
    fresh = RunStore(roost_home / "roost.db", readonly=True)
    record = fresh.get_run(run.name)
    assert record.phase is ActionPhase.SUCCEEDED and record.outputs is not None
    assert fresh.get_action("kept", "a0").outputs == record.outputs


def test_opening_the_store_while_another_process_commits(tmp_path):
    """Opening (and creating the schema of) a store that another process is busy writing never fails:
    the schema is written in a transaction that waits for the lock, not from a stale snapshot."""
    path = tmp_path / "shared" / "roost.db"
    RunStore(path).close()
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import pathlib, time\n"
            "from roost.store.run_store import RunStore\n"
            "from roost.store.records import ActionPhase, RunRecord\n"
            f"store = RunStore({str(path)!r}, commit_interval=0)\n"
            "i = 0\n"
            f"while not pathlib.Path({str(stop)!r}).exists():\n"
            "    i += 1\n"
            "    store.mark(RunRecord(f'r{i}', 't.t', ActionPhase.RUNNING, 'local', time.time()))\n"
            "    store.flush()\n"
            "store.close()\n",
        ]
    )
    try:
        time.sleep(0.5)
        for _ in range(40):
            RunStore(path, busy_timeout=5).close()
    finally:
        stop.touch()
        writer.wait(timeout=30)
    assert writer.returncode == 0


def test_processes_creating_a_new_store_at_once(tmp_path):
    """Several processes creating the same new store at one moment all get it."""
    path = tmp_path / "new" / "roost.db"
    go = tmp_path / "go"
    script = (
        "import time, pathlib\n"
        "from roost.store.run_store import RunStore\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.001)\n"
        f"RunStore({str(path)!r}).close()\n"
        "print('ok')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(6)]
    time.sleep(0.5)
    go.touch()
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outputs == ["ok"] * 6 and [p.returncode for p in procs] == [0] * 6


# The actions table and the tables beside it as the first schema had them (before version 2).
FIRST_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE actions (
    run_name TEXT NOT NULL, action_id TEXT NOT NULL, parent_id TEXT, task_name TEXT NOT NULL,
    short_name TEXT, group_name TEXT, seq INTEGER NOT NULL, phase TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, queued_at REAL, started_at REAL, ended_at REAL,
    inputs BLOB, outputs BLOB, inputs_hash TEXT,
    error_code TEXT, error_kind TEXT, error_message TEXT, error_traceback TEXT,
    cache_hit INTEGER NOT NULL DEFAULT 0, isolation TEXT, isolation_reason TEXT, node TEXT,
    PRIMARY KEY (run_name, action_id)
) WITHOUT ROWID;
INSERT INTO actions (run_name, action_id, task_name, seq, phase, attempts, queued_at, started_at, ended_at)
VALUES ('old', 'a0', 't.t', 0, 'succeeded', 1, 1.0, 2.0, 3.0);
"""


def test_a_store_of_the_first_schema_gains_what_was_added(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(FIRST_SCHEMA)
    conn.close()
    store = RunStore(path)
    (old,) = store.list_actions("old")
    assert old.transitions is None and old.phase is ActionPhase.SUCCEEDED
    store.request_action_abort("old", "a0", "why")  # the table of abort requests exists now
    fresh = an_action("old", 1)
    fresh.transitions = "0:waiting_for_resources:2.5;"
    store.mark(fresh)
    store.flush()
    assert store.get_action("old", "x1").transitions == "0:waiting_for_resources:2.5;"
    assert old.environment is None  # its rows gained the column too, empty
    version = store.connection().execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert version == "3"
    store.close()
    RunStore(path).close()  # opening it again changes nothing


def test_none_and_bytes_are_stored_as_they_were_and_a_programs_own_adapter_is_kept(tmp_path):
    # run_tables registers sqlite3 adapters for None and bytes (a fast path on Python 3.11); what is
    # stored must not change, and a program that registered its own before roost loads keeps it.
    code = """
import sqlite3, sys
sqlite3.register_adapter(bytes, lambda b: b"mine:" + b)
from roost.store import run_tables
from roost.store.records import ActionPhase, ActionRecord
from roost.store.run_store import RunStore
assert sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)] is not None
store = RunStore(sys.argv[1])
store.mark(ActionRecord("r", "a0", None, "t", "t", None, 0, ActionPhase.QUEUED, inputs=b"in"))
store.flush()
row = sqlite3.connect(sys.argv[1]).execute(
    "SELECT inputs, typeof(inputs), parent_id, typeof(parent_id) FROM actions").fetchone()
print(repr(row))
"""
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "runs.db")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == repr((b"mine:in", "blob", None, "null"))
    with sqlite3.connect(":memory:") as db:  # and in this process, the adapters roost registered
        from roost.store import run_tables  # noqa: F401

        assert db.execute("SELECT ?, typeof(?), ?, typeof(?)", (None, None, b"x", b"x")).fetchone() == (
            None,
            "null",
            b"x",
            "blob",
        )
