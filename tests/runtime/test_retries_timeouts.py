"""Retries with backoff, timeouts (max_runtime, deadline, max_queued_time) and run concurrency."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from pathlib import Path

import pytest

import roost as flyte
from roost.errors import (
    DeadlineExceededError,
    MaxRuntimeExceededError,
    NonRecoverableError,
    RuntimeUserError,
)
from roost.models import ActionPhase

env = flyte.TaskEnvironment(name="policy")
calls: dict[str, list[float]] = {}


def note(key: str) -> int:
    calls.setdefault(key, []).append(time.monotonic())
    return len(calls[key])


@env.task(retries=2)
def flaky(key: str, fail_times: int) -> int:
    n = note(key)
    if n <= fail_times:
        raise ConnectionError(f"attempt {n} failed")
    return n


@env.task(retries=flyte.RetryStrategy(3, backoff=flyte.Backoff(timedelta(seconds=0.2), 2.0, timedelta(seconds=1))))
async def backing_off(key: str) -> int:
    n = note(key)
    if n <= 2:
        raise RuntimeError(f"attempt {n}")
    return flyte.ctx().attempt_number


@env.task(retries=5)
def gives_up(key: str) -> None:
    note(key)
    raise NonRecoverableError("do not retry this")


def gaps(key: str) -> list[float]:
    times = calls[key]
    return [b - a for a, b in itertools.pairwise(times)]


def test_retry_count_and_default_backoff(store):
    run = flyte.with_runcontext(name="flaky").run(flaky, "default", 2)
    assert run.outputs()[0] == 3
    # Without a Backoff the delay before retry k is 0.5 s x 2^(k-1).
    assert [round(g, 1) for g in gaps("default")] == [0.5, 1.0]
    root = store.get_action("flaky", "a0")
    assert root.attempts == 3 and root.phase is ActionPhase.SUCCEEDED
    attempts = store.list_attempts("flaky", "a0")
    assert [a.phase for a in attempts] == [ActionPhase.FAILED, ActionPhase.FAILED, ActionPhase.SUCCEEDED]
    assert [a.error.message for a in attempts[:2]] == ["attempt 1 failed", "attempt 2 failed"]
    assert all(a.error.code == "ConnectionError" for a in attempts[:2])


def test_retries_exhausted(store):
    with pytest.raises(RuntimeUserError) as info:
        flyte.with_runcontext(name="exhausted").run(flaky, "exhaust", 5)
    assert isinstance(info.value, ConnectionError) and "attempt 3 failed" in str(info.value)
    assert len(calls["exhaust"]) == 3
    assert store.get_action("exhausted", "a0").phase is ActionPhase.FAILED


def test_backoff_strategy_and_attempt_number():
    run = flyte.run(backing_off, "backoff")
    assert run.outputs()[0] == 2  # ctx().attempt_number tells the truth: the third attempt is number 2
    assert [round(g, 1) for g in gaps("backoff")] == [0.2, 0.4]


def test_non_recoverable_error_stops_retries():
    with pytest.raises(NonRecoverableError, match="do not retry"):
        flyte.run(gives_up, "nonrec")
    assert len(calls["nonrec"]) == 1


@env.task(timeout=timedelta(seconds=0.3))
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@env.task(timeout=timedelta(seconds=0.3), retries=1)
async def slow_then_fast(key: str) -> str:
    n = note(key)
    await asyncio.sleep(1.0 if n == 1 else 0.01)
    return f"attempt {n}"


@env.task
async def parent_of_slow() -> str:
    try:
        return await slow(5.0)
    except MaxRuntimeExceededError as e:
        return f"caught {e.code}"


def test_async_max_runtime(store):
    start = time.monotonic()
    with pytest.raises(MaxRuntimeExceededError, match=r"max_runtime of 0\.3 s"):
        flyte.with_runcontext(name="slow").run(slow, 5.0)
    assert time.monotonic() - start < 2
    assert store.get_action("slow", "a0").phase is ActionPhase.TIMED_OUT
    assert store.get_run("slow").phase is ActionPhase.TIMED_OUT
    assert flyte.run(slow, 0.01).outputs()[0] == "done"


def test_max_runtime_resets_on_retry():
    assert flyte.run(slow_then_fast, "reset").outputs()[0] == "attempt 2"


def test_timeout_is_catchable_in_the_parent():
    assert flyte.run(parent_of_slow).outputs()[0] == "caught MaxRuntimeExceeded"


@env.task(timeout=flyte.Timeout(deadline=timedelta(seconds=0.5)), retries=10)
async def against_deadline(key: str) -> None:
    note(key)
    await asyncio.sleep(0.2)
    raise RuntimeError("again")


def test_deadline_spans_attempts(store):
    with pytest.raises(DeadlineExceededError, match=r"deadline of 0\.5 s"):
        flyte.with_runcontext(name="deadline").run(against_deadline, "deadline")
    assert len(calls["deadline"]) < 4
    assert store.get_action("deadline", "a0").phase is ActionPhase.TIMED_OUT


@env.task(timeout=timedelta(seconds=0.2))
def sync_sleeper(path: str) -> str:
    time.sleep(0.6)
    Path(path).write_text("finished")
    return "late"


def test_sync_timeout_inline_is_recorded_and_explained(tmp_path):
    marker = tmp_path / "marker"
    with pytest.raises(MaxRuntimeExceededError, match="isolation='process'"):
        flyte.with_runcontext(isolation="inline").run(sync_sleeper, str(marker))
    # Inline, the thread cannot be stopped: it finishes later and its result is dropped.
    time.sleep(0.8)
    assert marker.read_text() == "finished"


running = {"now": 0, "max": 0}


@env.task
async def busy(x: int) -> int:
    running["now"] += 1
    running["max"] = max(running["max"], running["now"])
    await asyncio.sleep(0.05)
    running["now"] -= 1
    return x


@env.task
async def many(n: int) -> int:
    return sum(await asyncio.gather(*[busy(i) for i in range(n)]))


def test_max_action_concurrency_limits_running_actions():
    running["max"] = 0
    assert flyte.with_runcontext(max_action_concurrency=3).run(many, 10).outputs()[0] == 45
    assert running["max"] == 2  # the parent holds one of the three slots


@env.task(timeout=flyte.Timeout(max_queued_time=timedelta(seconds=0.1)))
async def impatient(x: int) -> int:
    return x


@env.task
async def hog(seconds: float) -> int:
    await asyncio.sleep(seconds)
    return 0


@env.task
async def crowd(hold: float) -> list[str]:
    first = asyncio.ensure_future(hog(hold))  # takes the run's only free slot
    await asyncio.sleep(0.02)
    results = await asyncio.gather(first, impatient(1), return_exceptions=True)
    return [type(r).__name__ if isinstance(r, Exception) else str(r) for r in results]


def test_max_queued_time(store):
    run = flyte.with_runcontext(max_action_concurrency=2).run(crowd, 0.6)
    assert run.outputs()[0] == ["0", "MaxQueuedTimeExceededError"]
    impatient_action = next(a for a in store.list_actions(run.name) if a.task_name == "policy.impatient")
    assert impatient_action.phase is ActionPhase.TIMED_OUT and impatient_action.started_at is None
    # Given room, the same task starts at once.
    assert flyte.with_runcontext(max_action_concurrency=2).run(crowd, 0.0).outputs()[0] == ["0", "1"]
