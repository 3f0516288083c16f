"""Nested calls: fan-out, deep nesting, sync/async mixes, map, group, ctx and custom context."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import roost as flyte
from roost.errors import RuntimeUserError, SyncTaskCallInAsyncContextError, TraceDoesNotAllowNestedTasksError
from roost.models import ActionPhase

env = flyte.TaskEnvironment(name="nest")


@env.task
async def leaf(x: int) -> int:
    return x + 1


@env.task
async def fan_out(n: int) -> int:
    return sum(await asyncio.gather(*[leaf(i) for i in range(n)]))


@env.task
async def deep(depth: int) -> int:
    if depth == 0:
        return 0
    return 1 + await deep(depth - 1)


@env.task
def sync_leaf(x: int) -> int:
    time.sleep(0.01)
    return x * 10


@env.task
def sync_parent(n: int) -> list[int]:
    # A sync task calling sync tasks blocks its own thread for each; the others keep running.
    return [sync_leaf(i) for i in range(n)]


@env.task
async def async_over_sync(n: int) -> list[int]:
    return list(await asyncio.gather(*[sync_leaf.aio(i) for i in range(n)]))


@env.task
async def calls_sync_wrongly(x: int) -> int:
    return sync_leaf(x)


@env.task
def sync_calls_async(x: int) -> int:
    # A sync task may drive an async task on an event loop of its own thread.
    return asyncio.run(leaf(x))


def test_fan_out_of_1000(store):
    run = flyte.run(fan_out, 1000)
    assert run.outputs()[0] == sum(range(1, 1001))
    actions = store.list_actions(run.name)
    assert len(actions) == 1001
    assert all(a.phase is ActionPhase.SUCCEEDED for a in actions)


def test_deep_nesting_50(store):
    run = flyte.run(deep, 50)
    assert run.outputs()[0] == 50
    actions = store.list_actions(run.name)
    assert len(actions) == 51
    by_id = {a.action_id: a for a in actions}
    depth, node = 0, actions[-1]
    while node.parent_id is not None:
        node, depth = by_id[node.parent_id], depth + 1
    assert depth == 50


def test_sync_children_and_sync_parents():
    assert flyte.run(sync_parent, 4).outputs()[0] == [0, 10, 20, 30]
    assert flyte.run(async_over_sync, 5).outputs()[0] == [0, 10, 20, 30, 40]
    assert flyte.run(sync_calls_async, 2).outputs()[0] == 3


def test_sync_children_run_concurrently():
    start = time.perf_counter()
    flyte.run(async_over_sync, 20)  # 20 x 10 ms of sleep
    assert time.perf_counter() - start < 1.0


def test_sync_task_called_from_async_code_without_aio():
    with pytest.raises(SyncTaskCallInAsyncContextError, match=r"await sync_leaf.aio\(\.\.\.\)"):
        flyte.run(calls_sync_wrongly, 1)


@env.task
def mapped(x: int, scale: int = 1) -> int:
    if x == 3:
        raise ValueError("three")
    return x * scale


running_now = {"now": 0, "max": 0}
lock = threading.Lock()


@env.task
async def tracked(x: int) -> int:
    with lock:
        running_now["now"] += 1
        running_now["max"] = max(running_now["max"], running_now["now"])
    await asyncio.sleep(0.02)
    with lock:
        running_now["now"] -= 1
    return x


@env.task
async def map_async(n: int, concurrency: int) -> list[int]:
    return [r async for r in flyte.map.aio(tracked, range(n), concurrency=concurrency)]


@env.task
def map_sync(n: int) -> list[str]:
    import functools

    results = flyte.map(functools.partial(mapped, scale=2), range(n))
    return [repr(r) if isinstance(r, Exception) else str(r) for r in results]


@env.task
def map_sync_raising(n: int) -> list[int]:
    return list(flyte.map(mapped, range(n), return_exceptions=False))


def test_map_keeps_order_and_bounds_concurrency(store):
    running_now["max"] = 0
    run = flyte.run(map_async, 12, 3)
    assert run.outputs()[0] == list(range(12))
    assert running_now["max"] == 3
    groups = {a.group_name for a in store.list_actions(run.name)[1:]}
    assert groups == {"nest.tracked_map"}


def test_map_in_sync_task_with_exceptions():
    out = flyte.run(map_sync, 5).outputs()[0]
    assert out[:3] == ["0", "2", "4"] and "three" in out[3] and out[4] == "8"
    with pytest.raises(RuntimeUserError, match="three"):
        flyte.run(map_sync_raising, 5)


def test_map_validation():
    with pytest.raises(TypeError, match="needs a task"):
        list(flyte.map(lambda x: x, [1]))
    with pytest.raises(TypeError, match="exactly one input unbound"):
        import functools

        list(flyte.map(functools.partial(mapped), [1]))


def test_map_outside_a_run_is_sequential():
    with pytest.warns(UserWarning, match="outside a run"):
        assert list(flyte.map(sync_leaf, [1, 2])) == [10, 20]


@env.task
async def grouped() -> int:
    with flyte.group("stage-1"):
        a = await leaf(1)
        assert flyte.ctx().group_data.name == "stage-1"
    b = await leaf(1)  # same call outside the group: a different action
    return a + b


def test_group_is_recorded_and_part_of_identity(store):
    run = flyte.run(grouped)
    children = store.list_actions(run.name)[1:]
    assert [a.group_name for a in children] == ["stage-1", None]
    assert children[0].action_id != children[1].action_id


@env.task
async def context_probe(x: int) -> dict[str, str]:
    c = flyte.ctx()
    with flyte.custom_context(stage="inner"):
        child_view = await child_context()
    return {
        "action": c.action.name,
        "run": c.action.run_name,
        "mode": c.mode,
        "raw": c.raw_data_path.path,
        "attempt": str(c.attempt_number),
        "custom": str(sorted(flyte.get_custom_context().items())),
        "child": child_view,
        "truthy": str(bool(c)),
    }


@env.task
async def child_context() -> str:
    c = flyte.ctx()
    return f"{c.action.name != 'a0'} {sorted(c.custom_context.items())} {c.group_data}"


def test_ctx_inside_and_outside(roost_home):
    assert not flyte.ctx() and flyte.ctx().action is None
    run = flyte.with_runcontext(name="ctx-run", custom_context={"team": "ml"}).run(context_probe, 1)
    out = run.outputs()[0]
    assert out["action"] == "a0" and out["run"] == "ctx-run" and out["mode"] == "local"
    assert out["raw"].startswith(str(roost_home)) and out["attempt"] == "0" and out["truthy"] == "True"
    assert out["custom"] == "[('team', 'ml')]"
    assert out["child"] == "True [('stage', 'inner'), ('team', 'ml')] None"


@flyte.trace
def traced_helper(x: int) -> int:
    return leaf(x)  # a task call inside a traced function


@env.task
async def uses_trace(x: int) -> int:
    return traced_helper(x)


def test_trace_refuses_nested_tasks():
    assert asyncio.run(traced_helper(1)) == 2  # outside a run: a plain call
    with pytest.raises(TraceDoesNotAllowNestedTasksError):
        flyte.run(uses_trace, 1)
