"""Failures crossing action boundaries, abort, and per-action logs."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time

import pytest

import roost as flyte
from roost.errors import ActionAbortedError, OOMError, RuntimeUserError
from roost.models import ActionPhase

env = flyte.TaskEnvironment(name="fail")


class QuotaError(Exception):
    def __init__(self, message: str, limit: int):
        super().__init__(message)
        self.limit = limit


@env.task
async def child_raises(kind: str) -> int:
    if kind == "value":
        raise ValueError("bad value")
    if kind == "quota":
        raise QuotaError("over quota", limit=7)
    if kind == "room":
        raise type("RoomError", (Exception,), {})("no room")
    return 1


@env.task
async def parent_catches(kind: str) -> str:
    try:
        await child_raises(kind)
    except ValueError as e:  # a child's ValueError is still a ValueError here
        return f"ValueError {e.code} {e}"
    except QuotaError as e:
        return f"QuotaError limit={e.limit}"
    return "no error"


@env.task
async def parent_lets_it_fail(kind: str) -> int:
    return await child_raises(kind)


def test_except_original_class_in_parent():
    assert flyte.run(parent_catches, "value").outputs()[0] == "ValueError ValueError bad value"
    assert flyte.run(parent_catches, "quota").outputs()[0] == "QuotaError limit=7"


def test_failure_propagates_to_the_run(store):
    with pytest.raises(RuntimeUserError) as info:
        flyte.with_runcontext(name="propagates").run(parent_lets_it_fail, "value")
    err = info.value
    assert err.code == "ValueError" and isinstance(err, ValueError) and "bad value" in str(err)
    assert 'raise ValueError("bad value")' in err.traceback_text
    actions = store.list_actions("propagates")
    assert [a.phase for a in actions] == [ActionPhase.FAILED, ActionPhase.FAILED]
    assert actions[1].error.code == "ValueError" and "raise ValueError" in actions[1].error.traceback


def test_code_mapping_applies():
    # A code containing "OOM" (case-insensitively) surfaces as OOMError, as on the platform.
    with pytest.raises(OOMError):
        flyte.run(parent_lets_it_fail, "room")


@env.task
async def sleeps_long(seconds: float) -> None:
    await asyncio.sleep(seconds)


@env.task
def sync_sleeps(seconds: float) -> None:
    time.sleep(seconds)


@env.task
async def abortable() -> None:
    await asyncio.gather(sleeps_long(30.0), sleeps_long(30.0), sync_sleeps.aio(0.5))


def test_abort_cancels_every_running_action(store):
    def abort_soon() -> None:
        for _ in range(100):
            time.sleep(0.05)
            if len(store.list_actions("to-abort")) == 4:
                break
        store.request_abort("to-abort")

    threading.Thread(target=abort_soon).start()
    start = time.monotonic()
    with pytest.raises(ActionAbortedError, match="aborted"):
        flyte.with_runcontext(name="to-abort").run(abortable)
    assert time.monotonic() - start < 5
    phases = {a.task_name: a.phase for a in store.list_actions("to-abort")}
    assert phases["fail.abortable"] is ActionPhase.ABORTED and phases["fail.sleeps_long"] is ActionPhase.ABORTED
    assert store.get_run("to-abort").phase is ActionPhase.ABORTED


@env.task
async def talks(n: int) -> int:
    print("out line", n)
    print("err line", file=sys.stderr)
    logging.getLogger("user.code").warning("careful %d", n)
    await quiet_child.aio(n)
    return n


@env.task
def quiet_child(n: int) -> None:
    print(f"child says {n}")


def test_logs_are_captured_per_action(store, capsys):
    run = flyte.run(talks, 4)
    logs = store.list_logs(run.name)
    by_action: dict[str, list[tuple[str, str]]] = {}
    for line in logs:
        by_action.setdefault(line.action_id, []).append((line.stream, line.line))
    root = by_action.pop("a0")
    assert ("stdout", "out line 4") in root and ("stderr", "err line") in root
    assert ("log", "WARNING user.code: careful 4") in root
    assert list(by_action.values()) == [[("stdout", "child says 4")]]
    assert "out line 4" in capsys.readouterr().out  # still printed where it always was
