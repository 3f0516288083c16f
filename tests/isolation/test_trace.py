"""@flyte.trace: helper calls recorded as pseudo-actions, inline and in worker processes, and
answered from the record when a recovered run makes them again."""

from __future__ import annotations

import pytest

import roost as flyte
from roost.models import ActionPhase
from roost.runtime import values

from . import trace_tasks

EXPECTED = 10 + 20 + 10 + 3 + 1000 + 3 + 3


def marks_of(marks, name: str) -> int:
    path = marks / name
    return len(path.read_text()) if path.exists() else 0


def traced_records(store, run_name: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for action in store.list_actions(run_name):
        if action.isolation == "trace":
            found.setdefault(action.short_name, []).append(action)
    return found


@pytest.mark.parametrize("isolation", ["inline", "process"])
def test_traced_calls_are_recorded_with_inputs_outputs_and_errors(tmp_path, store, isolation):
    run = flyte.with_runcontext(isolation=isolation).run(trace_tasks.pipeline, str(tmp_path), str(tmp_path / "none"))
    assert run.outputs()[0] == EXPECTED
    traced = traced_records(store, run.name)
    assert sorted(traced) == ["count_down", "count_up", "fetch", "flaky", "tokenize"]
    fetches = traced["fetch"]
    # Two identical calls are two pseudo-actions (their call position differs), each with its values.
    assert len(fetches) == 3 and len({a.action_id for a in fetches}) == 3
    root = store.get_action(run.name, "a0")
    assert root.isolation == ("inline" if isolation == "inline" else "process")
    for action in fetches:
        assert action.parent_id == "a0" and action.phase is ActionPhase.SUCCEEDED
        assert action.task_name == f"{trace_tasks.__name__}.fetch"
        assert action.started_at <= action.ended_at
    pairs = sorted((values.decode_inputs(None, a.inputs)["x"], values.decode_outputs(None, a.outputs)) for a in fetches)
    assert pairs == [(1, 10), (1, 10), (2, 20)]
    (tokenize,) = traced["tokenize"]
    assert values.decode_outputs(None, tokenize.outputs) == ["a", "b", "c"]
    (flaky,) = traced["flaky"]
    assert flaky.phase is ActionPhase.FAILED
    assert flaky.error.code == "LookupError" and "the service said no" in flaky.error.message
    for name in ("count_up", "count_down"):
        (gen,) = traced[name]
        assert gen.phase is ActionPhase.SUCCEEDED and gen.outputs is None  # recorded, not replayable


@pytest.mark.parametrize("isolation", ["inline", "process"])
def test_a_recovered_run_answers_traced_calls_from_the_record(tmp_path, store, isolation):
    marks = tmp_path / "marks"
    marks.mkdir()
    flag = tmp_path / "fail"
    flag.write_text("1")
    name = f"traced-{isolation}"
    with pytest.raises(RuntimeError, match="failing after the traced calls"):
        flyte.with_runcontext(name=name, isolation=isolation).run(trace_tasks.pipeline, str(marks), str(flag))
    assert (marks_of(marks, "fetch-1"), marks_of(marks, "fetch-2"), marks_of(marks, "tokenize")) == (2, 1, 1)
    flag.unlink()

    again = flyte.with_runcontext(isolation=isolation).rerun(name, recover=True)
    assert again.outputs()[0] == EXPECTED
    # The helpers that succeeded ran once in all; the one that failed ran again.
    assert (marks_of(marks, "fetch-1"), marks_of(marks, "fetch-2"), marks_of(marks, "tokenize")) == (2, 1, 1)
    assert marks_of(marks, "flaky") == 2
    traced = traced_records(store, again.name)
    assert [a.phase for a in traced["fetch"]] == [ActionPhase.RECOVERED] * 3
    assert [a.phase for a in traced["tokenize"]] == [ActionPhase.RECOVERED]
    assert [a.phase for a in traced["flaky"]] == [ActionPhase.FAILED]


@pytest.mark.parametrize("isolation", ["inline", "process"])
def test_a_sync_helper_in_a_sync_task(tmp_path, store, isolation):
    run = flyte.with_runcontext(isolation=isolation).run(trace_tasks.sync_pipeline, str(tmp_path))
    assert run.outputs()[0] == 2
    (tokenize,) = traced_records(store, run.name)["tokenize"]
    assert values.decode_outputs(None, tokenize.outputs) == ["one", "two"]


def test_outside_a_task_a_traced_helper_is_a_plain_call(tmp_path, store):
    assert trace_tasks.tokenize(str(tmp_path), "x y") == ["x", "y"]
    assert list(trace_tasks.count_up(2)) == [0, 1]
    assert store.list_runs() == []


@pytest.mark.parametrize("isolation", ["inline", "process"])
def test_what_cannot_be_recorded_never_breaks_the_helper(store, isolation):
    run = flyte.with_runcontext(isolation=isolation).run(trace_tasks.uses_unrecordable)
    assert run.outputs()[0].startswith("db: ") and "positional argument" in run.outputs()[0]
    (client,) = traced_records(store, run.name)["open_client"]
    assert client.phase is ActionPhase.SUCCEEDED and client.outputs is None  # recorded, not replayable
    assert "takes_one" not in traced_records(store, run.name)  # the wrong call ran unrecorded
