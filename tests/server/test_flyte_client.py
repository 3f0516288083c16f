"""The unmodified Flyte client against a real roost server: ``flyte run`` (tasks, a fan-out, a chain, a
failure, ``--follow``), ``flyte.remote.Run`` (outputs, listall, abort), env vars, a secret and a memory
limit from the task's environment -- and no call to a method the server does not serve.

The client is the real ``flyte`` package, pinned (``FLYTE_VERSION``), in a virtualenv of its own that
this module creates once and keeps (``~/.cache/roost-flyte/flyte-<version>``, or the interpreter named by
``ROOST_TEST_FLYTE_PYTHON``); roost never imports it. The same virtualenv is the server's Flyte runtime.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import Server, start_server, stop_server

pytest.importorskip("flyteidl2", reason="the roost[flyte] extra is not installed")
pytest.importorskip("connectrpc", reason="the roost[flyte] extra is not installed")

FLYTE_VERSION = "2.12.1"
PROGRAMS = Path(__file__).parent / "flyte_programs"
UNSERVED_MARK = "flyte client called an unserved method"


def _flyte_python() -> Path:
    configured = os.environ.get("ROOST_TEST_FLYTE_PYTHON")
    if configured:
        return Path(configured)
    venv = Path.home() / ".cache" / "roost-flyte" / f"flyte-{FLYTE_VERSION}"
    python = venv / "bin" / "python"
    if python.exists() and (venv / "bin" / "a0").exists():
        return python
    from roost.images.installs import find_uv

    uv = find_uv()
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    made = subprocess.run([uv, "venv", "-q", "--python", "3.11", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        made = subprocess.run([uv, "venv", "-q", str(venv)], capture_output=True, text=True)
    installed = subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), f"flyte=={FLYTE_VERSION}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if made.returncode != 0 or installed.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        pytest.skip(f"could not install flyte=={FLYTE_VERSION}: {(made.stderr + installed.stderr)[-400:]}")
    return python


@pytest.fixture(scope="module")
def flyte_python() -> Path:
    return _flyte_python()


class FlyteClient:
    """The flyte CLI and SDK of the pinned virtualenv, configured for one roost server."""

    def __init__(self, python: Path, server: Server, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.python = python
        self.server = server
        self.folder = folder
        port = server.url.rsplit(":", 1)[1]
        # The client keeps its caches (uploaded bundles) beside its config: one folder per server.
        self.config = folder / "config.yaml"
        self.config.write_text(
            "admin:\n"
            f"  endpoint: dns:///127.0.0.1:{port}\n"
            "  insecure: true\n"
            "task:\n"
            "  org: roost\n"
            "  project: demo\n"
            "  domain: development\n"
        )
        shutil.copy(PROGRAMS / "flyte_tasks.py", folder / "flyte_tasks.py")
        shutil.copy(PROGRAMS / "flyte_app.py", folder / "flyte_app.py")

    def cli(self, *args: str, timeout: float = 180, **env_vars: str) -> subprocess.CompletedProcess[str]:
        # Unbuffered: what the CLI printed survives the abort below.
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1", **env_vars}
        return subprocess.run(
            [str(self.python.parent / "flyte"), "-c", str(self.config), *args],
            cwd=self.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @staticmethod
    def ok(done: subprocess.CompletedProcess[str]) -> bool:
        """Whether a CLI command did its work. The flyte CLI (2.12.1) can abort at exit, after its work,
        when its HTTP runtime is torn down with a stream still open (SIGABRT, nothing on stderr): the
        tests then check the command's effect, which they do anyway."""
        return done.returncode == 0 or (done.returncode == -signal.SIGABRT and "Error" not in done.stdout)

    def run(self, task: str, *args: str, follow: bool = False) -> str:
        """``flyte run`` a task of flyte_tasks.py; the run's name."""
        done = self.cli("run", *(["--follow"] if follow else []), "flyte_tasks.py", task, *args)
        match = re.search(r"Created Run: ([a-z0-9]+)", done.stdout + done.stderr)
        assert match, f"flyte run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        self.last_output = done.stdout + done.stderr
        return match[1]

    def sdk(self, source: str, *args: str) -> dict:
        """Run ``source`` (after ``flyte.init_from_config``) in the client's Python; what it prints as JSON."""
        script = self.folder / "sdk_client.py"
        script.write_text(
            "import json, os, sys\nimport flyte\nimport flyte.remote as remote\n"
            f"flyte.init_from_config({str(self.config)!r})\n"
            + textwrap.dedent(source)
            # The client's HTTP runtime can abort at interpreter exit while a stream is still open; what
            # was printed is the answer, so leave at once.
            + "\nsys.stdout.flush()\nos._exit(0)\n"
        )
        done = subprocess.run(
            [str(self.python), str(script), *args], cwd=self.folder, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"the SDK client failed:\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    def wait(self, run: str) -> dict:
        """Wait for the run to end; its phase, outputs (or error) as the SDK reads them."""
        return self.sdk(
            """
            run = remote.Run.get(sys.argv[1])
            run.wait(quiet=True)
            run = remote.Run.get(sys.argv[1])
            out = {"phase": run.phase.name}
            if run.phase.name == "SUCCEEDED":
                out["outputs"] = run.outputs()[0]
            print(json.dumps(out))
            """,
            run,
        )


@pytest.fixture(scope="module")
def roost_server(tmp_path_factory: pytest.TempPathFactory, flyte_python: Path):
    home = tmp_path_factory.mktemp("flyte-server-home")
    with pytest.MonkeyPatch.context() as patch:
        # Schedules read a clock 30x faster than the real one: a FixedRate(1) trigger fires every 2 s.
        patch.setenv("ROOST_SCHEDULE_CLOCK", f"{time.time():.0f}:30")
        running = start_server(home, "--flyte-python", str(flyte_python))
    yield running
    stop_server(running)
    assert UNSERVED_MARK not in running.output(), running.output()


@pytest.fixture(scope="module")
def client(flyte_python: Path, roost_server: Server, tmp_path_factory: pytest.TempPathFactory) -> FlyteClient:
    client = FlyteClient(flyte_python, roost_server, tmp_path_factory.mktemp("flyte-client"))
    # The secret every task of flyte_tasks.py asks for, created with the client (SecretService): it
    # lands in the server's secret store.
    done = client.cli("create", "secret", "fb-token", "--value", "s3cr3t-value")
    assert client.ok(done), done.stdout + done.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "secret", "list"],
        env={**os.environ, "ROOST_HOME": str(roost_server.home)},
        capture_output=True,
        text=True,
    )
    assert "fb-token" in listed.stdout and "s3cr3t-value" not in listed.stdout, listed.stdout + listed.stderr
    return client


