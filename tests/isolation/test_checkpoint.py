"""Intra-task checkpoints: a retry, or a recovered run, resumes from what the last attempt saved."""

from __future__ import annotations

from pathlib import Path

import pytest

import roost as flyte
from roost.models import ActionPhase

from . import checkpoint_tasks as t


@pytest.fixture(params=["inline", "process"])
def isolation(request) -> str:
    return request.param


def test_each_retry_resumes_where_the_last_attempt_stopped(isolation, store, roost_home):
    run = flyte.with_runcontext(isolation=isolation, name=f"train-{isolation}").run(t.train, 10, [3, 6])
    assert run.outputs()[0] == [2, 6]  # the third attempt resumed at epoch 6, not 0
    root = store.get_action(run.name, "a0")
    assert root.attempts == 3 and root.phase is ActionPhase.SUCCEEDED
    folder = Path(roost_home) / "runs" / run.name / "a0"
    saved = {p.name: (p / "data").read_text() for p in folder.glob("checkpoint-*")}
    assert saved == {"checkpoint-0": "3", "checkpoint-1": "6", "checkpoint-2": "10"}


def test_a_first_attempt_has_nothing_to_resume(isolation, store):
    assert flyte.with_runcontext(isolation=isolation).run(t.first_look).outputs()[0] == [False, None, None]


def test_save_and_restore_a_folder(isolation, tmp_path, store):
    run = flyte.with_runcontext(isolation=isolation).run(t.model_files, str(tmp_path), True)
    assert run.outputs()[0] == "trained weights"
    assert (tmp_path / "restored-1" / "weights" / "layer1.txt").exists()


def test_a_recovered_run_resumes_from_the_checkpoint_of_the_run_it_recovers(isolation, tmp_path, store):
    flag = tmp_path / "stop"
    flag.write_text("1")
    name = f"long-{isolation}"
    with pytest.raises(RuntimeError, match="the machine went away"):
        flyte.with_runcontext(isolation=isolation, name=name).run(t.long_job, 8, str(flag))
    flag.unlink()
    again = flyte.with_runcontext(isolation=isolation).rerun(name, recover=True)
    assert again.outputs()[0] == 4  # resumed at epoch 4 of 8
    # A fresh run of the same task starts from nothing.
    assert flyte.with_runcontext(isolation=isolation).run(t.long_job, 8, str(flag)).outputs()[0] == 0


def test_write_takes_bytes(store):
    from roost.runtime.checkpoint import Checkpoint

    with pytest.raises(TypeError, match="takes bytes, not str"):
        Checkpoint("/tmp/unused", None).write("epoch 3")  # type: ignore[arg-type]


def test_outside_a_task_there_is_no_checkpoint():
    assert flyte.ctx().checkpoint is None


def test_an_attempt_killed_in_its_first_write_does_not_hide_an_older_checkpoint(tmp_path):
    from roost.runtime.checkpoint import newest_checkpoint

    action = tmp_path / "a0"
    (action / "checkpoint-0").mkdir(parents=True)
    (action / "checkpoint-0" / "data").write_bytes(b"3")
    (action / "checkpoint-1").mkdir()
    (action / "checkpoint-1" / ".data.tmp-0123").write_bytes(b"half")  # killed mid-write
    (action / "checkpoint-2").mkdir()  # made its folder, saved nothing
    assert newest_checkpoint(str(action), before=3) == f"{action}/checkpoint-0"
    assert newest_checkpoint(str(action), before=0) is None
