"""Serving apps here: an @server app, a command app and a FastAPI app, each in a worker process set up
as a task's (variables, secrets, memory limit), their parameters materialised, a missing one refused,
on_startup / on_shutdown in order, `roost serve` stopped cleanly by Ctrl-C. Real processes, real HTTP
on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import roost as flyte
from roost.runtime.runs.app_serving import AppStartError

PROGRAM = textwrap.dedent(
    """
    import asyncio, os
    from pathlib import Path

    import roost as flyte
    from roost.app import AppEndpoint, Parameter, RunOutput

    # Read where the module is declared (the test's process); the app's process gets them through its
    # declared variables and PORT, as a worker is not started from the test's environment.
    PORT = int(os.environ.get("APP_PORT", "8080"))
    MARKS = Path(os.environ.get("MARKS", "."))
    env = flyte.TaskEnvironment(name="app_inputs")
    MODEL = RunOutput(type="file", task_name="app_inputs.make_model")


    @env.task
    async def make_model(version: int) -> flyte.io.File:
        path = MARKS / "model.txt"
        path.write_text(f"model v{version}")
        return await flyte.io.File.from_local(str(path))


    app = flyte.AppEnvironment(
        name="echo",
        port=PORT,
        env_vars={"GREETING": "hello", "MARKS": str(MARKS)},
        secrets=flyte.Secret("app-token", as_env_var="APP_TOKEN"),
        resources=flyte.Resources(memory="256Mi"),
        parameters=[
            Parameter("who", env_var="WHO"),
            Parameter("model", value=MODEL, mount=str(MARKS / "mnt")),
            Parameter("peer", value=AppEndpoint("other")),
            Parameter("data", mount=str(MARKS / "data"), env_var="DATA_DIR"),
        ],
    )
    other = flyte.AppEnvironment(name="other", port=9911, args="true")


    @app.on_startup
    def starting(who: str) -> None:
        Path(os.environ["MARKS"], "events").open("a").write(f"startup {who}\\n")


    @app.server
    async def serve(model: str, peer: str, data: str) -> None:
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, PlainTextResponse
        from starlette.routing import Route
        import uvicorn

        async def info(request):
            return JSONResponse({
                "greeting": os.environ["GREETING"], "who": os.environ["WHO"], "token": os.environ["APP_TOKEN"],
                "model": Path(model).read_text(), "model_path": model, "peer": peer,
                "data": sorted(p.name for p in Path(data).iterdir()), "data_env": os.environ["DATA_DIR"],
                "parameter": flyte.app.get_parameter("who"), "mode": flyte.app.ctx().mode, "pid": os.getpid(),
            })

        async def eat(request):
            hog = bytearray(700 * 2**20)
            for i in range(0, len(hog), 4096):
                hog[i] = 1
            return PlainTextResponse(str(len(hog)))

        async def health(request):
            return PlainTextResponse("ok")

        routes = [Route("/", info), Route("/eat", eat), Route("/health", health)]
        port = int(os.environ["PORT"])  # the app's port, as it is served
        config = uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning")
        await uvicorn.Server(config).serve()


    @app.on_shutdown
    def stopping() -> None:
        Path(os.environ["MARKS"], "events").open("a").write("shutdown\\n")


    command_app = flyte.AppEnvironment(
        name="files", port=PORT, command="python -m http.server $PORT --bind 127.0.0.1", env_vars={"X": "1"}
    )
    FAIL = "python -c 'print(\\"no config found\\"); raise SystemExit(3)'"
    broken = flyte.AppEnvironment(name="broken", port=PORT, command=FAIL)
    """
)

FASTAPI_PROGRAM = textwrap.dedent(
    """
    import os

    from fastapi import FastAPI

    from roost.app.extras import FastAPIAppEnvironment

    api = FastAPI()


    @api.get("/square/{x}")
    def square(x: int) -> dict:
        return {"square": x * x, "where": os.environ.get("WHERE")}


    PORT = int(os.environ.get("APP_PORT", "8080"))
    app = FastAPIAppEnvironment(name="squares", app=api, port=PORT, env_vars={"WHERE": "app"})
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


@pytest.fixture
def program(tmp_path: Path, roost_home: Path, monkeypatch: pytest.MonkeyPatch):
    marks = tmp_path / "marks"
    marks.mkdir()
    port = free_port()
    monkeypatch.setenv("APP_PORT", str(port))
    monkeypatch.setenv("MARKS", str(marks))
    (tmp_path / "served.py").write_text(PROGRAM)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    served = importlib.import_module("served")
    yield served, marks, port
    sys.modules.pop("served", None)