def _roost_run(server: Server, name: str) -> dict:
    request = urllib.request.Request(f"{server.url}/api/v1/runs/{name}", headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_task_runs_and_its_outputs_are_read_back(client: FlyteClient) -> None:
    name = client.run("square", "--x", "7")
    assert client.wait(name) == {"phase": "SUCCEEDED", "outputs": 49}
    # The run is in roost's store like any other: the API, `roost get` and the console show it.
    record = _roost_run(client.server, name)
    assert record["phase"] == "succeeded" and record["mode"] == "flyte" and record["task_name"] == "fb.square"


def test_a_fan_out_and_a_chain_run_their_children_as_actions(client: FlyteClient) -> None:
    fanout = client.run("fanout", "--n", "5")
    chain = client.run("chain", "--n", "3")
    assert client.wait(fanout)["outputs"] == 0 + 1 + 4 + 9 + 16
    assert client.wait(chain)["outputs"] == 676  # 1 -> 2^2 -> 5^2 -> 26^2 (mod 1000)
    actions = client.sdk(
        """
        acts = list(remote.Action.listall(for_run_name=sys.argv[1]))
        print(json.dumps(sorted(a.phase.name for a in acts)))
        """,
        fanout,
    )
    assert actions == ["SUCCEEDED"] * 6  # the parent and its five children


def test_a_traced_call_is_recorded_as_an_action_of_its_parent(client: FlyteClient) -> None:
    name = client.run("with_trace", "--x", "20")
    assert client.wait(name) == {"phase": "SUCCEEDED", "outputs": 41}
    actions = client.sdk(
        """
        actions = remote.Action.listall(for_run_name=sys.argv[1])
        print(json.dumps(sorted((a.name == "a0", a.phase.name) for a in actions)))
        """,
        name,
    )
    assert actions == [[False, "SUCCEEDED"], [True, "SUCCEEDED"]]


def _waiting_condition(server: Server, run: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        url = f"{server.url}/api/v1/conditions?run={run}&pending=true"
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"})) as response:
            waiting = json.loads(response.read())
        if waiting:
            return waiting[0]
        assert time.monotonic() < deadline, f"run {run} registered no condition"
        time.sleep(0.2)


def test_a_condition_is_answered_by_roost_signal_or_by_the_flyte_cli(client: FlyteClient) -> None:
    first = client.run("approval", "--x", "7")
    condition = _waiting_condition(client.server, first)
    assert (condition["name"], condition["data_type"], condition["prompt"]) == ("approve", "int", "double 7?")
    signalled = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "signal", first, "approve", "3"],
        env={**os.environ, "ROOST_HOME": str(client.server.home)},
        capture_output=True,
        text=True,
    )
    assert signalled.returncode == 0, signalled.stdout + signalled.stderr
    assert client.wait(first) == {"phase": "SUCCEEDED", "outputs": 21}
    second = client.run("approval", "--x", "5")
    condition = _waiting_condition(client.server, second)
    done = client.cli("signal", "condition", second, condition["action_id"], "4")
    assert client.ok(done), done.stdout + done.stderr
    assert client.wait(second) == {"phase": "SUCCEEDED", "outputs": 20}


