"""Cache(serialize=True): identical actions running at the same time execute once -- in one run, in two
runs of one process, in two processes -- and a holder that dies does not block the others."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import roost as flyte
from roost.runtime.engine import reservations
from roost.store.cache_store import CacheStore
from roost.store.run_store import RunStore

ran: collections.Counter[str] = collections.Counter()

env = flyte.TaskEnvironment(name="serial")


@pytest.fixture(autouse=True)
def _reset_counts():
    ran.clear()


@env.task(cache=flyte.Cache("auto", serialize=True))
async def slow_square(x: int) -> int:
    ran["slow_square"] += 1
    await asyncio.sleep(0.2)
    return x * x


@env.task(cache=flyte.Cache("auto", serialize=True))
async def fails_first(x: int) -> int:
    ran["fails_first"] += 1
    await asyncio.sleep(0.1)
    if ran["fails_first"] == 1:
        raise ValueError("the first holder fails")
    return x


@env.task
async def four_at_once(x: int) -> list[int]:
    return list(await asyncio.gather(*(slow_square(x) for _ in range(4))))


@env.task
async def two_at_once_one_failing(x: int) -> list[str]:
    results = await asyncio.gather(fails_first(x), fails_first(x), return_exceptions=True)
    return sorted("failed" if isinstance(r, ValueError) else str(r) for r in results)


def test_identical_calls_in_one_run_execute_once(store):
    run = flyte.run(four_at_once, 3)
    assert run.outputs()[0] == [9, 9, 9, 9]
    assert ran["slow_square"] == 1
    children = [a for a in store.list_actions(run.name) if a.short_name == "slow_square"]
    assert sorted(a.cache_hit for a in children) == [False, True, True, True]
    assert CacheStore(store).reservation(next(iter(CacheStore(store).entries())).key) is None


def test_two_runs_on_one_loop_execute_once():
    async def both() -> list[object]:
        runs = await asyncio.gather(flyte.run.aio(slow_square, 5), flyte.run.aio(slow_square, 5))
        return [r.outputs()[0] for r in runs]

    assert asyncio.run(both()) == [25, 25]
    assert ran["slow_square"] == 1


def test_two_runs_in_two_threads_execute_once():
    """Different event loops: the second waits by polling the store, as another process would."""
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(flyte.run(slow_square, 6).outputs()[0])) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [36, 36]
    assert ran["slow_square"] == 1


@env.task(cache=flyte.Cache("auto", serialize=True))
async def counted(x: int) -> int:
    ran["counted"] += 1
    n = ran["counted"]
    await asyncio.sleep(0.1)
    return n


@env.task
async def three_counted(x: int) -> list[int]:
    return list(await asyncio.gather(*(counted(x) for _ in range(3))))


def test_overwrite_cache_skips_old_entries_but_still_serializes():
    assert flyte.run(three_counted, 1).outputs()[0] == [1, 1, 1]
    overwrite = flyte.with_runcontext(overwrite_cache=True)
    assert overwrite.run(three_counted, 1).outputs()[0] == [2, 2, 2]  # ran again, once
    assert flyte.run(three_counted, 1).outputs()[0] == [2, 2, 2]  # the replaced entry
    assert ran["counted"] == 2


def test_when_the_holder_fails_a_waiter_runs_it(store):
    assert flyte.run(two_at_once_one_failing, 4).outputs()[0] == ["4", "failed"]
    assert ran["fails_first"] == 2
    assert len(CacheStore(store).entries()) == 1


def _foreign_reservation(store: RunStore, task, x: int, heartbeat_age: float) -> str:
    """A reservation of the key of ``task(x)`` held by a process on another host."""
    from roost.core.compile import compile_task
    from roost.runtime import values
    from roost.runtime.engine.cache_key import cache_key, task_cache_facts
    from roost.store.records import ActionPhase, ActionRecord

    encoded = values.encode_inputs(task, {"x": x})
    record = ActionRecord("r", "a0", None, task.name, task.short_name, None, 0, ActionPhase.QUEUED)
    record.inputs, record.inputs_hash = encoded.data, encoded.hash
    key = cache_key(task_cache_facts(task, compile_task(task)), record)
    now = time.time()
    assert CacheStore(store).reserve(key, "elsewhere:1:r/a0", "elsewhere.example", 1, now - heartbeat_age)
    return key


def test_a_reservation_with_an_old_heartbeat_is_taken_over(store):
    key = _foreign_reservation(store, slow_square, 7, heartbeat_age=3600)
    assert flyte.run(slow_square, 7).outputs()[0] == 49
    assert ran["slow_square"] == 1
    assert CacheStore(store).reservation(key) is None


def test_a_live_foreign_holder_is_waited_for_until_its_heartbeat_is_stale(store, monkeypatch):
    monkeypatch.setattr(reservations, "RESERVATION_STALE_S", 0.4)
    _foreign_reservation(store, slow_square, 8, heartbeat_age=0)
    start = time.monotonic()
    assert flyte.run(slow_square, 8).outputs()[0] == 64
    assert time.monotonic() - start >= 0.4  # waited for the holder's silence before taking over


@env.task(cache=flyte.Cache("auto", serialize=True))
async def watches_its_heartbeat(x: int) -> float:
    from roost.store.open_stores import get_store

    cache = CacheStore(get_store())
    (entry,) = cache.runs.connection().execute("SELECT key, heartbeat_at FROM cache_reservations").fetchall()
    time.sleep(0.5)  # computing without awaiting: the event loop is blocked, the heartbeat is not
    return cache.reservation(entry[0]).heartbeat_at - entry[1]


def test_the_holder_refreshes_its_heartbeat_even_while_its_loop_is_blocked(monkeypatch):
    monkeypatch.setattr(reservations, "RESERVATION_STALE_S", 0.25)  # a beat every 0.05 s
    assert flyte.run(watches_its_heartbeat, 1).outputs()[0] > 0.2


# -- across processes -----------------------------------------------------------------------------
PROGRAM = textwrap.dedent(
    """
    import asyncio
    import os
    import sys

    import roost as flyte

    env = flyte.TaskEnvironment(name="procs")
    WORK = os.environ["WORK_DIR"]


    @env.task(cache=flyte.Cache("auto", serialize=True))
    async def once(x: int) -> int:
        with open(os.path.join(WORK, "executions"), "a") as f:
            f.write(f"{os.getpid()}\\n")
        with open(os.path.join(WORK, "executions")) as f:
            first = len(f.readlines()) == 1
        if first and os.environ.get("HANG_FIRST"):
            await asyncio.sleep(120)  # killed here
        await asyncio.sleep(float(os.environ.get("WORK_S", "0.1")))
        return x * 3


    @env.task
    async def main(x: int) -> int:
        open(os.path.join(WORK, f"ready-{os.getpid()}"), "w").close()
        while not os.path.exists(os.path.join(WORK, "go")):
            await asyncio.sleep(0.01)
        return await once(x)


    if __name__ == "__main__":
        run = flyte.with_runcontext(name=sys.argv[2]).run(main, int(sys.argv[1]))
        print(run.outputs()[0])
    """
)


@pytest.fixture
def start(tmp_path: Path, roost_home: Path):
    program = tmp_path / "procs.py"
    program.write_text(PROGRAM)
    started: list[subprocess.Popen[str]] = []

    def start(run_name: str, **extra: str) -> subprocess.Popen[str]:
        env = {**os.environ, "ROOST_HOME": str(roost_home), "WORK_DIR": str(tmp_path), **extra}
        proc = subprocess.Popen(
            [sys.executable, str(program), "7", run_name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _executions(tmp_path: Path) -> list[str]:
    path = tmp_path / "executions"
    return path.read_text().split() if path.exists() else []


def test_two_processes_execute_once(tmp_path, start):
    procs = [start("p1", WORK_S="1.0"), start("p2", WORK_S="1.0")]
    try:
        # Two interpreters starting on a busy 2-core machine: be patient, and say why if not.
        _wait_for(lambda: len(list(tmp_path.glob("ready-*"))) == 2, timeout=60)
    except AssertionError:
        for p in procs:
            p.kill()
        raise AssertionError([p.communicate() for p in procs]) from None
    (tmp_path / "go").touch()  # both call once(7) now, at the same time
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["21", "21"]
    assert len(_executions(tmp_path)) == 1


def test_a_killed_holder_does_not_block_the_others(tmp_path, start, roost_home):
    holder = start("holder", HANG_FIRST="1")
    (tmp_path / "go").touch()
    _wait_for(lambda: len(_executions(tmp_path)) == 1)  # the holder is inside once(7), hanging
    waiter = start("waiter")
    store = RunStore(roost_home / "roost.db", readonly=True)
    _wait_for(lambda: any(a.short_name == "once" for a in store.list_actions("waiter")))
    time.sleep(0.3)
    assert len(_executions(tmp_path)) == 1  # waiting for the holder, not running it
    holder.send_signal(signal.SIGKILL)  # not reaped: a zombie, which is dead all the same
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert out.strip() == "21"
    assert len(_executions(tmp_path)) == 2
    assert _executions(tmp_path)[1] == str(waiter.pid)
    store.close()


def test_a_holder_on_this_host_is_identified_by_pid():
    assert socket.gethostname() == reservations.HOST
    assert reservations.pid_alive(os.getpid())
