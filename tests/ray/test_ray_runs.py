"""Runs on a real Ray cluster (the session's local head, 2 CPUs): the same programs as local runs."""

from __future__ import annotations

import os
import threading
import time

import pytest
import ray_tasks as t

import roost as flyte
from roost.errors import InitializationError, MaxQueuedTimeExceededError, MaxRuntimeExceededError
from roost.runtime.engine.executors import ray_cluster
from roost.runtime.engine.executors.ray_pool import ray_pools
from roost.store.records import ActionPhase
from roost.store.secret_store import SecretStore

TOKEN = "tok-3f9c1d2e-ray-secret"
CERT = "-----CERT 77aa-ray-----"


def test_fan_out_runs_on_the_cluster_with_the_results_of_a_local_run(on_ray, store):
    local = flyte.with_runcontext(isolation="process").run(t.fan_out, 6).outputs()
    run = flyte.run(t.fan_out, 6)  # init(ray_address=...) made Ray the default
    assert run.outputs() == local == ([0, 1, 4, 9, 16, 25],)
    actions = store.list_actions(run.name)
    assert len(actions) == 7
    assert all(a.isolation == "ray" and a.node.startswith("ray node ") for a in actions)
    assert all(a.phase is ActionPhase.SUCCEEDED for a in actions)
    assert "runs every action on the Ray cluster" in actions[0].isolation_reason
    lines = {log.line for log in store.list_logs(run.name)}
    assert {f"squaring {i}" for i in range(6)} <= lines  # output captured per action, in the store
    assert flyte.run(t.sync_fan_out, 5).outputs()[0] == [0, 1, 4, 9, 16]


def test_nested_calls_from_ray_tasks_are_one_run_tree(on_ray, store):
    run = flyte.run(t.tree, 3)  # 15 actions, nested 4 deep on a 2-CPU cluster
    assert run.outputs()[0] == 8
    actions = {a.action_id: a for a in store.list_actions(run.name)}
    assert len(actions) == 15
    children: dict[str | None, list[str]] = {}
    for a in actions.values():
        children.setdefault(a.parent_id, []).append(a.action_id)
        assert a.isolation == "ray" and a.phase is ActionPhase.SUCCEEDED
    assert children[None] == ["a0"]

    def depth(action_id: str) -> int:
        kids = children.get(action_id, [])
        assert len(kids) in (0, 2)
        return 0 if not kids else 1 + max(depth(k) for k in kids)

    assert depth("a0") == 3
    sync = flyte.run(t.sync_tree, 2)  # sync code calling sync tasks, blocking, inside Ray
    assert sync.outputs()[0] == 4 and len(store.list_actions(sync.name)) == 7


def test_a_request_larger_than_the_cluster_waits_and_one_that_fits_runs(on_ray, store):
    seen: set[ActionPhase] = set()
    outcome: list[BaseException] = []

    def run_it() -> None:
        try:
            flyte.with_runcontext(name="too-big").run(t.too_big)
        except BaseException as e:
            outcome.append(e)

    runner = threading.Thread(target=run_it)
    runner.start()
    while runner.is_alive():
        root = store.get_action("too-big", "a0")
        if root is not None:
            seen.add(root.phase)
        time.sleep(0.05)
    assert ActionPhase.WAITING_FOR_RESOURCES in seen
    assert isinstance(outcome[0], MaxQueuedTimeExceededError)
    assert "max_queued_time of 2 s" in str(outcome[0]) and "CPU 3" in str(outcome[0])
    root = store.get_action("too-big", "a0")
    assert root.phase is ActionPhase.TIMED_OUT
    assert any("waits for the Ray cluster to grow" in log.line for log in store.list_logs("too-big"))
    assert flyte.run(t.fitting).outputs()[0] == "ran"