def test_a_failing_task_fails_the_run_with_its_error(client: FlyteClient) -> None:
    name = client.run("fails", "--x", "3")
    details = client.sdk(
        """
        run = remote.Run.get(sys.argv[1])
        run.wait(quiet=True)
        run = remote.Run.get(sys.argv[1])
        info = run.details().pb2.action.error_info
        print(json.dumps({"phase": run.phase.name, "message": info.message, "code": info.code}))
        """,
        name,
    )
    assert details == {"phase": "FAILED", "message": "bad input 3", "code": "ValueError"}
    assert _roost_run(client.server, name)["phase"] == "failed"


def test_follow_streams_the_task_logs(client: FlyteClient) -> None:
    client.run("square", "--x", "12", follow=True)
    assert "squaring 12" in client.last_output


def test_listall_lists_the_runs_newest_first(client: FlyteClient) -> None:
    first = client.run("square", "--x", "2")
    second = client.run("square", "--x", "3")
    client.wait(second)
    names = client.sdk("print(json.dumps([r.name for r in remote.Run.listall(limit=50)]))")
    assert names.index(second) < names.index(first)


def test_env_vars_and_secrets_of_the_environment_reach_the_task(client: FlyteClient) -> None:
    name = client.run("greet")
    assert client.wait(name) == {"phase": "SUCCEEDED", "outputs": "hello from the template / token 12 chars"}
    # The secret's value reaches no file of the server but its secret store: not the run store, not a log.
    assert "s3cr3t-value" not in client.server.output()
    for path in client.server.home.rglob("*"):
        if path.is_file() and "secrets" not in path.relative_to(client.server.home).parts:
            assert b"s3cr3t-value" not in path.read_bytes(), path


