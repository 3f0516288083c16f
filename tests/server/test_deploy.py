"""Deploy, versioned tasks, Task.get / LazyEntity against a real server; their errors in local mode."""

from __future__ import annotations

import json
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

    # Inside a task of a local run: refused too (a deployed task runs where its code is, on a server).
    env = flyte.TaskEnvironment(name="lazy_local")

    @env.task
    async def calls_deployed() -> int:
        return await flyte.remote.Task.get("env.t", auto_version="latest")(x=1)

    with pytest.raises(RemoteTaskUsageError, match="only in a run on a roost server"):
        flyte.run(calls_deployed)


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


LIBRARY = """
import roost as flyte

env = flyte.TaskEnvironment(name="lib_sq")


@env.task
async def square(x: int) -> int:
    if x < 0:
        raise ValueError(f"no square of {x} here")
    return x * x


@env.task
async def sum_squares(n: int) -> int:
    total = 0
    for i in range(n):
        total += await square(i)
    return total
"""

CALLER = """
import sys

import roost as flyte

env = flyte.TaskEnvironment(name="caller")
# Its code runs in a worker process (it declares variables): the call goes through the worker protocol.
in_process = flyte.TaskEnvironment(name="caller_proc", env_vars={"WHERE": "worker"})


@in_process.task
async def via_worker(n: int) -> int:
    return await flyte.remote.Task.get("lib_sq.sum_squares", auto_version="latest")(n=n)


@env.task
async def main(n: int = 4) -> list[str]:
    total = await flyte.remote.Task.get("lib_sq.sum_squares", auto_version="latest")(n=n)
    heard = [str(total)]
    try:
        await flyte.remote.Task.get("lib_sq.square", auto_version="latest")(x=-1)
    except Exception as e:
        heard.append(f"CAUGHT {e}")
    try:
        await flyte.remote.Task.get("lib_sq.nothing", auto_version="latest")(x=1)
    except flyte.errors.RemoteTaskNotFoundError as e:
        heard.append(f"MISSING {e}")
    return heard


if __name__ == "__main__":
    flyte.init(endpoint=sys.argv[1])
    for task, kwargs in ((main, {"n": 4}), (via_worker, {"n": 3})):
        run = flyte.run(task, **kwargs)
        run.wait(quiet=True)
        print("RUN", run.name, repr(run.outputs()[0]).replace(" ", "_"))
"""


def test_a_deployed_task_called_inside_a_task_is_a_child_of_the_same_run(server: Server, tmp_path: Path):
    library, caller = tmp_path / "library", tmp_path / "caller"
    library.mkdir()
    caller.mkdir()
    (library / "lib.py").write_text(LIBRARY)
    env = {**os.environ, "ROOST_HOME": str(tmp_path / "client-home")}
    deployed = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "deploy", "lib.py", "--endpoint", server.url],
        cwd=library, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    # The caller is another project (another code bundle): it has none of the library's code.
    done = run_client(caller, CALLER, server.url)
    runs = dict(line.split()[1:] for line in done.stdout.splitlines() if line.startswith("RUN "))
    main_run, worker_run = runs
    assert runs[worker_run] == "5", done.stdout
    heard = runs[main_run]
    assert heard.startswith("['14',") and "CAUGHT" in heard and "no_square_of_-1_here" in heard, heard
    assert "MISSING" in heard and "not_deployed" in heard, heard

    def actions(run: str) -> dict[str, dict]:
        shown = subprocess.run(
            [sys.executable, "-m", "roost.cli.main", "get", "run", run, "--endpoint", server.url, "--json"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return {a["id"]: a for a in json.loads(shown.stdout)["actions"]}

    shown = actions(main_run)
    sum_action = next(a for a in shown.values() if a["task"] == "lib_sq.sum_squares")
    assert sum_action["parent"] == "a0" and "deployed version" in sum_action["isolation_reason"]
    squares = [a for a in shown.values() if a["task"] == "lib_sq.square"]
    assert len(squares) == 5  # four inside sum_squares, one called (and failing) by main itself
    assert {a["parent"] for a in squares} == {"a0", sum_action["id"]}
    failed = [a for a in shown.values() if a["phase"] == "failed"]
    assert len(failed) == 1 and "no square of -1 here" in failed[0]["error"]["message"]
    in_worker = actions(worker_run)
    assert {a["task"] for a in in_worker.values()} == {"caller_proc.via_worker", "lib_sq.sum_squares", "lib_sq.square"}
    assert in_worker["a0"]["isolation"] == "process"


IMAGES = """
import roost as flyte

BASE = flyte.Image.from_debian_base()
env = flyte.TaskEnvironment(name="with_image", image=BASE.with_pip_packages("pyjokes==0.8.3"))
bad = flyte.TaskEnvironment(name="bad_image", image=BASE.with_pip_packages("roost-test-no-such-package-3f9a==1.0"))


@env.task
async def joke() -> str:
    import importlib.metadata

    return importlib.metadata.version("pyjokes")


@bad.task
async def never() -> int:
    return 1
"""


def test_deploy_builds_the_images_first_and_registers_nothing_when_one_fails(server: Server, project: Path):
    (project / "imgs.py").write_text(IMAGES)
    done = run_client(
        project,
        """
        import sys
        import roost as flyte
        import imgs

        flyte.init(endpoint=sys.argv[1])
        try:
            flyte.deploy(imgs.bad)
        except flyte.errors.DeploymentError as e:
            print("REFUSED", e)
        print("AFTER", [t.name for t in flyte.remote.Task.listall("bad_image.never")])
        deployment = flyte.deploy(imgs.env)[0]
        print("IMAGES", deployment.images)
        run = flyte.run(flyte.remote.Task.get("with_image.joke", auto_version="latest"))
        run.wait(quiet=True)
        print("RAN", run.outputs()[0])
        """,
        server.url,
    )
    assert "REFUSED the images of bad_image.never did not build, nothing was deployed" in done.stdout
    assert "roost-test-no-such-package-3f9a" in done.stdout
    assert "AFTER []" in done.stdout
    images = next(line for line in done.stdout.splitlines() if line.startswith("IMAGES"))
    assert "with_image.joke: built the local virtualenv" in images and str(server.home / "venvs") in images
    assert "RAN 0.8.3" in done.stdout
