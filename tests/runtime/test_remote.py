"""``flyte.remote`` over the local store: Run and Action found, listed, watched and waited on; their
details with each attempt's phase transitions; logs by attempt; one action aborted alone."""

from __future__ import annotations

import asyncio
import itertools
import threading
from datetime import timedelta
from pathlib import Path

import pytest

import roost as flyte
from roost.errors import ActionAbortedError, ActionNotFoundError
from roost.models import ActionPhase
from roost.remote import Action, ActionDetails, ActionInputs, ActionOutputs, PhaseTransitionInfo, Run
from roost.runtime.engine import capacity
from roost.runtime.engine.policies import machine_admission as resources
from roost.runtime.runs.transitions import attempt_transitions
from roost.store.records import ActionRecord

env = flyte.TaskEnvironment(name="remote")
one_cpu = flyte.TaskEnvironment(name="onecpu", resources=flyte.Resources(cpu=1))
cached = flyte.TaskEnvironment(name="cachedenv", cache="auto")


@env.task
async def square(x: int) -> int:
    print(f"square {x}")
    return x * x


@env.task
async def total(n: int) -> int:
    return sum(await asyncio.gather(*(square(i) for i in range(n))))


@env.task
async def boom() -> int:
    raise ValueError("no")


@env.task(retries=flyte.RetryStrategy(count=1, backoff=flyte.Backoff(base=timedelta(milliseconds=10))))
async def flaky(marker: str) -> str:
    print("attempt starts")
    if not Path(marker).exists():
        Path(marker).touch()
        raise RuntimeError("first attempt fails")
    return "second attempt"


@one_cpu.task
async def hold(path: str) -> str:
    while not Path(path).exists():
        await asyncio.sleep(0.01)
    return path


@env.task
async def two_holders(path: str) -> list[str]:
    return list(await asyncio.gather(hold(path), hold(path)))


@cached.task
async def cached_cube(x: int) -> int:
    return x**3


@env.task
async def uses_cache(x: int) -> int:
    return await cached_cube(x)


@env.task
async def gate(path: str) -> str:
    while not Path(path).exists():
        await asyncio.sleep(0.02)
    return "opened"


@env.task
async def catches_abort(path: str) -> str:
    try:
        return await gate(path)
    except ActionAbortedError as e:
        return f"caught: {e}"


def _consistent(transitions: list[PhaseTransitionInfo]) -> None:
    """Each phase ends when the next begins; none ends before it began."""
    for a, b in itertools.pairwise(transitions):
        assert a.end_time == b.start_time
    for t in transitions:
        assert t.end_time is not None and t.end_time >= t.start_time
        assert t.duration == t.end_time - t.start_time


def test_run_get_and_listall():
    first = flyte.run(total, 2)
    with pytest.raises(Exception):
        flyte.run(boom)
    assert Run.get(first.name).phase is ActionPhase.SUCCEEDED
    assert asyncio.run(Run.get.aio(first.name)).name == first.name
    with pytest.raises(ActionNotFoundError):
        Run.get("no-such-run")
    names = [r.name for r in Run.listall()]
    assert len(names) == 2 and names[1] == first.name  # newest first
    assert [r.name for r in Run.listall(sort_by=("created_at", "asc"))] == names[::-1]
    assert [r.name for r in Run.listall(in_phase=("succeeded",))] == [first.name]
    assert len(list(Run.listall(in_phase=(ActionPhase.SUCCEEDED, "failed")))) == 2
    assert [r.name for r in Run.listall(task_name="remote.total")] == [first.name]
    assert len(list(Run.listall(limit=1))) == 1

    async def listed() -> list[str]:
        return [r.name async for r in Run.listall.aio(in_phase=("failed",))]

    assert asyncio.run(listed()) == names[:1]
    with pytest.raises(ValueError, match="phase"):
        list(Run.listall(in_phase=("sideways",)))
    with pytest.raises(ValueError, match="with_labels"):
        list(Run.listall(with_labels={"team": "a"}))