def test_an_app_is_served_as_its_environment_declares(program, roost_home: Path):
    served, marks, port = program
    subprocess.run([sys.executable, "-m", "roost.cli.main", "secret", "create", "app-token", "--value", "s3cret"],
                   env={**os.environ, "ROOST_HOME": str(roost_home)}, check=True)  # fmt: skip
    flyte.run(served.make_model, version=1)
    flyte.run(served.make_model, version=2)  # the newest succeeded run is the one taken
    with pytest.raises(ValueError, match="needs a value for its parameter 'who'"):
        flyte.serve(served.app)
    assert not (marks / "events").exists(), "nothing started without the parameter"

    folder = marks / "dataset"
    folder.mkdir()
    (folder / "a.csv").write_text("1,2\n")
    (folder / "b.csv").write_text("3,4\n")
    flyte.init()
    data = flyte.io.Dir.from_local_sync(str(folder))  # in the blob store: downloaded to the mount
    app = flyte.with_servecontext(parameter_values={"echo": {"who": "world", "data": data}}).serve(served.app)
    try:
        assert app.is_active() and app.endpoint == f"http://localhost:{port}"
        info = json.loads(get(app.endpoint))
        assert info["greeting"] == "hello" and info["who"] == "world" and info["parameter"] == "world"
        assert info["token"] == "s3cret" and info["mode"] == "local"
        assert info["model"] == "model v2" and info["model_path"].startswith(str(marks / "mnt"))
        assert info["peer"] == "http://localhost:9911"
        assert info["data"] == ["a.csv", "b.csv"] and info["data_env"].startswith(str(marks / "data"))
        assert info["pid"] != os.getpid()  # its own process
        assert "s3cret" not in "\n".join(app.logs())
    finally:
        app.deactivate(wait=True)
    assert app.is_deactivated() and not app.is_active()
    assert (marks / "events").read_text() == "startup world\nshutdown\n"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the port was not freed"
    record = flyte.remote.Run.get(app.run_name)
    assert record.phase.value == "succeeded"  # stopped as asked


def test_the_memory_limit_applies_to_the_app(program, roost_home: Path):
    served, marks, _ = program
    subprocess.run([sys.executable, "-m", "roost.cli.main", "secret", "create", "app-token", "--value", "t"],
                   env={**os.environ, "ROOST_HOME": str(roost_home)}, check=True)  # fmt: skip
    flyte.run(served.make_model, version=1)
    flyte.init()
    given = {"who": "x", "data": flyte.io.Dir.from_local_sync(str(marks))}
    app = flyte.with_servecontext(parameter_values={"echo": given}).serve(served.app)
    try:
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            get(app.endpoint + "/eat")  # 700 MB in an app limited to 256Mi
        assert app.wait(30), "the app outlived its memory limit"
        assert "memory" in str(app.error).lower()
    finally:
        app.deactivate(wait=True)


def test_a_command_app_and_one_that_fails_to_start(program, roost_home: Path):
    served, _, port = program
    files = flyte.serve(served.command_app)
    try:
        assert b"Directory listing" in get(files.endpoint + "/")
    finally:
        files.deactivate(wait=True)
    assert any('"GET / HTTP/1.1" 200' in line for line in files.logs())
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the command outlived its app"
    with pytest.raises(AppStartError, match="did not become active") as failed:
        flyte.serve(served.broken)
    assert "no config found" in failed.value.lines


def test_a_fastapi_app(tmp_path: Path, roost_home: Path, monkeypatch: pytest.MonkeyPatch):
    port = free_port()
    monkeypatch.setenv("APP_PORT", str(port))
    (tmp_path / "squares.py").write_text(FASTAPI_PROGRAM)
    monkeypatch.syspath_prepend(str(tmp_path))
    import squares

    assert [link.path for link in squares.app.links] == ["/docs"]
    app = flyte.serve(squares.app)
    try:
        assert json.loads(get(f"{app.endpoint}/square/7")) == {"square": 49, "where": "app"}
        assert b"swagger" in get(f"{app.endpoint}/docs").lower()
    finally:
        app.deactivate(wait=True)


