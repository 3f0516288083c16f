"""When a call is answered from the cache, and when it runs: keys, versions, behaviours, run options."""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from datetime import timedelta

import pytest

import roost as flyte
from roost.core.compile import compile_task
from roost.errors import RuntimeUserError
from roost.models import ActionPhase
from roost.runtime.engine.cache_key import cache_key, task_cache_facts
from roost.store.cache_store import CacheStore
from roost.store.records import ActionRecord

# How many times each task body ran, by task short name.
ran: collections.Counter[str] = collections.Counter()

env = flyte.TaskEnvironment(name="hits")


@pytest.fixture(autouse=True)
def _reset_counts():
    ran.clear()


@env.task(cache="auto")
async def double(x: int, note: str = "") -> int:
    ran["double"] += 1
    return 2 * x


@env.task(cache=flyte.Cache("auto", ignored_inputs="note"))
async def tolerant(x: int, note: str) -> int:
    ran["tolerant"] += 1
    return x + 1


@env.task(cache="disable")
async def uncached(x: int) -> int:
    ran["uncached"] += 1
    return x


@env.task(cache=flyte.Cache("override", version_override="v1"))
async def pinned(x: int) -> int:
    ran["pinned"] += 1
    return x * 10


@env.task(cache="auto")
async def flaky(x: int) -> int:
    ran["flaky"] += 1
    if ran["flaky"] == 1:
        raise ValueError("first call fails")
    return x


@env.task(cache=flyte.Cache("auto", max_age=timedelta(seconds=60)))
async def perishable(x: int) -> int:
    ran["perishable"] += 1
    return ran["perishable"]


@env.task(cache="auto")
async def fresh_each_time(x: int) -> int:
    # Its output changes with every execution, so a hit is visible in the value returned.
    ran["fresh"] += 1
    return ran["fresh"]


@env.task
async def twice(x: int) -> list[int]:
    return [await double(x), await double(x)]


@env.task(cache="auto")
async def cached_parent(x: int) -> int:
    ran["cached_parent"] += 1
    return await double(x) + 1


def _actions(store, run, task_short_name: str) -> list[ActionRecord]:
    return [a for a in store.list_actions(run.name) if a.short_name == task_short_name]


def test_same_inputs_hit_and_other_inputs_miss(store):
    assert flyte.run(double, 3).outputs()[0] == 6
    second = flyte.run(double, 3)
    assert second.outputs()[0] == 6
    assert flyte.run(double, 4).outputs()[0] == 8
    assert ran["double"] == 2
    (root,) = store.list_actions(second.name)
    assert root.cache_hit and root.phase is ActionPhase.SUCCEEDED


def test_a_later_identical_call_in_the_same_run_hits(store):
    run = flyte.run(twice, 5)
    assert run.outputs()[0] == [10, 10]
    assert ran["double"] == 1
    assert [a.cache_hit for a in _actions(store, run, "double")] == [False, True]


def test_every_input_counts_unless_ignored():
    flyte.run(double, 1, note="a")
    flyte.run(double, 1, note="b")
    assert ran["double"] == 2
    flyte.run(tolerant, 1, note="a")
    assert flyte.run(tolerant, 1, note="b").outputs()[0] == 2
    assert ran["tolerant"] == 1


def test_disabled_cache_always_runs(store):
    flyte.run(uncached, 1)
    flyte.run(uncached, 1)
    assert ran["uncached"] == 2
    assert CacheStore(store).entries() == []


def test_override_behaviour_hits(store):
    """Flyte's local mode only writes "override" entries; roost hits, as the platform does."""
    flyte.run(pinned, 2)
    run = flyte.run(pinned, 2)
    assert run.outputs()[0] == 20 and ran["pinned"] == 1
    (entry,) = CacheStore(store).entries()
    assert entry.version == "v1" and entry.task_name == "hits.pinned"


def test_failures_are_not_cached(store):
    with pytest.raises(RuntimeUserError, match="first call fails"):
        flyte.run(flaky, 7)
    assert CacheStore(store).entries() == []
    assert flyte.run(flaky, 7).outputs()[0] == 7
    assert flyte.run(flaky, 7).outputs()[0] == 7
    assert ran["flaky"] == 2


def test_overwrite_cache_runs_again_and_replaces_the_entry(store):
    assert flyte.run(fresh_each_time, 1).outputs()[0] == 1
    assert flyte.with_runcontext(overwrite_cache=True).run(fresh_each_time, 1).outputs()[0] == 2
    assert flyte.run(fresh_each_time, 1).outputs()[0] == 2  # the overwritten result
    assert ran["fresh"] == 2
    assert len(CacheStore(store).entries()) == 1


