"""Worker cgroups: the kernel enforces memory and CPU limits, and the folders go with the workers.

Real processes in real cgroups: the memory hog is killed by the kernel's OOM killer, the busy loop is
throttled by the CFS quota. Skipped where this process cannot make cgroups (then the watchdog and
CPU pinning of test_process.py are what enforce the limits).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import roost as flyte
from roost.errors import OOMError, WorkerCrashedError
from roost.runtime.engine.executors import pool as pools
from roost.runtime.host import cgroups

from . import cgroup_tasks as t
from . import tasks


def needs(*controllers: str) -> dict[str, cgroups.Hierarchy]:
    found = cgroups.support()
    missing = [c for c in controllers if c not in found]
    if missing:
        pytest.skip(
            f"no writable cgroup hierarchy (v2, or v1) for the {' and '.join(missing)} controller of this "
            "process: the limits fall back to the watchdog and CPU pinning"
        )
    return found


@pytest.fixture(autouse=True)
def cgroups_on(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(cgroups.CGROUPS_ENV, raising=False)


def gone(folders: dict[str, str], timeout: float = 5.0) -> bool:
    """Wait until none of ``folders`` exists (the template removes them once it reaped the worker)."""
    deadline = time.monotonic() + timeout
    while any(Path(f).exists() for f in folders.values()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_the_kernel_kills_a_memory_hog_in_its_cgroup(store):
    found = needs("memory")
    with pytest.raises(OOMError) as info:
        flyte.with_runcontext(name="cg-hog").run(tasks.hog, 300)
    message = str(info.value)
    assert info.value.code == "OOMKilled"
    assert "memory limit of 120Mi" in message and f"({120 * 2**20} bytes)" in message
    assert "the kernel killed" in message and f"cgroup {found['memory'].version}" in message
    assert "watchdog" not in message  # the RSS watchdog was not even started
    node = store.get_action("cg-hog", "a0").node
    assert node.startswith("pid ") and "memory limit in cgroup" in node
    # Under the limit, the same environment runs, in a cgroup limited to exactly 120Mi.
    assert flyte.run(tasks.hog, 10).outputs()[0] == 10
    assert flyte.run(t.memory_seen).outputs()[0] == 120 * 2**20


def test_the_kernel_kills_at_a_single_memory_value(store):
    # memory="200Mi" alone: the cgroup's limit is the request, as the platform would set it.
    found = needs("memory")
    with pytest.raises(OOMError, match=r"memory limit of 200Mi") as info:
        flyte.with_runcontext(name="cg-scalar").run(tasks.hog_at_request, 400)
    assert "the kernel killed" in str(info.value) and f"cgroup {found['memory'].version}" in str(info.value)
    assert flyte.run(t.scalar_memory_seen).outputs()[0] == 200 * 2**20


def test_a_sigkill_that_is_no_oom_is_a_crash_not_an_oom(store):
    needs("memory")
    with pytest.raises(WorkerCrashedError, match=r"killed by signal 9 \(SIGKILL\)"):
        flyte.run(t.sigkill_self)


def test_the_cpu_quota_throttles_a_busy_loop(machine):
    found = needs("cpu")
    machine("cpu=2")
    seen = flyte.run(t.spin, 1.0).outputs()[0]
    assert found["cpu"].version in ("v1", "v2")
    assert seen["quota"] == "50000 100000"  # 0.5 cores: 50 ms of CPU per 100 ms period
    assert float(seen["wall"]) >= 1.0 and float(seen["cpu"]) <= 0.6 * float(seen["wall"]), seen
    assert seen["omp"] == "1"  # thread pools still sized to ceil(0.5)


def test_without_cgroups_the_busy_loop_is_pinned_not_throttled(machine, monkeypatch):
    needs("cpu")  # only meaningful where the other test shows a quota
    monkeypatch.setenv(cgroups.CGROUPS_ENV, "0")
    machine("cpu=2")
    seen = flyte.run(t.spin, 1.0).outputs()[0]
    # No quota (the CPU time it gets then depends on what else the machine runs: not asserted).
    assert seen["quota"] == "" and seen["cores"] == "1" and seen["omp"] == "1"


def test_roost_cgroups_0_keeps_workers_out_of_cgroups(monkeypatch):
    needs("memory")
    assert flyte.run(t.where).outputs()[0].keys() == {"memory"}
    monkeypatch.setenv(cgroups.CGROUPS_ENV, "0")
    assert flyte.run(t.where).outputs()[0] == {}  # the same template, asked for no cgroup


def test_cgroup_folders_go_with_their_workers(monkeypatch):
    found = needs("memory", "cpu")
    folders = flyte.run(t.where).outputs()[0]
    assert set(folders) == {"memory"}  # only the limit the task declares
    assert Path(folders["memory"]).parent == found["memory"].folder
    assert gone(folders), f"left behind: {folders}"

    monkeypatch.setenv(pools.TTL_SCALE_ENV, "0.01")  # idle_ttl 30 s -> 0.3 s
    replica = flyte.run(t.pool_where).outputs()[0]
    assert set(replica) == {"memory", "cpu"}
    assert Path(replica["memory"]).exists()  # a warm replica keeps its cgroup
    pool = next(p for p in pools.pools() if p.name == "limited-pool")
    deadline = time.monotonic() + 5
    while pool.replicas and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.replicas == []  # the pool shut down after idle_ttl
    assert gone(replica), f"left behind: {replica}"


def test_a_stale_folder_of_a_dead_template_is_swept():
    found = needs("memory")
    dead = 2**22 + 17  # above the default pid_max: no process has this pid
    stale = found["memory"].folder / cgroups.worker_name(dead, 1)
    stale.mkdir()
    mine = found["memory"].folder / cgroups.worker_name(os.getpid(), 1)
    mine.mkdir()
    try:
        cgroups.sweep(found["memory"].folder)
        assert not stale.exists() and mine.exists()  # a live template's folders stay
    finally:
        for folder in (stale, mine):
            if folder.exists():
                folder.rmdir()


def test_describe_and_the_switch():
    assert cgroups.describe({}) == ""
    assert cgroups.describe({"cpu": "v2", "memory": "v2"}) == "memory and cpu limits in cgroup v2"
    assert cgroups.describe({"memory": "v1"}) == "memory limit in cgroup v1"
    assert not cgroups.wanted({cgroups.CGROUPS_ENV: "0"}) and not cgroups.wanted({cgroups.CGROUPS_ENV: "off"})
    assert cgroups.wanted({}) and cgroups.wanted({cgroups.CGROUPS_ENV: "1"})