def test_env_vars_and_secrets_reach_the_ray_task_and_nothing_else(on_ray, roost_home, store, ray_head_dir):
    secrets = SecretStore(home=roost_home, backend="file")
    secrets.set("ray-token", TOKEN, group="svc")
    secrets.set("ray-cert", CERT)
    out = flyte.with_runcontext(name="ray-secrets").run(t.use_secrets).outputs()[0]
    assert out["color"] == "teal"
    assert out["env"] == t.sha(TOKEN) and out["file"] == t.sha(CERT) and out["mode"] == "0o700"
    assert not os.path.exists(out["folder"])  # the mounted secrets went with the action
    # Ray reuses worker processes: what one action was given is gone for the next.
    assert flyte.run(t.env_probe, "SVC_RAY_TOKEN").outputs()[0] == "<absent>"
    assert flyte.run(t.env_probe, "COLOR").outputs()[0] == "<absent>"
    with pytest.raises(flyte.errors.RuntimeUserError) as failure:
        flyte.with_runcontext(name="ray-secrets-fail").run(t.fail_with_secrets)
    assert "failed on purpose" in str(failure.value)
    store.flush()
    texts = [str(failure.value), repr(failure.value), getattr(failure.value, "traceback_text", "") or ""]
    for name in ("ray-secrets", "ray-secrets-fail"):
        texts += [log.line for log in store.list_logs(name)]
        for action in store.list_actions(name):
            texts.append(repr(action))
    assert "about to fail" in "\n".join(texts)
    database = b"".join(p.read_bytes() for p in roost_home.glob("roost.db*"))
    ray_logs = b"".join(p.read_bytes() for p in ray_head_dir.rglob("*") if p.is_file() and p.stat().st_size < 50e6)
    for value in (TOKEN, CERT):
        assert all(value not in text for text in texts)
        assert value.encode() not in database
        assert value.encode() not in ray_logs  # not in Ray's records either: no runtime_env carries it


def test_a_reusable_environment_is_a_warm_actor_that_keeps_module_state(on_ray, store):
    first = flyte.run(t.remember, 1).outputs()
    second_run = flyte.run(t.remember, 2)
    second = second_run.outputs()
    assert first[0] == second[0] != os.getpid()  # the same replica served both runs
    assert second[1] == first[1] + 1 and second[2] == "yes"  # it remembered the first call
    root = store.list_actions(second_run.name)[0]
    assert root.isolation == "ray-pool" and "replica 1 of ray_warm" in root.node
    nested = flyte.run(t.warm_square, 7)
    assert nested.outputs()[0] == 49
    actions = store.list_actions(nested.name)
    assert [a.parent_id for a in actions] == [None, "a0"] and actions[1].isolation == "ray"


def test_a_replica_past_its_max_runtime_is_killed_and_replaced(on_ray):
    before = flyte.run(t.replica_pid, 0.01).outputs()[0]
    with pytest.raises(MaxRuntimeExceededError, match=r"replica \(a Ray actor\) was killed"):
        flyte.run(t.replica_pid, 30)
    after = flyte.run(t.replica_pid, 0.01).outputs()[0]
    assert after != before
    pool = next(p for p in ray_pools() if p.name == "ray_fragile")
    assert pool.started_total == 2 and len(pool.replicas) == 1


def test_a_killed_ray_worker_fails_only_its_attempt_and_the_retry_succeeds(on_ray, store, tmp_path):
    run = flyte.run(t.crash_once, str(tmp_path / "crashed"))
    assert run.outputs()[0] == "survived"
    root = store.list_actions(run.name)[0]
    assert root.attempts == 2 and root.phase is ActionPhase.SUCCEEDED
    first = store.list_attempts(run.name, "a0")[0]
    assert first.error.code == "WorkerCrashedError" and "Ray worker" in first.error.message


def test_max_runtime_cancels_the_ray_task_and_kills_sync_code(on_ray):
    started = time.monotonic()
    with pytest.raises(MaxRuntimeExceededError, match="worker process killed"):
        flyte.run(t.stuck, 60)
    with pytest.raises(MaxRuntimeExceededError, match="Ray task was cancelled"):
        flyte.run(t.stuck_async, 60)
    assert time.monotonic() - started < 30


def test_abort_cancels_the_ray_tasks_of_the_run(on_ray, store):
    def abort_soon() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.05)
            actions = store.list_actions("ray-abort")
            if len(actions) == 3 and all(a.phase is ActionPhase.RUNNING for a in actions):
                break
        store.request_abort("ray-abort")

    threading.Thread(target=abort_soon).start()
    with pytest.raises(flyte.errors.ActionAbortedError, match="aborted"):
        flyte.with_runcontext(name="ray-abort").run(t.abortable)
    phases = {a.action_id: a.phase for a in store.list_actions("ray-abort")}
    assert set(phases.values()) == {ActionPhase.ABORTED} and len(phases) == 3


def test_hybrid_runs_the_parent_here_and_its_children_on_the_cluster(on_ray, store, tmp_path):
    runner = flyte.with_runcontext(mode="hybrid", name="hybrid-run", run_base_dir=str(tmp_path / "base"))
    assert runner.run(t.fan_out, 3).outputs()[0] == [0, 1, 4]
    root, *children = store.list_actions("hybrid-run")
    assert root.isolation == "inline" and "mode='hybrid' runs the root action here" in root.isolation_reason
    assert root.node is None
    assert [c.isolation for c in children] == ["ray"] * 3
    remote = flyte.with_runcontext(mode="remote", name="remote-run").run(t.fan_out, 2)
    assert remote.outputs()[0] == [0, 1]
    assert {a.isolation for a in store.list_actions("remote-run")} == {"ray"}