def test_the_memory_limit_is_enforced(client: FlyteClient) -> None:
    name = client.run("hog", "--mb", "600")  # the environment asks for 300Mi
    assert client.wait(name)["phase"] == "FAILED"
    record = _roost_run(client.server, name)
    assert record["error"]["code"] == "OOMKilled", record


def test_abort_stops_the_running_task(client: FlyteClient, tmp_path: Path) -> None:
    marker = tmp_path / "never-created"
    name = client.run("wait_for", "--path", str(marker))
    deadline = time.monotonic() + 60
    while _roost_run(client.server, name)["phase"] != "running":
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.2)
    done = client.cli("abort", "run", name)
    assert client.ok(done), done.stdout + done.stderr
    assert client.wait(name)["phase"] == "ABORTED"
    pids = subprocess.run(["pgrep", "-f", f"wait_for.*{marker}"], capture_output=True, text=True).stdout.split()
    assert not pids, f"the aborted task still runs: {pids}"


def test_the_run_url_the_client_prints_opens_the_run_page(client: FlyteClient) -> None:
    name = client.run("square", "--x", "4")
    assert f"/v2/domain/development/project/demo/runs/{name}" in client.last_output
    url = f"{client.server.url}/v2/domain/development/project/demo/runs/{name}"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"})) as response:
        assert response.url.endswith(f"/runs/{name}")


def test_deploy_then_run_the_latest_version_of_a_deployed_task(client: FlyteClient) -> None:
    done = client.cli("deploy", "flyte_tasks.py", "env")
    assert client.ok(done), done.stdout + done.stderr
    result = client.sdk(
        """
        task = remote.Task.get("fb.square", auto_version="latest")
        run = flyte.run(task, x=9)
        run.wait(quiet=True)
        names = sorted(t.name for t in remote.Task.listall())
        print(json.dumps({"outputs": remote.Run.get(run.name).outputs()[0], "tasks": names}))
        """
    )
    assert result["outputs"] == 81
    assert {"fb.square", "fb.fanout", "fb.greet"} <= set(result["tasks"])
    # Deploying the same code again is accepted (the same version, the same spec).
    again = client.cli("deploy", "flyte_tasks.py", "env")
    assert client.ok(again), again.stdout + again.stderr


def _trigger_runs(server: Server) -> list[dict]:
    url = f"{server.url}/api/v1/runs?task=fb.stamp&limit=100"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"})) as response:
        runs = json.loads(response.read())
    return [r for r in runs if r["name"].startswith("fb.stamp-every-minute-")]