def test_disable_run_cache_neither_looks_up_nor_stores(store):
    assert flyte.run(fresh_each_time, 1).outputs()[0] == 1
    no_cache = flyte.with_runcontext(disable_run_cache=True)
    assert no_cache.run(fresh_each_time, 1).outputs()[0] == 2
    assert no_cache.run(fresh_each_time, 2).outputs()[0] == 3
    assert len(CacheStore(store).entries()) == 1  # only the first run's
    assert flyte.run(fresh_each_time, 1).outputs()[0] == 1


def _age_entries(store, seconds: float) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE cache_entries SET created_at = created_at - ?", (seconds,))


def test_max_age_expires_entries_and_the_new_result_replaces_them(store):
    assert flyte.run(perishable, 1).outputs()[0] == 1
    _age_entries(store, 30)
    assert flyte.run(perishable, 1).outputs()[0] == 1  # 30 s old: still usable
    _age_entries(store, 60)
    assert flyte.run(perishable, 1).outputs()[0] == 2  # 90 s old: expired, runs again
    assert flyte.run(perishable, 1).outputs()[0] == 2
    assert len(CacheStore(store).entries()) == 1
    assert ran["perishable"] == 2


def test_max_age_zero_never_expires(store):
    forever = env.task(cache=flyte.Cache("auto", max_age=0))(fresh_each_time.func)
    assert flyte.run(forever, 1).outputs()[0] == 1
    _age_entries(store, 10 * 365 * 24 * 3600)
    assert flyte.run(forever, 1).outputs()[0] == 1


def test_a_cached_parent_returns_without_running_its_children(store):
    assert flyte.run(cached_parent, 4).outputs()[0] == 9
    run = flyte.run(cached_parent, 4)
    assert run.outputs()[0] == 9
    assert ran["cached_parent"] == 1 and ran["double"] == 1
    (root,) = store.list_actions(run.name)  # no children recorded: none ran
    assert root.cache_hit


def test_task_setting_beats_the_environment():
    cached_env = flyte.TaskEnvironment(name="cached_env", cache="auto")

    async def inherit(x: int) -> int:
        ran["inherit"] += 1
        return x

    async def opt_out(x: int) -> int:
        ran["opt_out"] += 1
        return x

    inherits = cached_env.task(inherit)
    opts_out = cached_env.task(cache="disable")(opt_out)
    plain_env = flyte.TaskEnvironment(name="plain_env")
    opts_in = plain_env.task(cache="auto")(inherit)
    for task in (inherits, opts_out, opts_in, inherits, opts_out, opts_in):
        flyte.run(task, 1)
    assert ran == {"inherit": 2, "opt_out": 2}  # each cached task once (two envs: two keys)


def test_salt_changes_the_version():
    async def salted(x: int) -> int:
        ran["salted"] += 1
        return x

    salt_a = env.task(cache=flyte.Cache("auto", salt="a"))(salted)
    salt_b = env.task(cache=flyte.Cache("auto", salt="b"))(salted)
    flyte.run(salt_a, 1)
    flyte.run(salt_b, 1)
    flyte.run(salt_a, 1)
    assert ran["salted"] == 2


def _record(inputs_hash: str) -> ActionRecord:
    record = ActionRecord("run", "a0", None, "hits.double", "double", None, 0, ActionPhase.QUEUED)
    record.inputs_hash = inputs_hash
    return record


def _key(task, inputs_hash: str = "h") -> str:
    return cache_key(task_cache_facts(task, compile_task(task)), _record(inputs_hash))


def test_the_key_leaves_out_how_and_where_a_task_runs():
    elsewhere = double.override(retries=3, timeout=60, resources=flyte.Resources(cpu="2", memory="1Gi"))
    assert _key(elsewhere) == _key(double)
    assert _key(double, "other inputs") != _key(double)
    renamed = flyte.TaskEnvironment(name="other_env").task(cache="auto")(double.func)
    assert _key(renamed) != _key(double)  # the task FQN is part of it


def test_files_count_by_content_hash_not_path(tmp_path):
    flyte.init()

    @env.task(cache="auto")
    async def size(f: flyte.io.File) -> int:
        ran["size"] += 1
        return 1

    (tmp_path / "a.txt").write_text("aaa")
    (tmp_path / "b.txt").write_text("bbbb")
    fa = flyte.io.File.from_local_sync(tmp_path / "a.txt", hash_method="same")
    fb = flyte.io.File.from_local_sync(tmp_path / "b.txt", hash_method="same")
    assert fa.path != fb.path
    flyte.run(size, fa)
    flyte.run(size, fb)
    assert ran["size"] == 1


@env.task(cache="auto")
async def slow_fresh(x: int) -> int:
    ran["slow_fresh"] += 1
    n = ran["slow_fresh"]
    await asyncio.sleep(0.05)  # still running when its twins start
    return n


def test_identical_calls_at_once_without_serialize_each_run():
    @env.task
    async def fan(n: int) -> list[int]:
        return list(await asyncio.gather(*(slow_fresh(0) for _ in range(n))))

    assert sorted(flyte.run(fan, 3).outputs()[0]) == [1, 2, 3]