def test_without_a_cluster_ray_and_remote_modes_say_what_is_missing(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(InitializationError, match="ray_address"):
        flyte.with_runcontext(isolation="ray").run(t.square, 2)
    with pytest.raises(InitializationError, match="RAY_ADDRESS"):
        flyte.with_runcontext(mode="remote").run(t.square, 2)
    with pytest.raises(ValueError, match="contradicts"):
        flyte.with_runcontext(mode="remote", isolation="process")


def test_ray_address_from_the_environment(ray_head, monkeypatch, store):
    monkeypatch.setenv("RAY_ADDRESS", ray_head)
    run = flyte.with_runcontext(isolation="ray").run(t.square, 5)
    assert run.outputs()[0] == 25 and store.list_actions(run.name)[0].isolation == "ray"
    plain = flyte.run(t.square, 5)  # RAY_ADDRESS alone does not change the default isolation
    assert store.list_actions(plain.name)[0].isolation == "inline"


def test_files_travel_through_the_blob_store_and_an_unshared_store_says_so(on_ray, monkeypatch):
    written = flyte.run(t.write_file, "hello from a Ray task").outputs()[0]
    assert flyte.run(t.read_file, written).outputs()[0] == "hello from a Ray task"
    # As if the driver were another machine: its file:// store is not visible from this node.
    cluster = ray_cluster.connected()
    monkeypatch.setattr(cluster, "driver_host", "the-driver-elsewhere")
    with pytest.raises(flyte.errors.RuntimeUserError, match="cannot see") as failure:
        flyte.run(t.write_file, "lost")
    assert "s3://" in str(failure.value) and "the-driver-elsewhere" in str(failure.value)


def test_report_true_writes_the_report_from_a_ray_task(on_ray, roost_home, store):
    run = flyte.with_runcontext(name="ray-reports").run(t.reports_from_ray)
    assert run.outputs()[0] == [1, 2]
    actions = {a.task_name: a for a in store.list_actions(run.name)}
    assert actions["ray_fan.reported"].isolation == "ray"
    folder = roost_home / "runs" / "ray-reports"
    assert "<p>ray 1</p>" in (folder / actions["ray_fan.reported"].action_id / "report.html").read_text()
    assert "<p>sync ray 2</p>" in (folder / actions["ray_fan.sync_reported"].action_id / "report.html").read_text()
    assert run.get_report() is None  # the parent logged nothing


def test_traced_calls_in_ray_tasks_are_recorded_and_replayed(on_ray, store, tmp_path):
    marks, flag = tmp_path / "marks", tmp_path / "fail"
    marks.mkdir()
    flag.write_text("1")
    with pytest.raises(RuntimeError, match="failing after the traced calls"):
        flyte.with_runcontext(name="ray-traced").run(t.traced_in_ray, str(marks), str(flag))
    traced = [a for a in store.list_actions("ray-traced") if a.isolation == "trace"]
    assert sorted(a.short_name for a in traced) == ["traced_lookup", "traced_lookup", "traced_sum"]
    assert all(a.phase is ActionPhase.SUCCEEDED and a.parent_id == "a0" for a in traced)
    flag.unlink()
    again = flyte.with_runcontext().rerun("ray-traced", recover=True)
    assert again.outputs()[0] == "AB6"
    # Each helper ran once in all: the recovered run answered them from the record, in Ray.
    assert [len((marks / n).read_text()) for n in ("lookup-a", "lookup-b", "sum")] == [1, 1, 1]
    phases = [a.phase for a in store.list_actions(again.name) if a.isolation == "trace"]
    assert phases == [ActionPhase.RECOVERED] * 3


def test_durable_time_in_a_ray_task_is_replayed_by_a_recovered_run(on_ray, store, tmp_path):
    flag = tmp_path / "fail"
    flag.write_text("1")
    with pytest.raises(RuntimeError, match="failing after the durable calls"):
        flyte.with_runcontext(name="ray-durable").run(t.durable_in_ray, str(flag))
    (read,) = [a for a in store.list_actions("ray-durable") if a.short_name == "durable_time"]
    assert read.isolation == "trace" and read.phase is ActionPhase.SUCCEEDED
    flag.unlink()
    time.sleep(0.05)
    again = flyte.with_runcontext().rerun("ray-durable", recover=True)
    first = flyte.remote.Action.get(run_name="ray-durable", name=read.action_id).outputs()[0]
    assert again.outputs()[0] == first  # the first run's instant, not a new one