def test_roost_serve_streams_the_output_and_stops_cleanly_on_ctrl_c(tmp_path: Path, roost_home: Path):
    (tmp_path / "served.py").write_text(PROGRAM)
    port = free_port()
    env = {**os.environ, "ROOST_HOME": str(roost_home), "MARKS": str(tmp_path)}
    command = [sys.executable, "-m", "roost.cli.main", "serve", "served.py", "files", "--port", str(port)]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.5)  # its output reaches the store, then this terminal
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"app files serves at http://localhost:{port}" in err and "app files stopped" in err
    assert '"GET / HTTP/1.1" 200' in out
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    bad = subprocess.run([*command[:5], "nope"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "declares no app 'nope'" in bad.stderr


APP_AND_TASKS = textwrap.dedent(
    """
    import os

    import roost as flyte

    scoring = flyte.TaskEnvironment(name="scoring")


    @scoring.task
    async def score(x: int) -> int:
        return x * 10


    app = flyte.AppEnvironment(name="scorer", port=int(os.environ.get("APP_PORT", "8080")))


    @app.server
    async def serve() -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def handle(request):
            run = await flyte.run.aio(score, x=int(request.query_params["x"]))  # the app starts a run
            return JSONResponse({"run": run.name, "score": (await run.outputs.aio())[0]})

        routes = [Route("/", handle)]
        config = uvicorn.Config(Starlette(routes=routes), port=int(os.environ["PORT"]), log_level="warning")
        await uvicorn.Server(config).serve()


    callers = flyte.TaskEnvironment(name="callers", depends_on=[app])


    @callers.task
    async def ask(x: int) -> str:
        import urllib.request

        return urllib.request.urlopen(f"{app.endpoint}/?x={x}", timeout=60).read().decode()  # a task calls the app
    """
)


def test_an_app_starts_runs_and_a_task_calls_an_app(tmp_path: Path, roost_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("APP_PORT", str(free_port()))
    (tmp_path / "app_and_tasks.py").write_text(APP_AND_TASKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    import app_and_tasks

    served = flyte.serve(app_and_tasks.app)
    try:
        answer = json.loads(get(f"{served.endpoint}/?x=4"))
        assert answer["score"] == 40
        assert flyte.remote.Run.get(answer["run"]).phase.value == "succeeded"  # recorded like any run
        said = json.loads(flyte.run(app_and_tasks.ask, x=5).outputs()[0])
        assert said["score"] == 50
    finally:
        served.deactivate(wait=True)


DEPENDENT = textwrap.dedent(
    """
    import os

    import roost as flyte

    SERVE = "python -m http.server $PORT --bind 127.0.0.1"
    # The app's process serves on the port it is given (PORT): these are read where it is declared.
    backend = flyte.AppEnvironment(name="backend", port=int(os.environ.get("BACKEND_PORT", "8081")), command=SERVE)
    FRONT = int(os.environ.get("FRONT_PORT", "8082"))
    front = flyte.AppEnvironment(name="front", port=FRONT, command=SERVE, depends_on=[backend])
    """
)


def test_the_apps_an_app_depends_on_are_served_first(tmp_path: Path, roost_home: Path, monkeypatch: pytest.MonkeyPatch):
    backend_port, front_port = free_port(), free_port()
    monkeypatch.setenv("BACKEND_PORT", str(backend_port))
    monkeypatch.setenv("FRONT_PORT", str(front_port))
    (tmp_path / "dependent.py").write_text(DEPENDENT)
    monkeypatch.syspath_prepend(str(tmp_path))
    import dependent

    front = flyte.serve(dependent.front)
    try:
        assert [d.name for d in front.dependencies] == ["backend"]
        assert b"Directory listing" in get(f"http://127.0.0.1:{backend_port}/")  # it answers too
    finally:
        front.deactivate(wait=True)
    for port in (front_port, backend_port):  # both stopped
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_on_a_server_the_apps_an_app_depends_on_are_registered_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from server.conftest import start_server, stop_server

    monkeypatch.setenv("BACKEND_PORT", "8081")
    monkeypatch.setenv("FRONT_PORT", "8082")
    (tmp_path / "dependent.py").write_text(DEPENDENT)
    server = start_server(tmp_path / "server-home")
    try:
        script = (
            "import sys, roost as flyte, dependent\n"
            "flyte.init(endpoint=sys.argv[1], root_dir='.')\n"
            "app = flyte.serve(dependent.front)\n"
            "print(sorted(a.name for a in flyte.remote.App.listall()))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, server.url], cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**os.environ, "ROOST_HOME": str(tmp_path / "client-home")},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == "['backend', 'front']"
    finally:
        stop_server(server)
