"""Remote runs on a real server process, from client programs in other processes."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

from .conftest import Server, run_client

TASKS = """
import asyncio
import os

import roost as flyte

env = flyte.TaskEnvironment(name="remote_tasks")
warm = flyte.TaskEnvironment(name="warm_pool", reusable=flyte.ReusePolicy(replicas=1, idle_ttl=300))


@env.task
async def greet(name: str) -> str:
    print(f"greeting {name}")
    return f"Hello, {name}!"


@env.task
async def fan(n: int) -> list[str]:
    return list(await asyncio.gather(*[greet(str(i)) for i in range(n)]))


@env.task
async def sleepy(seconds: float) -> str:
    print("going to sleep")
    await asyncio.sleep(seconds)
    return "woke"


@warm.task
async def pid() -> int:
    return os.getpid()


@env.task
def add(a: int, b: int) -> int:
    return a + b
"""


def write_tasks(project: Path) -> None:
    (project / "tasks.py").write_text(TASKS)


def test_seed_004_remote_run_gives_outputs_and_a_url(server: Server, project: Path):
    write_tasks(project)
    done = run_client(
        project,
        """
        import asyncio, sys
        import roost as flyte
        from tasks import greet

        async def main():
            flyte.init(endpoint=sys.argv[1])
            remote_run = await flyte.with_runcontext(mode="remote", name="my-remote-greeting").run.aio(
                greet, name="Remote User"
            )
            print("URL", remote_run.url)
            await remote_run.wait.aio()
            remote_result = await remote_run.outputs.aio()
            print("OUT", remote_result[0])
            print("PHASE", remote_run.phase)

        if __name__ == "__main__":
            asyncio.run(main())
        """,
        server.url,
    )
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines["OUT"] == "Hello, Remote User!"
    assert lines["PHASE"] == "succeeded"
    assert lines["URL"] == f"{server.url}/runs/my-remote-greeting"
    page = json.loads(urllib.request.urlopen(lines["URL"]).read())
    assert page["name"] == "my-remote-greeting" and page["phase"] == "succeeded" and page["mode"] == "remote"
    assert [a["short_name"] for a in page["actions"]] == ["greet"]
    # The client's own store holds nothing: the run is the server's.
    assert not (project.parent / "client-home" / "runs").exists()


def test_flyte_run_defaults_to_the_server_and_run_get_listall_read_from_it(server: Server, project: Path):
    write_tasks(project)
    done = run_client(
        project,
        """
        import sys
        import roost as flyte
        from tasks import fan

        flyte.init(endpoint=sys.argv[1])
        run = flyte.run(fan, n=4)          # an endpoint makes remote the default mode
        run.wait(quiet=True)
        print(run.name)
        print(list(run.outputs()[0]))
        again = flyte.remote.Run.get(run.name)
        print(again.phase, len(again.actions()))
        print(run.name in [r.name for r in flyte.remote.Run.listall(limit=20)])
        child = [a for a in again.actions() if a.name != "a0"][0]
        print("LOGS", list(child.get_logs()))
        """,
        server.url,
    )
    _name, outputs, phase_line, listed, logs = done.stdout.splitlines()[-5:]
    assert outputs == str([f"Hello, {i}!" for i in range(4)])
    assert phase_line == "succeeded 5"
    assert listed == "True"
    assert "greeting" in logs


def test_the_bundle_is_sent_once(server: Server, project: Path):
    write_tasks(project)
    program = """
        import sys
        import roost as flyte
        from roost.runtime import code_bundles
        from roost.runtime.runs import server_client
        from tasks import add

        flyte.init(endpoint=sys.argv[1])
        bundle = code_bundles.pack("loaded_modules")
        print("SENT", server_client.configured().upload_bundle(bundle.digest, bundle.data))
        for i in range(2):
            print("RESULT", flyte.run(add, a=i, b=1).wait(quiet=True).outputs()[0])
        """
    first = run_client(project, program, server.url)
    second = run_client(project, program, server.url)
    assert "RESULT 1" in first.stdout and "RESULT 2" in first.stdout
    # Either an earlier test's process sent this very bundle, or the first did; the second never does.
    assert "SENT False" in second.stdout
    bundles = list((server.home / "server" / "bundles").iterdir())
    assert len({b.name for b in bundles}) == len(bundles)


def test_reusable_pool_stays_warm_across_runs(server: Server, project: Path):
    write_tasks(project)
    program = """
        import sys
        import roost as flyte
        from tasks import pid

        flyte.init(endpoint=sys.argv[1])
        print("PID", flyte.run(pid).wait(quiet=True).outputs()[0])
        """
    first = run_client(project, program, server.url)
    second = run_client(project, program, server.url)
    pid_of = lambda done: int(done.stdout.split("PID ")[1].split()[0])  # noqa: E731
    assert pid_of(first) == pid_of(second)  # the second run's call went to the same replica


def test_abort_from_the_client(server: Server, project: Path):
    write_tasks(project)
    done = run_client(
        project,
        """
        import sys, time
        import roost as flyte
        from tasks import sleepy

        flyte.init(endpoint=sys.argv[1])
        run = flyte.run(sleepy, seconds=60)
        run.wait(wait_for="running", quiet=True)
        time.sleep(0.3)
        started = time.monotonic()
        run.abort()
        run.wait(quiet=True)
        print("PHASE", run.phase, round(time.monotonic() - started) < 20)
        """,
        server.url,
    )
    assert "PHASE aborted True" in done.stdout


def test_many_clients_at_once(server: Server, project: Path):
    write_tasks(project)
    done = run_client(
        project,
        """
        import sys, threading
        import roost as flyte
        from roost.runtime.runs.server_client import ServerClient
        from tasks import add

        flyte.init(endpoint=sys.argv[1])
        flyte.run(add, a=0, b=0).wait(quiet=True)   # the bundle is on the server and its host is up
        results, errors = [], []

        def client(index):
            try:
                for j in range(3 if index < 10 else 2):  # 50 runs from 20 clients
                    run = flyte.with_runcontext(name=f"many-{index}-{j}").run(add, a=index, b=j)
                    results.append((run.wait(quiet=True).outputs()[0], index + j))
            except Exception as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print("ERRORS", errors)
        print("RUNS", len(results), all(got == want for got, want in results))
        """,
        server.url,
    )
    assert "ERRORS []" in done.stdout
    assert "RUNS 50 True" in done.stdout


def test_a_taken_name_and_a_missing_task_are_clear_errors(server: Server, project: Path):
    write_tasks(project)
    done = run_client(
        project,
        """
        import sys
        import roost as flyte
        from tasks import add

        flyte.init(endpoint=sys.argv[1])
        flyte.with_runcontext(name="taken-name").run(add, a=1, b=2).wait(quiet=True)
        try:
            flyte.with_runcontext(name="taken-name").run(add, a=1, b=2)
        except Exception as e:
            print("ERR", type(e).__name__, e)
        """,
        server.url,
        check=False,
    )
    assert "ERR ServerError" in done.stdout and "taken-name" in done.stdout and "409" in done.stdout


def test_server_unreachable_is_one_line(project: Path):
    write_tasks(project)
    done = run_client(
        project,
        """
        import roost as flyte
        from tasks import add

        flyte.init(endpoint="http://127.0.0.1:9")
        flyte.run(add, a=1, b=2)
        """,
        check=False,
    )
    assert done.returncode != 0
    assert "cannot reach the roost server at http://127.0.0.1:9" in done.stderr
    assert "roost server start" in done.stderr


def test_concurrent_reads_while_runs_go(server: Server):
    errors: list[str] = []

    def read() -> None:
        for _ in range(20):
            try:
                json.loads(urllib.request.urlopen(f"{server.url}/api/v1/runs?limit=5").read())
            except Exception as e:  # pragma: no cover - reported below
                errors.append(repr(e))

    threads = [threading.Thread(target=read) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []


def test_roost_get_reads_through_the_api(server: Server, project: Path, tmp_path: Path):
    import os
    import subprocess
    import sys

    write_tasks(project)
    done = run_client(
        project,
        """
        import sys
        import roost as flyte
        from tasks import fan
        flyte.init(endpoint=sys.argv[1])
        print(flyte.with_runcontext(name="read-me-back").run(fan, n=2).wait(quiet=True).name)
        """,
        server.url,
    )
    assert done.stdout.strip().endswith("read-me-back")
    env = {**os.environ, "ROOST_HOME": str(tmp_path / "elsewhere")}  # a store that has none of it

    def roost(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "roost.cli.main", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    listed = roost("get", "runs", "--endpoint", server.url)
    assert listed.returncode == 0 and "read-me-back" in listed.stdout
    tree = roost("get", "run", "read-me-back", "--endpoint", server.url)
    assert tree.returncode == 0 and "SUCCEEDED" in tree.stdout and "greet" in tree.stdout
    logs = roost("get", "logs", "read-me-back", "--endpoint", server.url)
    assert "greeting 0" in logs.stdout and "greeting 1" in logs.stdout
    io = roost("get", "io", "read-me-back", "--endpoint", server.url)
    assert "Hello, 0!" in io.stdout
    missing = roost("get", "run", "nope", "--endpoint", server.url)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "no run named 'nope'" in missing.stderr
    unreachable = roost("get", "runs", "--endpoint", "http://127.0.0.1:9")
    assert unreachable.returncode == 1 and unreachable.stderr.count("\n") == 1
    assert "cannot reach the roost server" in unreachable.stderr and "Traceback" not in unreachable.stderr
    local = roost("get", "runs")
    assert "read-me-back" not in local.stdout
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {server.url}\n")
    via_config = roost("-c", str(config), "get", "run", "read-me-back")
    assert via_config.returncode == 0 and "SUCCEEDED" in via_config.stdout


HYBRID = """
import asyncio
import os
import sys

