"""The run store: durable, group-committed, readable by other connections, clear about failures."""

from __future__ import annotations

import sqlite3
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
