"""Runs: flyte.run / with_runcontext, the Run handle, and what the store records."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import NamedTuple

import pytest

import roost as flyte
from roost.errors import RuntimeUserError
from roost.models import ActionPhase
from roost.remote import Run

env = flyte.TaskEnvironment(name="runs")


@env.task
def add(x: int, y: int = 1) -> int:
    return x + y


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
async def nothing() -> None:
    return None


@env.task
def pair(x: int) -> tuple[int, str]:
    return x, str(x)


class Stats(NamedTuple):
    total: int
    count: int


@env.task
def stats(xs: list[int]) -> Stats:
    return Stats(sum(xs), len(xs))


@env.task
async def pipeline(n: int) -> int:
    squares = await asyncio.gather(*[square(i) for i in range(n)])
    return await add.aio(sum(squares), y=n)


def test_run_returns_a_real_run(store):
    run = flyte.run(add, 2, y=3)
    assert run.outputs() == (5,) and run.outputs().o0 == 5 and run.outputs().named_outputs == {"o0": 5}
    assert run.phase is ActionPhase.SUCCEEDED and run.done()
    assert run.name.startswith("r") and run.name != "dry-run"
    assert dict(run.inputs()) == {"x": 2, "y": 3}
    recorded = store.get_run(run.name)
    assert recorded.task_name == "runs.add" and recorded.phase is ActionPhase.SUCCEEDED
    assert recorded.ended_at >= recorded.started_at


def test_results_equal_direct_calls():
    assert flyte.run(pipeline, 6).outputs()[0] == asyncio.run(pipeline.forward(6))


def test_outputs_shapes():
    assert flyte.run(nothing).outputs() == (None,)
    out = flyte.run(pair, 4).outputs()
    assert out == (4, "4") and out.o1 == "4"
    named = flyte.run(stats, [1, 2, 3]).outputs()
    assert tuple(named) == (6, 3) and named.total == 6 and named.named_outputs["count"] == 3


def test_named_run_and_duplicate_names():
    run = flyte.with_runcontext(name="my-run").run(add, 1)
    assert run.name == "my-run"
    with pytest.raises(ValueError, match="already exists"):
        flyte.with_runcontext(name="my-run").run(add, 1)


def test_action_tree_is_recorded(store):
    run = flyte.run(pipeline, 4)
    actions = store.list_actions(run.name)
    root = actions[0]
    assert root.action_id == "a0" and root.parent_id is None and root.task_name == "runs.pipeline"
    children = actions[1:]
    assert [a.task_name for a in children] == ["runs.square"] * 4 + ["runs.add"]
    assert all(a.parent_id == "a0" and a.phase is ActionPhase.SUCCEEDED for a in children)
    assert all(a.started_at and a.ended_at and a.attempts == 1 for a in actions)
    assert len({a.action_id for a in actions}) == 6
    assert [a.name for a in run.actions()] == [a.action_id for a in actions]


def test_action_ids_are_deterministic():
    first = [a.name for a in flyte.run(pipeline, 3).actions()]
    second = [a.name for a in flyte.run(pipeline, 3).actions()]
    assert first == second


def test_bad_root_inputs_raise_before_a_run_exists(store):
    with pytest.raises(ValueError, match="missing required inputs: x"):
        flyte.run(add)
    with pytest.raises(ValueError, match="unexpected input 'z'"):
        flyte.run(add, 1, z=2)
    assert store.list_runs() == []


def test_run_refuses_plain_functions():
    def plain(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="needs a task"):
        flyte.run(plain, 1)


def test_with_runcontext_validation():
    with pytest.raises(ValueError, match="hybrid"):
        flyte.with_runcontext(mode="hybrid")
    with pytest.raises(ValueError, match="custom"):
        flyte.with_runcontext(copy_style="custom")
    with pytest.raises(ValueError, match="version"):
        flyte.with_runcontext(copy_style="none")
    for bad in (1, -1):
        with pytest.raises(ValueError, match="max_action_concurrency"):
            flyte.with_runcontext(max_action_concurrency=bad)
    with pytest.raises(ValueError, match="tracked"):
        flyte.with_runcontext(mode="remote", tracked=True)


def test_remote_mode_without_a_cluster():
    with pytest.raises(flyte.errors.InitializationError, match="cluster"):
        flyte.with_runcontext(mode="remote").run(add, 1)


def test_run_aio_on_the_callers_loop():
    async def main() -> int:
        run = await flyte.with_runcontext(mode="local").run.aio(add, 5)
        outputs = await run.outputs.aio()
        return outputs[0]

    assert asyncio.run(main()) == 6


def test_blocking_run_inside_a_running_loop():
    # As in a notebook: the blocking form must not nest or block the caller's loop.
    async def main() -> int:
        return flyte.run(add, 7).outputs()[0]

    assert asyncio.run(main()) == 8


def test_failed_run_raises_and_is_recorded(store):
    @env.task
    def boom(x: int) -> int:
        raise ValueError(f"bad {x}")

    with pytest.raises(RuntimeUserError) as info:
        flyte.with_runcontext(name="fails").run(boom, 3)
    assert info.value.code == "ValueError" and isinstance(info.value, ValueError)
    assert "bad 3" in str(info.value) and "raise ValueError" in info.value.traceback_text
    recorded = store.get_run("fails")
    assert recorded.phase is ActionPhase.FAILED and recorded.error.code == "ValueError"
    handle = Run.get("fails")
    with pytest.raises(RuntimeUserError, match="bad 3"):
        handle.outputs()
    with pytest.raises(RuntimeUserError, match="bad 3"):
        handle.raise_for_status()
    assert handle.first_failure().task_name == "runs.boom"


def test_init_with_an_endpoint_sends_runs_to_that_server():
    try:
        flyte.init(endpoint="http://127.0.0.1:9")
        assert flyte.with_runcontext().options.mode == "remote"
        with pytest.raises(flyte.errors.RuntimeUserError, match="cannot reach the roost server"):
            flyte.run(add, 1)
        assert flyte.with_runcontext(mode="local").run(add, 1).outputs()[0] == 2  # local stays local
    finally:
        flyte.init()


def test_store_is_a_real_sqlite_file(roost_home):
    flyte.run(add, 1)
    db = sqlite3.connect(roost_home / "roost.db")
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
