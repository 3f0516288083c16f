"""Apps on a server started with `--ray`: each replica's process runs on a node of the Ray cluster (a
Ray actor starts it there), the server's proxy at /apps/NAME/ reaches it at the node's address, its
output reaches the replica's log, and stopping the app stops it gracefully (on_shutdown runs).

A real local Ray head, a real server process, real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from roost.runtime.engine.executors import ray_cluster
from server.conftest import start_server, stop_server

PROGRAM = """
import os

import roost as flyte

app = flyte.AppEnvironment(
    name="onray",
    port=8080,
    env_vars={{"GREETING": "hello from ray", "MARK": {mark!r}}},
    resources=flyte.Resources(cpu=1),  # its actor holds 1 of the cluster's CPUs while it lives
)
# Listening on 127.0.0.1 only: the server cannot reach it at its node's address.
loopback = flyte.AppEnvironment(name="loopback", port=8080, env_vars={{"BIND": "127.0.0.1"}})


@app.on_shutdown
def shutdown() -> None:
    print("on_shutdown ran", flush=True)
    with open(os.environ["MARK"], "w") as f:
        f.write("stopped")


async def serve() -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def parent() -> str:
        with open(f"/proc/{{os.getppid()}}/cmdline", "rb") as f:
            return f.read().replace(b"\\0", b" ").decode()

    async def info(request):
        return JSONResponse({{
            "greeting": os.environ.get("GREETING"), "mode": flyte.app.ctx().mode, "parent": parent(),
            "path": request.url.path,
        }})

    print("serving on", os.environ["PORT"], flush=True)
    # All addresses: the server reaches a replica at its node's address.
    host = os.environ.get("BIND", "0.0.0.0")
    config = uvicorn.Config(Starlette(routes=[Route("/{{rest:path}}", info)]), host=host,
                            port=int(os.environ["PORT"]), log_level="warning")
    await uvicorn.Server(config).serve()


app.server(serve)
loopback.server(serve)
"""


def roost(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost.cli.main", *args],
        env={**os.environ, "ROOST_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout:g} s")


@pytest.mark.timeout(300)
def test_an_app_served_on_ray(ray_head: str, tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    mark = tmp_path / "shutdown-mark"
    (project / "ray_app_prog.py").write_text(textwrap.dedent(PROGRAM.format(mark=str(mark))))
    home = tmp_path / "server-home"
    server = start_server(home, "--ray", ray_head)
    try:
        client = tmp_path / "client-home"
        served = roost(client, "serve", "--endpoint", server.url, "ray_app_prog.py", "onray", cwd=project)
        assert served.returncode == 0, served.stderr + server.output()
        # The first request starts the replica on the cluster, and is answered through the proxy.
        answer = get_json(f"{server.url}/apps/onray/some/path")
        assert answer["greeting"] == "hello from ray"
        assert answer["mode"] == "remote"
        assert answer["path"] == "/some/path"
        # Its parent is the Ray actor that started it (Ray names its workers' processes "ray::Class").
        assert "ray::AppProcess" in answer["parent"], answer["parent"]
        app = get_json(f"{server.url}/api/v1/apps/onray")
        assert app["state"] == "active"
        (replica,) = app["replicas"]
        assert replica["node"].startswith("ray node "), replica
        cluster = ray_cluster._connect(ray_head)
        cpus = cluster.ray.cluster_resources()["CPU"]
        wait_for(lambda: cluster.ray.available_resources().get("CPU") == cpus - 1, 60, "the actor's CPU held")
        listed = roost(home, "get", "apps", "--endpoint", server.url)
        assert "onray" in listed.stdout, listed.stderr
        # Its output reaches the replica's log while it runs.
        logs = wait_for(
            lambda: "serving on" in (text := json.dumps(get_json(f"{server.url}/api/v1/apps/onray/logs"))) and text,
            60,
            "the app's output in its log",
        )
        assert "serves on Ray node" in logs

        stopped = roost(home, "app", "stop", "onray", "--endpoint", server.url)
        assert stopped.returncode == 0, stopped.stderr
        wait_for(mark.exists, 60, "on_shutdown")
        assert mark.read_text() == "stopped"
        wait_for(lambda: get_json(f"{server.url}/api/v1/apps/onray")["total"] == 0, 60, "the replica's end")
        wait_for(lambda: cluster.ray.available_resources().get("CPU") == cpus, 60, "the actor's end")
        logs = json.dumps(get_json(f"{server.url}/api/v1/apps/onray/logs"))
        assert "on_shutdown ran" in logs

        # An app that listens on 127.0.0.1 only is refused with the reason, not waited for.
        served = roost(client, "serve", "--endpoint", server.url, "ray_app_prog.py", "loopback", cwd=project)
        assert served.returncode == 0, served.stderr + server.output()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/apps/loopback/", timeout=120)
        assert refused.value.code == 503
        assert "on Ray an app listens on all addresses (0.0.0.0)" in refused.value.read().decode()
    finally:
        stop_server(server)
    assert "Traceback" not in server.output(), server.output()[-3000:]
