"""A recovered run reuses a stored output only for the same inputs: given new inputs, the root runs
again, and so does every child whose inputs change, while children called with the same inputs as
before are still recovered."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import roost as flyte
from roost.models import ActionPhase
from roost.runtime.runs.runner import load_task

PROGRAM = textwrap.dedent(
    """
    import os
    from pathlib import Path
    import roost as flyte

    env = flyte.TaskEnvironment(name="recover_inputs")

    def _mark(name: str) -> None:
        with open(Path(os.environ["MARKS"]) / name, "a") as f:
            f.write("x")

    @env.task
    async def square(i: int) -> int:
        _mark(f"square-{i}")
        return i * i

    @env.task
    async def total(n: int) -> int:
        _mark(f"total-{n}")
        result = 0
        for i in range(n):
            result += await square(i)
        return result

    @flyte.trace
    async def double(x: int) -> int:
        _mark(f"double-{x}")
        return 2 * x

    @env.task
    async def traced(x: int) -> int:
        return await double(x)
    """
)


@pytest.fixture
def program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("MARKS", str(marks))
    script = tmp_path / "recover_inputs.py"
    script.write_text(PROGRAM)
    return script


def _count(program: Path, name: str) -> int:
    path = program.parent / "marks" / name
    return len(path.read_text()) if path.exists() else 0


def test_recover_with_new_inputs_runs_the_root_again(program, store):
    flyte.with_runcontext(name="first").run(load_task(str(program), "total"), n=3)
    again = flyte.with_runcontext(name="again").rerun("first", recover=True, n=5)
    assert again.outputs()[0] == sum(i * i for i in range(5))
    assert _count(program, "total-3") == 1 and _count(program, "total-5") == 1
    # square(0..2) had the same inputs before: recovered, not run again.
    assert [_count(program, f"square-{i}") for i in range(5)] == [1, 1, 1, 1, 1]
    phases = {(a.task_name.rsplit(".", 1)[-1], a.phase) for a in store.list_actions("again")}
    assert ("total", ActionPhase.SUCCEEDED) in phases
    assert ("square", ActionPhase.RECOVERED) in phases and ("square", ActionPhase.SUCCEEDED) in phases


def test_recover_with_the_same_inputs_reuses_the_root(program, store):
    flyte.with_runcontext(name="same").run(load_task(str(program), "total"), n=2)
    again = flyte.with_runcontext(name="same-again").rerun("same", recover=True, n=2)
    assert again.outputs()[0] == 1
    assert _count(program, "total-2") == 1
    (root,) = [a for a in store.list_actions("same-again") if a.parent_id is None]
    assert root.phase is ActionPhase.RECOVERED


def test_recover_with_new_inputs_calls_a_trace_again(program, store):
    flyte.with_runcontext(name="traced").run(load_task(str(program), "traced"), x=2)
    again = flyte.with_runcontext(name="traced-again").rerun("traced", recover=True, x=4)
    assert again.outputs()[0] == 8
    assert _count(program, "double-2") == 1 and _count(program, "double-4") == 1
