"""Reusable environments: warm replicas, module state, scaling between min and max, TTLs, crashes."""

from __future__ import annotations

import os
import time

import pytest

import roost as flyte
from roost.errors import MaxRuntimeExceededError
from roost.runtime.engine.executors import pool as pools

from . import pool_tasks as t


@pytest.fixture(autouse=True)
def fast_ttls(monkeypatch: pytest.MonkeyPatch):
    # 1 s of policy time is 10 ms here: a test-only scale, the policies themselves stay valid.
    monkeypatch.setenv(pools.TTL_SCALE_ENV, "0.01")


def pool_named(name: str) -> pools.WorkerPool:
    return next(p for p in pools.pools() if p.name == name)


def test_module_state_survives_between_calls_on_a_replica(store):
    first = flyte.run(t.remember, 1).outputs()
    second = flyte.run(t.remember, 2).outputs()
    assert first[0] == second[0] != os.getpid()  # the same warm process served both runs
    assert second[1] == first[1] + 1  # and it remembered the first call
    root = store.list_actions(flyte.run(t.remember, 3).name)[0]
    assert root.isolation == "pool" and "replica 1 of warm" in root.node


def test_replicas_scale_between_min_and_max_and_back(store):
    run = flyte.run(t.load, 6, 0.3)  # 6 slow calls, 2 per replica: all 3 replicas needed
    pids = set(run.outputs()[0])
    pool = pool_named("elastic")
    assert len(pids) == 3 and pool.started_total == 3  # never above max
    assert len(pool.replicas) == 3
    deadline = time.monotonic() + 5
    while len(pool.replicas) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)  # scaledown_ttl = 30 s x 0.01
    assert len(pool.replicas) == 1  # down to min, one replica per scaledown_ttl
    deadline = time.monotonic() + 5
    while pool.replicas and time.monotonic() < deadline:
        time.sleep(0.05)  # idle_ttl = 100 s x 0.01
    assert pool.replicas == []  # idle for idle_ttl: the whole environment shut down
    again = flyte.run(t.load, 1, 0.01).outputs()[0]
    assert again[0] not in pids and pool.started_total == 4  # and the next call starts it again


def test_a_crashed_replica_is_replaced_without_losing_queued_actions(store, tmp_path):
    run = flyte.run(t.crash_among_others, str(tmp_path / "crashed"))
    results = run.outputs()[0]
    assert len(results) == 5 and all(isinstance(pid, int) for pid in results)
    crashed = [a for a in store.list_actions(run.name) if a.attempts == 2]
    assert len(crashed) == 1
    attempts = store.list_attempts(run.name, crashed[0].action_id)
    assert attempts[0].error.code == "WorkerCrashedError" and "exited with code 9" in attempts[0].error.message
    assert len(pool_named("fragile").replicas) == 2  # back to its size


def test_timeout_kills_and_replaces_the_replica():
    before = flyte.run(t.sleepy, 0.01).outputs()[0]
    with pytest.raises(MaxRuntimeExceededError, match="was killed"):
        flyte.run(t.sleepy, 5.0)
    after = flyte.run(t.sleepy, 0.01).outputs()[0]
    assert after != before


def test_replicas_that_can_never_all_fit_are_named_once(machine, caplog):
    machine("cpu=2,memory=8Gi")
    with caplog.at_level("WARNING", logger="roost"):
        assert len(flyte.run(t.fan_out, "crowded", 3).outputs()[0]) == 3  # they queue, and all run
        flyte.run(t.fan_out, "crowded", 2)
    said = [r.getMessage() for r in caplog.records if "reusable environment crowded" in r.getMessage()]
    assert len(said) == 1, said
    assert "keeps 4 replicas warm (its min), each requesting cpu 2" in said[0]
    assert "2 CPU core(s), 8.0 GiB of memory" in said[0] and "only 1 of them can ever run at once" in said[0]
    assert "ROOST_CAPACITY" in said[0]


def test_a_max_beyond_the_machine_is_named_and_a_pool_that_fits_is_not(machine, caplog):
    machine("cpu=2,memory=8Gi")
    with caplog.at_level("WARNING", logger="roost"):
        flyte.run(t.fan_out, "growing", 2)
        flyte.run(t.remember, 1)  # asks for nothing: no bound to speak of
    said = [r.getMessage() for r in caplog.records if "reusable environment" in r.getMessage()]
    assert len(said) == 1 and "reusable environment growing may scale to 3 replicas" in said[0], said
    assert "only 2 can run at once and further calls wait for resources" in said[0] and "ROOST_CAPACITY" in said[0]
