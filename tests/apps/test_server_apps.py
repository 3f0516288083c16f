"""Apps a roost server runs: registered by `flyte.with_servecontext(mode="remote").serve` and `roost serve
--remote`, served through the server's proxy at /apps/NAME/: the first request cold-starts a replica and
is answered, idle replicas scale to zero, concurrent slow requests scale out to max and back down,
requires_auth asks callers beyond this machine for a key, the request timeout answers 504 (or cuts a
response still streaming), chunked bodies and HEAD requests go through, a replica killed with SIGKILL is
started again, a start-up failure answers 503 with its reason, and the apps are served again after the
server restarts. A real server process, real HTTP on 127.0.0.1 (and on this
machine's network address where it has one)."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROGRAM = textwrap.dedent(
    """
    import asyncio, os

    import roost as flyte
    from roost.app import Scaling, Timeouts

    # Concurrency(1) and a 1 s scale-down: scaling shows within seconds.
    scaled = flyte.AppEnvironment(
        name="scaled",
        port=8080,
        env_vars={"GREETING": "hello"},
        scaling=Scaling(replicas=(0, 3), metric=Scaling.Concurrency(1), scaledown_after=1),
        timeouts=Timeouts(request=2),
    )
    public = flyte.AppEnvironment(name="public", port=8080, scaling=Scaling(replicas=(1, 1)), requires_auth=False)
    FAIL = "python -c 'print(\\"no config found\\"); raise SystemExit(3)'"
    broken = flyte.AppEnvironment(name="broken", command=FAIL)


    async def serve_starlette() -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, StreamingResponse
        from starlette.routing import Route

        async def info(request):
            body = (await request.body()).decode()  # before sleeping: the caller may be gone after
            seconds = float(request.query_params.get("sleep", "0"))
            if seconds:
                await asyncio.sleep(seconds)
            return JSONResponse({
                "pid": os.getpid(), "path": request.url.path, "query": request.url.query, "body": body,
                "method": request.method, "headers": dict(request.headers), "greeting": os.environ.get("GREETING"),
                "mode": flyte.app.ctx().mode,
            })

        async def stream(request):
            count, every = int(request.query_params["n"]), float(request.query_params["every"])

            async def pieces():
                for i in range(count):
                    yield f"piece {i}\\n".encode()
                    await asyncio.sleep(every)

            return StreamingResponse(pieces(), media_type="text/plain")

        routes = [Route("/stream", stream), Route("/{rest:path}", info, methods=["GET", "POST", "PUT"])]
        config = uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=int(os.environ["PORT"]),
                                log_level="warning")
        await uvicorn.Server(config).serve()


    scaled.server(serve_starlette)
    public.server(serve_starlette)
    """
)

CLIENT = textwrap.dedent(
    """
    import json, sys

    import roost as flyte
    import apps_prog

    flyte.init(endpoint=sys.argv[1])
    scaled = flyte.with_servecontext(mode="remote").serve(apps_prog.scaled)
    public = flyte.serve(apps_prog.public)  # remote by default once an endpoint is configured
    found = flyte.remote.App.get("public")
    print(json.dumps({
        "scaled": [scaled.name, scaled.url, scaled.is_active()],
        "public": [public.url, found.replicas, found.is_active()],
        "listed": sorted(a.name for a in flyte.remote.App.listall()),
    }))
    """
)


@dataclass
class Served:
    home: Path
    url: str
    public_url: str | None  # the server on this machine's network address
    key: str
    process: subprocess.Popen[bytes]


def roost(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost.cli.main", *args],
        env={**os.environ, "ROOST_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def network_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def start(home: Path, key: str) -> Served:
    address = network_address()
    host = "0.0.0.0" if address else "127.0.0.1"
    log = open(home / "server-test.log", "ab")  # noqa: SIM115 -- kept open for the server's life
    process = subprocess.Popen(
        [sys.executable, "-m", "roost.cli.main", "server", "start", "--port", "0", "--host", host],
        env={**os.environ, "ROOST_HOME": str(home)},
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, (home / "server-test.log").read_text()
        try:
            info = json.loads((home / "server" / "server.json").read_text())
            if info["pid"] == process.pid and call(info["url"], "GET", "/health")[0] == 200:
                public = f"http://{address}:{info['port']}" if address else None
                return Served(home, info["url"], public, key, process)
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError((home / "server-test.log").read_text())


def stop(served: Served) -> None:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
        try:
            served.process.wait(30)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait()


def call(
    url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get(url: str, path: str, **headers: str) -> tuple[int, Any]:
    status, body = call(url, "GET", path, headers=headers)
    return status, json.loads(body)


def app_view(served: Served, name: str) -> dict[str, Any]:
    status, view = get(served.url, f"/api/v1/apps/{name}")
    assert status == 200, view
    return view  # type: ignore[no-any-return]


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("apps-home")
    made = roost(home, "server", "create-key", "apps")
    assert made.returncode == 0, made.stderr
    running = start(home, made.stdout.strip())
    project = home / "project"
    project.mkdir()
    (project / "apps_prog.py").write_text(PROGRAM)
    (project / "client.py").write_text(CLIENT)
    done = subprocess.run(
        [sys.executable, "client.py", running.url],
        cwd=project,
        env={**os.environ, "ROOST_HOME": str(home / "client-home")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    running.client = json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[attr-defined]
    cli = roost(home / "client-home", "serve", "--endpoint", running.url, "apps_prog.py", "broken", cwd=project)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == f"{running.url}/apps/broken"
    yield running
    stop(running)
    assert "Traceback" not in (home / "server-test.log").read_text()


def test_serving_registers_the_apps_and_hands_back_their_handles(served: Served):
    seen = served.client  # type: ignore[attr-defined]
    assert seen["scaled"] == ["scaled", f"{served.url}/apps/scaled", True]
    assert seen["public"][0] == f"{served.url}/apps/public"
    assert seen["public"][1] == [1, 1] and seen["public"][2] is True  # min 1: serve returned once it answered
    assert seen["listed"] == ["public", "scaled"]  # broken is served next, by `roost serve --endpoint`
    listed = roost(served.home, "get", "apps", "--endpoint", served.url)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert set(rows) == {"broken", "public", "scaled"}
    assert "1/1" in rows["public"] and "public" in rows["public"].split()[-1]
    status, page = call(served.url, "GET", "/apps", headers={"Accept": "text/html"})  # the console's page
    assert status == 200 and b'data-app="scaled"' in page and f"{served.url}/apps/public".encode() in page


def test_first_request_cold_starts_then_idle_scales_to_zero_and_cold_starts_again(served: Served):
    assert app_view(served, "scaled")["total"] == 0
    status, first = get(served.url, "/apps/scaled/hello/there?x=1&y=2")
    assert status == 200, first
    assert first["path"] == "/hello/there" and first["query"] == "x=1&y=2"
    assert first["greeting"] == "hello" and first["mode"] == "remote"
    assert first["headers"]["x-forwarded-prefix"] == "/apps/scaled"
    assert app_view(served, "scaled")["ready"] == 1
    wait_for(lambda: app_view(served, "scaled")["total"] == 0, 8, "scaled to zero after 1 s idle")
    assert app_view(served, "scaled")["state"] == "idle"
    status, second = get(served.url, "/apps/scaled/")
    assert status == 200 and second["pid"] != first["pid"]
    status, posted = call(served.url, "POST", "/apps/scaled/echo", b"a body", {"Content-Type": "text/plain"})
    assert status == 200 and json.loads(posted)["body"] == "a body"


def test_concurrent_slow_requests_scale_out_to_max_and_back_down(served: Served):
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: get(served.url, "/apps/scaled/slow?sleep=1"), range(6)))
    assert all(status == 200 for status, _ in answers), answers
    assert len({body["pid"] for _, body in answers}) == 3  # Concurrency(1), max 3
    assert app_view(served, "scaled")["total"] <= 3
    wait_for(lambda: app_view(served, "scaled")["total"] == 0, 10, "back down to zero")


def test_a_request_past_the_timeout_is_answered_504(served: Served):
    started = time.monotonic()
    status, body = get(served.url, "/apps/scaled/slow?sleep=5")
    assert status == 504 and "within 2 s" in body["error"], body
    assert time.monotonic() - started < 4.5


def test_a_response_still_streaming_at_the_request_timeout_is_cut(served: Served):
    # The timeout (2 s) bounds the whole response: of 20 pieces sent 0.25 s apart, those sent within
    # 2 s arrive, then the connection ends before the body does. A short stream arrives whole.
    parsed = urllib.parse.urlsplit(served.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        conn.request("GET", "/apps/scaled/stream?n=20&every=0.25")
        response = conn.getresponse()
        assert response.status == 200
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
        assert 0 < cut.value.partial.count(b"piece") < 20
    finally:
        conn.close()
    status, whole = call(served.url, "GET", "/apps/scaled/stream?n=5&every=0.05")
    assert status == 200 and whole == b"".join(b"piece %d\n" % i for i in range(5))


def test_chunked_bodies_head_requests_and_encoded_paths_go_through(served: Served):
    parsed = urllib.parse.urlsplit(served.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:  # one connection here, one kept-alive connection to the replica: each answer must end where it ends
        conn.request("POST", "/apps/public/echo", body=iter([b"one ", b"two"]))  # no length: chunked
        response = conn.getresponse()
        echoed = json.loads(response.read())
        assert response.status == 200 and echoed["body"] == "one two" and echoed["method"] == "POST"
        assert echoed["headers"]["transfer-encoding"] == "chunked"
        conn.request("HEAD", "/apps/public/head")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b""
        conn.request("GET", "/apps/public/a%20b/c%2Fd?q=%20")
        response = conn.getresponse()
        seen = json.loads(response.read())
        assert response.status == 200 and seen["path"] == "/a b/c/d" and seen["query"] == "q=%20"
        conn.request("GET", "/apps/p%75blic/x%20y")  # the app's name escaped too
        response = conn.getresponse()
        seen = json.loads(response.read())
        assert response.status == 200 and seen["path"] == "/x y"
    finally:
        conn.close()


def test_requires_auth_asks_for_a_key_and_a_public_app_does_not(served: Served):
    # A wrong key is refused from anywhere; a public app gets its caller's headers as they are.
    wrong = {"Authorization": "Bearer nope"}
    assert call(served.url, "GET", "/apps/scaled/", headers=wrong)[0] == 401
    status, body = get(served.url, "/apps/public/", Authorization="Bearer its-own-token")
    assert status == 200 and body["headers"]["authorization"] == "Bearer its-own-token"
    if served.public_url is None:
        pytest.skip("this machine has no non-loopback address to call from")
    status, body = get(served.public_url, "/apps/scaled/")
    assert status == 401 and "API key" in body["error"]
    status, body = get(served.public_url, "/apps/scaled/", Authorization=f"Bearer {served.key}")
    assert status == 200 and "authorization" not in body["headers"]  # the server's key stays with the server
    assert get(served.public_url, "/apps/public/")[0] == 200
    assert get(served.public_url, "/api/v1/apps")[0] == 401  # only the public app's path is public


def test_a_replica_killed_with_sigkill_is_started_again(served: Served):
    status, before = get(served.url, "/apps/public/")
    assert status == 200
    os.kill(before["pid"], signal.SIGKILL)

    def answered_by_another() -> bool:
        status, body = get(served.url, "/apps/public/")
        return status == 200 and body["pid"] != before["pid"]

    wait_for(answered_by_another, 15, "a new replica answers")
    assert app_view(served, "public")["ready"] == 1


def test_a_start_up_failure_answers_503_with_the_reason(served: Served):
    status, body = get(served.url, "/apps/broken/")
    assert status == 503 and "broken did not start" in body["error"], body
    assert get(served.url, "/apps/nothing/")[0] == 404


def test_stopped_apps_answer_503_until_started(served: Served):
    assert roost(served.home, "app", "stop", "scaled", "--endpoint", served.url).returncode == 0
    status, body = get(served.url, "/apps/scaled/")
    assert status == 503 and "roost app start scaled" in body["error"]
    assert app_view(served, "scaled")["state"] == "stopped"
    assert roost(served.home, "app", "start", "scaled", "--endpoint", served.url).returncode == 0
    assert get(served.url, "/apps/scaled/")[0] == 200
    missing = roost(served.home, "app", "stop", "nope", "--endpoint", served.url)
    assert missing.returncode == 1 and "no app 'nope'" in missing.stderr and "Traceback" not in missing.stderr


def test_bad_registrations_are_refused_with_one_line(served: Served):
    for bad, says in [
        ({"name": "Bad Name", "module": "a.py"}, "name must be"),
        ({"name": "ok", "module": "../a.py"}, "not a path inside the bundle"),
        ({"name": "ok", "module": "a.py", "replicas": [2, 1]}, "replicas must be"),
        ({"name": "ok", "module": "a.py", "metric": {"kind": "cpu", "value": 1}}, "metric must be"),
        ({"name": "ok", "module": "a.py", "request_timeout": -1}, "request_timeout must be"),
    ]:
        status, body = call(
            served.url, "POST", "/api/v1/apps", json.dumps(bad).encode(), {"Content-Type": "application/json"}
        )
        reason = json.loads(body)["error"]
        assert status == 400 and says in reason and "\n" not in reason, (bad, reason)


def test_apps_are_served_again_after_the_server_restarts(served: Served):
    stop(served)
    restarted = start(served.home, served.key)
    served.url, served.process = restarted.url, restarted.process
    assert app_view(served, "public")["min"] == 1
    status, body = get(served.url, "/apps/scaled/after")
    assert status == 200 and body["path"] == "/after"
    wait_for(lambda: app_view(served, "public")["ready"] == 1, 10, "the public app's minimum is up again")