def test_action_get_and_listall():
    run = flyte.run(total, 3)
    actions = list(Action.listall(for_run_name=run.name))
    assert next(a.name for a in actions) == "a0" and len(actions) == 4
    children = list(Action.listall(for_run_name=run.name, parent_name="a0"))
    assert len(children) == 3 and all(a.task_name == "remote.square" for a in children)
    assert list(Action.listall(for_run_name=run.name, in_phase=("failed",))) == []
    assert len(list(Action.listall(for_run_name=run.name, in_phase=(ActionPhase.SUCCEEDED,)))) == 4
    child = Action.get(run_name=run.name, name=children[1].name)
    assert child.parent_name == "a0" and child.done() and child.start_time is not None
    assert Action.get(f"{run.name}/{child.name}").name == child.name
    assert asyncio.run(Action.get.aio(run_name=run.name, name="a0")).task_name == "remote.total"
    with pytest.raises(ActionNotFoundError):
        Action.get(run_name=run.name, name="nope")


def test_details_inputs_outputs_sync_and_awaited():
    run = flyte.run(total, 3)
    details = run.action.details()
    assert isinstance(details, ActionDetails)
    assert details.done() and details.attempts == 1 and details.error_info is None
    assert isinstance(details.runtime, timedelta)

    async def read() -> tuple[ActionInputs, ActionOutputs, ActionDetails]:
        awaited = await run.action.details()  # Flyte's details() is a coroutine
        return await awaited.inputs(), await awaited.outputs(), awaited

    inputs, outputs, awaited = asyncio.run(read())
    assert inputs == {"n": 3} and outputs == (5,) and outputs.o0 == 5
    assert awaited.phase is ActionPhase.SUCCEEDED
    run_details = run.details()
    assert run_details.name == run.name and run_details.action_details.name == "a0"
    assert asyncio.run(run_details.outputs()) == (5,)


def test_each_attempt_has_its_phase_transitions(tmp_path: Path):
    run = flyte.run(flaky, str(tmp_path / "marker"))
    details = run.action.details()
    assert details.attempts == 2
    first, second = details.get_phase_transitions(1), details.get_phase_transitions(2)
    assert [t.phase for t in first] == [ActionPhase.QUEUED, ActionPhase.RUNNING]
    assert [t.phase for t in second] == [ActionPhase.QUEUED, ActionPhase.RUNNING]
    _consistent(first)
    _consistent(second)
    # The second attempt was queued (its backoff) once the first one had failed.
    assert second[0].start_time >= first[-1].end_time
    assert details.get_phase_transitions() == second  # the latest attempt by default
    assert details.get_phase_transitions(3) == []
    assert set(details.phase_durations) == {ActionPhase.QUEUED, ActionPhase.RUNNING}
    assert details.queued_time == second[0].duration and details.running_time == second[1].duration
    assert details.waiting_for_resources_time is None and details.initializing_time is None
    assert details.logs_available(1) and details.logs_available(2) and not details.logs_available(3)
    # Logs by attempt: the latest by default, each attempt its own.
    assert list(run.action.get_logs()) == ["attempt starts"]
    assert list(run.action.get_logs(attempt=1)) == ["attempt starts"]
    stamped = list(run.get_logs(attempt=1, show_ts=True))
    assert len(stamped) == 1 and stamped[0].endswith(" attempt starts") and stamped[0][:4].isdigit()


def test_waiting_for_resources_is_a_phase_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(capacity.CAPACITY_ENV, "cpu=1,memory=4Gi")
    capacity.detect.cache_clear()
    resources._MACHINE = None
    try:
        opened = tmp_path / "open"
        threading.Timer(0.3, opened.touch).start()
        run = flyte.run(two_holders, str(opened))
    finally:
        capacity.detect.cache_clear()
        resources._MACHINE = None
    holders = [a.details() for a in Action.listall(for_run_name=run.name, parent_name="a0")]
    phases = sorted([t.phase for t in d.get_phase_transitions()] for d in holders)
    # One held the only CPU; the other waited for it before it ran.
    assert phases == [
        [ActionPhase.QUEUED, ActionPhase.RUNNING],
        [ActionPhase.QUEUED, ActionPhase.WAITING_FOR_RESOURCES, ActionPhase.RUNNING],
    ]
    waited = next(d for d in holders if d.waiting_for_resources_time is not None)
    _consistent(waited.get_phase_transitions())
    assert waited.waiting_for_resources_time > timedelta(0)


