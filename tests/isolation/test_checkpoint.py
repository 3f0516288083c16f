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
    from roost.runtime.task_api.checkpoint import Checkpoint

    with pytest.raises(TypeError, match="takes bytes, not str"):
        Checkpoint("/tmp/unused", None).write("epoch 3")  # type: ignore[arg-type]


def test_outside_a_task_there_is_no_checkpoint():
    assert flyte.ctx().checkpoint is None


def test_an_attempt_killed_in_its_first_write_does_not_hide_an_older_checkpoint(tmp_path):
    from roost.runtime.task_api.checkpoint import newest_checkpoint

    action = tmp_path / "a0"
    (action / "checkpoint-0").mkdir(parents=True)
    (action / "checkpoint-0" / "data").write_bytes(b"3")
    (action / "checkpoint-1").mkdir()
    (action / "checkpoint-1" / ".data.tmp-0123").write_bytes(b"half")  # killed mid-write
    (action / "checkpoint-2").mkdir()  # made its folder, saved nothing
    assert newest_checkpoint(str(action), before=3) == f"{action}/checkpoint-0"
    assert newest_checkpoint(str(action), before=0) is None


# -- the Flyte SDK's helper ----------------------------------------------------------------------------
def test_sdk_save_sync_and_load_sync_resume_from_bytes(isolation, store):
    run = flyte.with_runcontext(isolation=isolation).run(t.sdk_sync_bytes, 8)
    assert run.outputs()[0] == [1, 4]


def test_sdk_async_save_of_a_folder_loads_back_as_a_folder(isolation, tmp_path, store):
    run = flyte.with_runcontext(isolation=isolation).run(t.sdk_async_folder, str(tmp_path))
    assert run.outputs()[0] == [True, "ckpts/last.ckpt", "epoch 7", True]


def test_sdk_async_save_of_a_file_replaces_and_loads_back_as_payload(isolation, tmp_path, store):
    run = flyte.with_runcontext(isolation=isolation).run(t.sdk_async_file, str(tmp_path))
    assert run.outputs()[0] == "payload=second"


def test_sdk_names_and_errors(tmp_path):
    cp = flyte.Checkpoint(str(tmp_path / "cp-0"))
    assert isinstance(cp, flyte.BaseCheckpoint) and cp.remote_destination == str(tmp_path / "cp-0")
    assert cp.remote_source is None and not cp.prev_exists() and cp.load_sync() is None
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cp.save_sync(tmp_path / "missing")
    with pytest.raises(TypeError, match="bytes or a path"):
        cp.save_sync(42)  # type: ignore[arg-type]
    cp.save(b"kept")  # not awaited: done anyway, and no 'never awaited' warning
    assert (tmp_path / "cp-0" / "data").read_bytes() == b"kept"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing staged is left behind


def test_latest_checkpoint_ranks_by_mtime_or_by_key(tmp_path):
    import os

    for step, mtime in ((1, 300), (20, 100), (3, 200)):
        path = tmp_path / f"run-{step}" / "last.ckpt"
        path.parent.mkdir()
        path.write_text(str(step))
        os.utime(path, (mtime, mtime))
    assert flyte.latest_checkpoint(tmp_path).parent.name == "run-1"
    by_step = flyte.latest_checkpoint(tmp_path, key=lambda p: int(p.parent.name.split("-")[1]))
    assert by_step.parent.name == "run-20"
    assert flyte.latest_checkpoint(tmp_path, "*.ckpt") is None
