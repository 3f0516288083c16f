"""Environments honoured on one machine: worker processes, env vars, secrets, limits, admission."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import roost as flyte
from roost.errors import MaxRuntimeExceededError, OOMError, ResourceExhaustedError, SecretNotFoundError
from roost.models import ActionPhase
from roost.runtime.host import cgroups
from roost.store.secret_store import SecretStore

from . import tasks

TOKEN = "tok-7f3a9c-very-secret-value"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


CERT = "-----BEGIN CERT----- c3ecr3t-cert-body -----END CERT-----"


def test_env_vars_only_in_their_environment(store):
    before = dict(os.environ)
    run = flyte.run(tasks.both)
    red, blue, plain = run.outputs()[0]
    assert red["COLOR"] == "red" and red["ONLY_RED"] == "1"
    assert blue == {"COLOR": "blue", "ONLY_RED": "", "LEVEL": "task", "RUN_LEVEL": ""}
    assert plain["COLOR"] == "" and plain["pid"] == str(os.getpid())  # plain code runs inline
    assert red["pid"] != str(os.getpid())
    assert dict(os.environ) == before  # the controller's environment is unchanged
    placement = {a.task_name: (a.isolation, a.isolation_reason) for a in store.list_actions(run.name)}
    assert placement["red.red_view"] == ("process", "declares env_vars")
    assert placement["plain.plain_view"] == ("inline", "declares nothing that needs a process of its own")


def test_run_env_vars_come_last():
    run = flyte.with_runcontext(env_vars={"RUN_LEVEL": "run", "LEVEL": "from-run"}).run(tasks.blue_view)
    assert run.outputs()[0] == {"COLOR": "blue", "ONLY_RED": "", "LEVEL": "from-run", "RUN_LEVEL": "run"}


def test_inline_isolation_warns_once(caplog):
    with caplog.at_level("WARNING", logger="roost"):
        run = flyte.with_runcontext(isolation="inline").run(tasks.red_view)
    assert run.outputs()[0]["COLOR"] == ""  # inline cannot apply it, and says so
    assert caplog.text.count("red.red_view declares env_vars") == 1


def test_forced_process_isolation(store):
    run = flyte.with_runcontext(isolation="process").run(tasks.plain_view)
    assert run.outputs()[0]["pid"] != str(os.getpid())
    assert store.get_action(run.name, "a0").isolation == "process"


def test_nested_calls_from_a_worker_are_in_the_tree(store):
    run = flyte.run(tasks.red_parent, 4)
    assert run.outputs()[0] == [0, 1, 4, 9]
    actions = store.list_actions(run.name)
    assert [a.parent_id for a in actions] == [None] + ["a0"] * 4
    assert actions[0].node.startswith("pid ") and all(a.isolation == "inline" for a in actions[1:])


def test_secrets_as_env_var_and_file_and_nowhere_else(roost_home, store):
    secrets = SecretStore(home=roost_home, backend="file")
    secrets.set("api-token", TOKEN, group="svc")
    secrets.set("cert", CERT)
    run = flyte.with_runcontext(name="secret-run").run(tasks.use_secrets)
    out = run.outputs()[0]
    assert out["env"] == sha(TOKEN) and out["file"] == sha(CERT) and out["mode"] == "0o600"
    assert "SVC_API_TOKEN" not in os.environ and not os.path.exists("/etc/flyte/secrets/cert")
    with pytest.raises(flyte.errors.RuntimeUserError) as failure:
        flyte.with_runcontext(name="secret-fail").run(tasks.echo_secret_then_fail)
    # The values appear nowhere: not in the store, the logs, the errors or the CLI's output.
    store.flush()
    database = b"".join(p.read_bytes() for p in roost_home.glob("roost.db*"))
    for value in (TOKEN, CERT):
        assert value.encode() not in database
        assert value not in str(failure.value) and value not in (failure.value.traceback_text or "")
        for line in store.list_logs("secret-fail") + store.list_logs("secret-run"):
            assert value not in line.line
    env = {**os.environ, "ROOST_HOME": str(roost_home)}
    for args in (["get", "run", "secret-run"], ["get", "run", "secret-fail"], ["get", "logs", "secret-fail"]):
        shown = subprocess.run([sys.executable, "-m", "roost.cli.main", *args], capture_output=True, text=True, env=env)
        assert TOKEN not in shown.stdout + shown.stderr and CERT not in shown.stdout + shown.stderr
    assert any("token has 28 characters" in line.line for line in store.list_logs("secret-fail"))


def test_missing_secret_fails_before_the_action_starts(store):
    with pytest.raises(SecretNotFoundError) as info:
        flyte.with_runcontext(name="no-secret").run(tasks.use_secrets)
    message = str(info.value)
    assert "api-token" in message and "svc" in message and "roost secret create" in message
    root = store.get_action("no-secret", "a0")
    assert root.phase is ActionPhase.FAILED and root.node is None  # no worker was ever started


def test_memory_hog_is_killed_at_its_limit(store, monkeypatch):
    # The fallback for machines without a writable cgroup (test_cgroups.py covers the kernel's kill).
    monkeypatch.setenv(cgroups.CGROUPS_ENV, "0")
    with pytest.raises(OOMError, match=r"memory limit of 120Mi") as info:
        flyte.with_runcontext(name="hog").run(tasks.hog, 400)
    assert info.value.code == "OOMKilled" and "memory watchdog" in str(info.value)
    assert store.get_action("hog", "a0").phase is ActionPhase.FAILED
    assert flyte.run(tasks.hog, 10).outputs()[0] == 10  # under the limit it runs


def test_a_single_memory_value_is_the_limit_too(store, monkeypatch):
    # memory="200Mi" is a request; the platform makes it the limit as well, and so does roost.
    monkeypatch.setenv(cgroups.CGROUPS_ENV, "0")
    with pytest.raises(OOMError, match=r"memory limit of 200Mi \(209715200 bytes\)") as info:
        flyte.with_runcontext(name="scalar-hog").run(tasks.hog_at_request, 400)
    assert info.value.code == "OOMKilled"
    action = store.get_action("scalar-hog", "a0")
    assert action.phase is ActionPhase.FAILED
    assert (action.isolation, action.isolation_reason) == ("process", "declares resource limits")
    assert flyte.run(tasks.hog_at_request, 10).outputs()[0] == 10  # under the request it runs


def test_a_single_cpu_value_is_the_limit_too(machine, monkeypatch):
    monkeypatch.setenv(cgroups.CGROUPS_ENV, "0")
    machine("cpu=2")
    assert flyte.run(tasks.one_cpu_affinity).outputs()[0] == {"cores": "1", "omp": "1"}


def test_admission_never_runs_more_than_capacity(machine, store):
    machine("cpu=2")
    run = flyte.run(tasks.three_cpu_tasks)
    spans = run.outputs()[0]
    assert len(spans) == 3
    # At no moment were three 1-CPU actions running on the 2 cores.
    for t, _ in spans:
        assert sum(1 for start, end in spans if start <= t < end) <= 2
    children = store.list_actions(run.name)[1:]
    assert all(a.phase is ActionPhase.SUCCEEDED for a in children)


def test_a_request_the_machine_can_never_meet_fails_at_once(machine):
    machine("cpu=2,memory=1Gi")
    big = tasks.too_big.override(resources=flyte.Resources(cpu="8", memory="64Gi"))

    @tasks.plain.task
    async def asks_too_much() -> None:
        await big.aio()

    with pytest.raises(ResourceExhaustedError, match=r"can never start here"):
        flyte.run(asks_too_much)


def test_cpu_limit_pins_the_worker(machine, monkeypatch):
    monkeypatch.setenv(cgroups.CGROUPS_ENV, "0")  # with a cgroup, its quota replaces pinning (test_cgroups.py)
    machine("cpu=2")
    assert flyte.run(tasks.affinity).outputs()[0] == {"cores": "1", "omp": "1"}


def test_gpus_are_granted_through_cuda_visible_devices(machine):
    machine("cpu=2,gpu=2")
    assert flyte.run(tasks.sees_gpu).outputs()[0] in ("0", "1")
    assert flyte.run(tasks.sees_no_gpu).outputs()[0] == ""


def test_sync_timeout_kills_the_worker(tmp_path, store):
    marker = tmp_path / "marker"
    with pytest.raises(MaxRuntimeExceededError, match="was killed"):
        flyte.with_runcontext(name="stuck").run(tasks.stuck, str(marker))
    pid = int(store.get_action("stuck", "a0").node.split()[1])
    time.sleep(3.2)
    assert not marker.exists()
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z"  # gone (or a zombie awaiting its reaper)
    assert store.get_action("stuck", "a0").phase is ActionPhase.TIMED_OUT


def test_a_crashed_worker_fails_its_action_and_retries_apply(tmp_path, store):
    run = flyte.with_runcontext(name="crashy", isolation="process").run(tasks.crashes_once, str(tmp_path / "crashed"))
    assert run.outputs()[0].startswith("recovered in")
    attempts = store.list_attempts("crashy", "a0")
    assert attempts[0].error.code == "WorkerCrashedError"
    assert "killed by signal 11 (SIGSEGV)" in attempts[0].error.message
    assert attempts[1].phase is ActionPhase.SUCCEEDED


def test_no_secret_in_sqlite_even_when_queried_directly(roost_home, store):
    SecretStore(home=roost_home, backend="file").set("api-token", TOKEN, group="svc")
    SecretStore(home=roost_home, backend="file").set("cert", CERT)
    flyte.run(tasks.use_secrets)
    store.flush()
    db = sqlite3.connect(roost_home / "roost.db")
    for table in ("runs", "actions", "attempts", "logs"):
        for row in db.execute(f"SELECT * FROM {table}"):
            assert not any(TOKEN in str(cell) or CERT in str(cell) for cell in row)


def test_a_secret_from_the_launching_environment_reaches_only_its_tasks(monkeypatch):
    monkeypatch.setenv("SVC_API_TOKEN", TOKEN)  # the secret store's fallback: a variable of its name
    monkeypatch.setenv("CERT", CERT)
    assert flyte.run(tasks.use_secrets).outputs()[0]["env"] == sha(TOKEN)
    assert flyte.run(tasks.env_probe, "SVC_API_TOKEN").outputs()[0] == "<absent>"
