"""A condition of a run on the server: its webhook's callback is the server's signal endpoint, which
an external system answers with a JSON POST; the server lists it and refuses a mistyped answer."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import Server

CONDITION_PROGRAM = """
import os
import sys

import roost as flyte

env = flyte.TaskEnvironment(name="remote_approval")


@env.task
async def gated(x: int) -> int:
    hook = flyte.ConditionWebhook(os.environ["HOOK"], {"signal_url": "{callback_uri}"})
    ok = await flyte.new_condition.aio("go", prompt="Double it?", data_type=bool, webhook=hook)
    return x * 2 if await ok.wait.aio() else x


if __name__ == "__main__":
    flyte.init(endpoint=sys.argv[1])
    run = flyte.with_runcontext(env_vars={"HOOK": os.environ["HOOK"]}).run(gated, x=21)
    print("RUN", run.name)
    run.wait(quiet=True)
    print("OUT", run.outputs()[0])
"""


def test_a_condition_of_a_server_run_is_answered_through_its_webhook_callback(server: Server, project: Path):
    received: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    (project / "gate.py").write_text(CONDITION_PROGRAM)
    env = {
        **os.environ,
        "ROOST_HOME": str(project.parent / "client-home"),
        "HOOK": f"http://127.0.0.1:{hook.server_address[1]}/",
    }
    client = subprocess.Popen(
        [sys.executable, "gate.py", server.url],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received, "the webhook was not posted"
        callback = received[0]["signal_url"]
        assert callback.startswith(f"{server.url}/api/v1/runs/") and callback.endswith("/conditions/go/signal")
        command = ["get", "conditions", "--pending", "--json", "--endpoint", server.url]
        listed = subprocess.run(
            [sys.executable, "-m", "roost.cli.main", *command], env=env, capture_output=True, text=True, timeout=60
        )
        assert [c["name"] for c in json.loads(listed.stdout)] == ["go"]
        # What an external system does with the callback: POST the answer as JSON.
        bad = urllib.request.Request(
            callback, data=b'{"value": "perhaps"}', headers={"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=30)
        assert refused.value.code == 400 and "expected true or false" in refused.value.read().decode()
        answer = urllib.request.Request(callback, data=b'{"value": true}', headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(answer, timeout=30) as response:
            assert json.loads(response.read())["state"] == "signalled"
        out, err = client.communicate(timeout=60)
        assert client.returncode == 0, err
        assert "OUT 42" in out
    finally:
        if client.poll() is None:
            client.kill()
        hook.shutdown()
