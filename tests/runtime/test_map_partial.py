"""flyte.map over a functools.partial: a keyword naming the parameter the items fill is a TypeError
at map time (as in the SDK), not one failure per item inside the children."""

from __future__ import annotations

import functools

import pytest

import roost as flyte
from roost.errors import RuntimeUserError

env = flyte.TaskEnvironment(name="map_partial")


@env.task
def scaled(x: int, factor: int) -> int:
    return x * factor


@env.task
def maps_colliding(n: int) -> list[int]:
    # The items fill `x` (the first parameter not bound positionally), which the partial binds too.
    return list(flyte.map(functools.partial(scaled, x=2), range(n)))


@env.task
def maps_fine(n: int) -> list[int]:
    return list(flyte.map(functools.partial(scaled, factor=3), range(n)))


@env.task
async def maps_colliding_async(n: int) -> list[int]:
    return [r async for r in flyte.map.aio(functools.partial(scaled, x=2), range(n))]


def test_colliding_keyword_is_a_type_error_at_map_time_outside_a_run():
    with pytest.raises(TypeError, match=r"'x'.*bound by keyword"):
        flyte.map(functools.partial(scaled, x=2), [1, 2])


@pytest.mark.parametrize("task", [maps_colliding, maps_colliding_async])
def test_colliding_keyword_fails_the_mapping_task_once(task, store):
    with pytest.raises(TypeError, match=r"'x'.*bound by keyword") as info:
        flyte.run(task, 3)
    assert isinstance(info.value, RuntimeUserError)
    # no child action was started: the map itself was refused
    (run,) = store.list_runs(limit=1)
    assert [a.action_id for a in store.list_actions(run.name)] == ["a0"]


def test_a_partial_binding_other_parameters_maps_as_before():
    assert flyte.run(maps_fine, 4).outputs()[0] == [0, 3, 6, 9]