def test_a_deployed_trigger_fires_until_it_is_deactivated(client: FlyteClient) -> None:
    # flyte_tasks.py's `stamp` has an auto-activated FixedRate(1) trigger binding its TriggerTime.
    done = client.cli("deploy", "flyte_tasks.py", "env")
    assert client.ok(done), done.stdout + done.stderr
    deadline = time.monotonic() + 90
    while len([r for r in _trigger_runs(client.server) if r["phase"] == "succeeded"]) < 2:
        assert time.monotonic() < deadline, _trigger_runs(client.server)
        time.sleep(0.5)
    fired = next(r for r in _trigger_runs(client.server) if r["phase"] == "succeeded")
    output = client.wait(fired["name"])["outputs"]
    # The run's name carries its scheduled time, which the task received as its TriggerTime.
    stamp = fired["name"].rsplit("-", 1)[1]  # 20261206t105314z
    assert output.startswith(f"tick {stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}")
    listed = client.sdk(
        """
        remote.Trigger.update(name="every-minute", task_name="fb.stamp", active=False)
        print(json.dumps([[t.name, t.is_active] for t in remote.Trigger.listall()]))
        """
    )
    assert listed == [["every-minute", False]]
    time.sleep(1)  # a run started just before the update may still be recorded
    before = {r["name"] for r in _trigger_runs(client.server)}
    time.sleep(5)  # two and a half intervals of the trigger
    assert {r["name"] for r in _trigger_runs(client.server)} == before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_deployed_app_serves_until_it_is_deactivated(client: FlyteClient) -> None:
    port = _free_port()
    done = client.cli("deploy", "flyte_app.py", "app_env", FB_APP_PORT=str(port))
    assert client.ok(done), done.stdout + done.stderr
    app = client.sdk(
        """
        app = remote.App.get("fb-app").watch(wait_for="activated")
        print(json.dumps({"url": app.endpoint, "active": app.is_active()}))
        """
    )
    assert app == {"url": f"http://127.0.0.1:{port}", "active": True}
    # The app's env vars reached it, and it answers at the URL the client reads.
    with urllib.request.urlopen(app["url"], timeout=10) as response:
        assert response.read() == b"hello from a flyte app"
    stopped = client.sdk(
        """
        app = remote.App.get("fb-app").deactivate(wait=True)
        print(json.dumps({"deactivated": remote.App.get("fb-app").is_deactivated()}))
        """
    )
    assert stopped == {"deactivated": True}
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(app["url"], timeout=1).read()
        except OSError:
            break
        assert time.monotonic() < deadline, "the deactivated app still answers"
        time.sleep(0.2)
    deleted = client.sdk(
        """
        remote.App.delete("fb-app")
        print(json.dumps([a.name for a in remote.App.listall()]))
        """
    )
    assert deleted == []


def test_runs_are_read_back_after_a_server_restart(flyte_python: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = start_server(home, "--flyte-python", str(flyte_python))
    try:
        client = FlyteClient(flyte_python, first, tmp_path / "client-1")
        assert client.ok(client.cli("create", "secret", "fb-token", "--value", "x"))
        name = client.run("square", "--x", "5", follow=True)
        assert client.wait(name) == {"phase": "SUCCEEDED", "outputs": 25}
    finally:
        stop_server(first)
    second = start_server(home, "--flyte-python", str(flyte_python))
    try:
        client = FlyteClient(flyte_python, second, tmp_path / "client-2")
        read = client.sdk(
            """
            run = remote.Run.get(sys.argv[1])
            names = [r.name for r in remote.Run.listall(limit=10)]
            print(json.dumps({"phase": run.phase.name, "outputs": run.outputs()[0], "listed": sys.argv[1] in names}))
            """,
            name,
        )
        assert read == {"phase": "SUCCEEDED", "outputs": 25, "listed": True}
        logs = client.cli("get", "logs", name)
        assert "squaring 5" in logs.stdout + logs.stderr, logs.stdout + logs.stderr
    finally:
        stop_server(second)
    assert UNSERVED_MARK not in second.output(), second.output()


def test_without_flyte_python_the_server_builds_the_clients_runtime(flyte_python: Path, tmp_path: Path) -> None:
    # No --flyte-python: the first action builds flyte==<the client's version> with uv (from uv's cache,
    # which making the client's virtualenv filled), saying so in the action's log.
    home = tmp_path / "home"
    server = start_server(home)
    try:
        client = FlyteClient(flyte_python, server, tmp_path / "client")
        assert client.ok(client.cli("create", "secret", "fb-token", "--value", "x"))
        name = client.run("square", "--x", "6")
        assert client.wait(name) == {"phase": "SUCCEEDED", "outputs": 36}
        built = home / "flyte" / "runtimes" / f"flyte-{FLYTE_VERSION}"
        assert (built / ".roost-complete").exists() and (built / "bin" / "a0").exists()
        logs = client.cli("get", "logs", name)
        assert f"building the Flyte runtime flyte=={FLYTE_VERSION}" in logs.stdout + logs.stderr
        # The next run finds it built.
        again = client.run("square", "--x", "7")
        assert client.wait(again)["outputs"] == 49
    finally:
        stop_server(server)