import roost as flyte

env = flyte.TaskEnvironment(name="hybrid_tasks")


@env.task
async def child(i: int) -> tuple[int, int]:
    print(f"child {i}")
    return i * i, os.getpid()


@env.task
async def parent(n: int) -> tuple[list[int], int, list[int]]:
    print("parent runs here")
    results = await asyncio.gather(*[child(i) for i in range(n)])
    return [v for v, _ in results], os.getpid(), sorted({pid for _, pid in results})


if __name__ == "__main__":
    flyte.init(endpoint=sys.argv[1])
    run = flyte.with_runcontext(mode="hybrid", name=sys.argv[2], run_base_dir=sys.argv[3]).run(parent, n=3)
    squares, parent_pid, child_pids = run.outputs()
    print("OUT", squares, parent_pid == os.getpid(), os.getpid() not in child_pids)
    for action in run.actions():
        print("ACTION", action.name, action._record.parent_id, action._record.isolation, action.phase)
    print("LOGS", [line.line for line in run._store.list_logs(run.name)])
"""


def test_hybrid_runs_the_parent_here_and_its_children_on_the_server(server: Server, project: Path, tmp_path: Path):
    done = run_client(project, HYBRID, server.url, "hybrid-tree", str(tmp_path / "base"))
    assert "OUT [0, 1, 4] True True" in done.stdout
    actions = [line.split()[1:] for line in done.stdout.splitlines() if line.startswith("ACTION")]
    assert actions[0] == ["a0", "None", "client", "succeeded"]
    assert len(actions) == 4 and all(a[1] == "a0" and a[3] == "succeeded" for a in actions[1:])
    # One tree on the server: the parent's output lines (sent from here) beside its children's.
    logs = done.stdout.split("LOGS ", 1)[1]
    assert "parent runs here" in logs and "child 2" in logs
    page = json.loads(urllib.request.urlopen(f"{server.url}/runs/hybrid-tree").read())
    assert page["mode"] == "hybrid" and len(page["actions"]) == 4


def test_a_new_version_of_the_code_gets_new_replicas_and_the_old_ones_drain(server: Server, project: Path):
    import os
    import time

    program = """
        import sys
        import roost as flyte
        from tasks import pid

        flyte.init(endpoint=sys.argv[1])
        print("PID", flyte.run(pid).wait(quiet=True).outputs()[0])
        """
    pid_of = lambda done: int(done.stdout.split("PID ")[1].split()[0])  # noqa: E731
    write_tasks(project)
    (project / "tasks.py").write_text(TASKS + "\nVERSION = 1\n")
    first = pid_of(run_client(project, program, server.url))
    (project / "tasks.py").write_text(TASKS + "\nVERSION = 2\n")  # a new bundle
    second = pid_of(run_client(project, program, server.url))
    assert second != first
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(first, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the old version's replica {first} is still up")
    # The new version's replica stays warm for the next run.
    assert pid_of(run_client(project, program, server.url)) == second


def test_copy_style_none_runs_code_the_server_can_import(tmp_path: Path, monkeypatch):
    from .conftest import start_server, stop_server

    installed = tmp_path / "installed"
    installed.mkdir()
    (installed / "shipped_tasks.py").write_text(TASKS)
    monkeypatch.setenv("PYTHONPATH", str(installed))  # the server's environment has the code
    server = start_server(tmp_path / "server-home")
    try:
        project = tmp_path / "project"
        project.mkdir()
        done = run_client(
            project,
            """
            import sys
            import roost as flyte
            from shipped_tasks import add

            flyte.init(endpoint=sys.argv[1])
            run = flyte.with_runcontext(copy_style="none", version="v1").run(add, a=20, b=22).wait(quiet=True)
            run.raise_for_status()
            print("OUT", run.outputs()[0], dict(run.inputs()), run.details().phase)
            """,
            server.url,
        )
    finally:
        stop_server(server)
    assert "OUT 42 {'a': 20, 'b': 22} succeeded" in done.stdout
    assert not (server.home / "server" / "bundles").exists()  # nothing was sent