def test_an_action_answered_from_the_cache_was_only_queued():
    flyte.run(uses_cache, 4)
    again = flyte.run(uses_cache, 4)
    (child,) = Action.listall(for_run_name=again.name, parent_name="a0")
    details = child.details()
    assert details.record.cache_hit
    assert [t.phase for t in details.get_phase_transitions()] == [ActionPhase.QUEUED]
    _consistent(details.get_phase_transitions())


def test_watch_and_wait_follow_a_running_run(tmp_path: Path):
    opened = tmp_path / "open"
    started: dict[str, Run] = {}

    def start() -> None:
        started["run"] = flyte.with_runcontext(name="followed").run(gate, str(opened))

    thread = threading.Thread(target=start)
    thread.start()
    for _ in range(250):  # the run exists once its row is written
        try:
            followed = Run.get("followed")
            break
        except ActionNotFoundError:
            threading.Event().wait(0.02)
    followed.wait(quiet=True, wait_for="running")
    assert not followed.done()
    opened.touch()
    seen = [d.phase for d in followed.watch()]
    assert seen[-1] is ActionPhase.SUCCEEDED
    followed.action.wait(quiet=True)
    assert followed.done()

    async def watch_ended() -> list[ActionPhase]:
        return [d.phase async for d in Action.get(run_name="followed", name="a0").watch()]

    assert asyncio.run(watch_ended()) == [ActionPhase.SUCCEEDED]
    thread.join()
    with pytest.raises(ValueError, match="wait_for"):
        followed.wait(wait_for="soon")


def test_aborting_one_action_leaves_its_run_going(tmp_path: Path):
    result: dict[str, Run] = {}

    def start() -> None:
        result["run"] = flyte.with_runcontext(name="partly").run(catches_abort, str(tmp_path / "never"))

    thread = threading.Thread(target=start)
    thread.start()
    child = None
    for _ in range(250):
        try:
            found = list(Action.listall(for_run_name="partly", parent_name="a0", in_phase=("running",)))
        except ActionNotFoundError:
            found = []
        if found:
            child = found[0]
            break
        threading.Event().wait(0.02)
    assert child is not None, "the gate action never ran"
    child.abort(reason="not needed")
    thread.join(timeout=20)
    run = result["run"]
    assert run.phase is ActionPhase.SUCCEEDED
    assert run.outputs()[0].startswith("caught: ") and "not needed" in run.outputs()[0]
    aborted = Action.get(run_name="partly", name=child.name).details()
    assert aborted.phase is ActionPhase.ABORTED
    assert aborted.abort_info is not None and "not needed" in aborted.abort_info.reason
    child.abort()  # aborting what has ended does nothing


def test_phases_between_the_first_start_and_the_end_are_read_in_order():
    """An image's virtualenv built after the first start (initializing), then running again; and a wait
    for resources before the first start: each phase once, in time order, ending where the next begins."""
    built = ActionRecord("r", "x", "a0", "t.t", "t", None, 1, ActionPhase.SUCCEEDED, attempts=1)
    built.queued_at, built.started_at, built.ended_at = 10.0, 11.0, 20.0
    built.transitions = "0:initializing:12.0;0:running:15.0;"
    (only,) = attempt_transitions(built, [])
    assert [(t.phase.value, t.duration.total_seconds()) for t in only] == [
        ("queued", 1.0),
        ("running", 1.0),
        ("initializing", 3.0),
        ("running", 5.0),
    ]
    waited = ActionRecord("r", "y", "a0", "t.t", "t", None, 2, ActionPhase.RUNNING, attempts=1)
    waited.queued_at, waited.started_at = 10.0, 13.0
    waited.transitions = "0:waiting_for_resources:11.0;0:running:13.0;"
    (current,) = attempt_transitions(waited, [])
    assert [t.phase.value for t in current] == ["queued", "waiting_for_resources", "running"]
    assert current[-1].end_time is None  # still running
