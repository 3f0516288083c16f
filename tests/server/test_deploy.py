"""Deploy, versioned tasks, Task.get / LazyEntity against a real server; their errors in local mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import roost as flyte
from roost.errors import RemoteTaskNotFoundError, RemoteTaskUsageError

from .conftest import Server, run_client

WORKFLOW = """
import roost as flyte

base = flyte.TaskEnvironment(name="dep_base")
mid = flyte.TaskEnvironment(name="dep_mid", depends_on=[base])
top = flyte.TaskEnvironment(name="dep_top", depends_on=[mid])


@base.task
async def double(x: int) -> int:
    return FACTOR * x


@mid.task
async def add_one(x: int) -> int:
    return await double(x) + 1


@top.task
async def main(x: int = 3) -> int:
    return await add_one(x)
"""


def write_workflow(project: Path, factor: int) -> None:
    (project / "wf.py").write_text(WORKFLOW.replace("FACTOR", str(factor)))


def test_deploy_in_dependency_order_then_redeploy_is_a_no_op(server: Server, project: Path):
    write_workflow(project, 2)
    done = run_client(
        project,
        """
        import sys
        import roost as flyte
        import wf

        flyte.init(endpoint=sys.argv[1])
        plan = flyte.deploy(wf.top, dry_run=True)[0]
        print("PLAN", list(plan.envs), plan.dry_run)
        print("LISTED BEFORE", [t.name for t in flyte.remote.Task.listall("dep_top.main")])
        first = flyte.deploy(wf.top)[0]
        print("FIRST", first.version == plan.version, [row[3] for row in first.table_repr()])
        again = flyte.deploy(wf.top)[0]
        print("AGAIN", again.version == first.version, [row[3] for row in again.table_repr()])
        """,
        server.url,
    )
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["PLAN"] == "['dep_base', 'dep_mid', 'dep_top'] True"
    assert lines["LISTED"] == "BEFORE []"  # the dry run registered nothing
    assert lines["FIRST"] == "True ['new', 'new', 'new']"
    assert lines["AGAIN"] == "True ['existing', 'existing', 'existing']"


def test_versions_latest_and_running_a_deployed_task(server: Server, project: Path):
    program = """
        import sys
        import roost as flyte
        import wf

        flyte.init(endpoint=sys.argv[1])
        version = flyte.deploy(wf.top, version=sys.argv[2])[0].version
        lazy = flyte.remote.Task.get("dep_top.main", auto_version="latest")
        print("LATEST", lazy.fetch().version == version)
        run = flyte.run(lazy, x=10).wait(quiet=True)
        print("OUT", run.outputs()[0])
        pinned = flyte.remote.Task.get("dep_top.main", version="lat-v1")
        print("PINNED", flyte.run(pinned, x=10).wait(quiet=True).outputs()[0])
        """
    write_workflow(project, 2)
    first = run_client(project, program, server.url, "lat-v1")
    assert "LATEST True" in first.stdout and "OUT 21" in first.stdout
    write_workflow(project, 3)  # new code: a second deploy, the newest
    second = run_client(project, program, server.url, "lat-v2")
    assert "LATEST True" in second.stdout and "OUT 31" in second.stdout
    assert "PINNED 21" in second.stdout  # the first version still runs as it was deployed
    # Other content under a version that exists is refused, and nothing of it is registered.
    refused = run_client(project, program, server.url, "lat-v1", check=False)
    assert refused.returncode != 0 and "lat-v1" in refused.stderr and "other content" in refused.stderr


def test_lazy_entity_rules_and_local_mode_errors():
    with pytest.raises(ValueError, match="version= or auto_version="):
        flyte.remote.Task.get("t")
    with pytest.raises(ValueError, match="'latest' or 'current'"):
        flyte.remote.Task.get("t", auto_version="newest")
    with pytest.raises(ValueError, match="inside a task"):
        flyte.remote.Task.get("t", auto_version="current")
    lazy = flyte.remote.Task.get("env.t", version="v1")
    assert lazy.name == "env.t" and lazy.override(short_name="x") is not lazy
    with pytest.raises(ValueError, match="remote mode"):
        flyte.run(lazy, x=1)
    with pytest.raises(RemoteTaskUsageError):
        lazy(x=1)


def test_fetching_a_task_that_is_not_deployed(server: Server):
    try:
        flyte.init(endpoint=server.url)
        lazy = flyte.remote.Task.get("no_env.nothing", auto_version="latest")
        with pytest.raises(RemoteTaskNotFoundError, match="not deployed"):
            lazy.fetch()
    finally:
        flyte.init()


def test_deploy_and_run_deployed_from_the_command_line(server: Server, project: Path, tmp_path: Path):
    write_workflow(project, 5)
    env = {**os.environ, "ROOST_HOME": str(tmp_path / "cli-home")}

    def roost(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "roost.cli.main", *args]
        return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)

    plan = roost("deploy", "wf.py", "dep_top", "--dry-run")
    assert plan.returncode == 0 and "planned" in plan.stdout
    assert "order: dep_base, dep_mid, dep_top" in plan.stderr
    done = roost("deploy", "wf.py", "--endpoint", server.url, "--version", "cli-v1")
    assert done.returncode == 0, done.stderr
    listed = roost("get", "tasks", "dep_top.main", "--endpoint", server.url)
    assert "cli-v1" in listed.stdout and "x: int" in listed.stdout
    ran = roost("run", "--endpoint", server.url, "--deployed", "dep_top.main@cli-v1", "--x", "2")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "11"
    bad = roost("run", "--endpoint", server.url, "--deployed", "dep_top.main", "--x", "two")
    assert bad.returncode == 2 and "--x must be of type int" in bad.stderr and bad.stderr.count("\n") == 1
    missing = roost("run", "--endpoint", server.url, "--deployed", "nope.task")
    assert missing.returncode == 2 and "not deployed" in missing.stderr


def test_a_server_run_calls_another_environment_only_through_depends_on(server: Server, project: Path):
    (project / "envs.py").write_text(
        """
import roost as flyte

helper_env = flyte.TaskEnvironment(name="dep_helper")
loose = flyte.TaskEnvironment(name="dep_loose")
declared = flyte.TaskEnvironment(name="dep_declared", depends_on=[helper_env])


@helper_env.task
async def helper(x: int) -> int:
    return x + 1


@loose.task
async def undeclared(x: int) -> int:
    return await helper(x)


@declared.task
async def fine(x: int) -> int:
    return await helper(x)
"""
    )
    done = run_client(
        project,
        """
        import sys
        import roost as flyte
        from envs import fine, undeclared

        flyte.init(endpoint=sys.argv[1])
        print("FINE", flyte.run(fine, x=1).wait(quiet=True).outputs()[0])
        run = flyte.run(undeclared, x=1).wait(quiet=True)
        error = run._record().error
        print("LOOSE", run.phase, error.code)
        print("WHY", error.message)
        """,
        server.url,
    )
    assert "FINE 2" in done.stdout
    assert "LOOSE failed MissingEnvironment" in done.stdout
    assert "add depends_on=[dep_helper] to the environment 'dep_loose'" in done.stdout
