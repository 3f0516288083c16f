"""What the console's pages do to runs, over plain HTTP: answering a condition (its page never shows
its webhook; a wrong value is a 400 with the reason; who answered is recorded), and refusing the same
requests from another site's page."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest

from roost.store.records import ActionPhase, ActionRecord, ConditionRecord, RunRecord
from roost.store.run_store import RunStore
from server.conftest import Server, start_server, stop_server

from .test_console_http import HTML, call

pytestmark = pytest.mark.timeout(120)

TOKEN = "hook-token-s3cr3t"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("console-actions-home")
    store = RunStore(home / "roost.db")
    now = time.time()
    run = RunRecord("asks-1", "pkg.ship", ActionPhase.RUNNING, "local", now, now, pid=None)
    store.put_run(run)
    store.mark(ActionRecord("asks-1", "a0", None, "pkg.ship", "ship", None, 0, ActionPhase.RUNNING, 1))
    for action_id, name, data_type in (("a1", "approve", "bool"), ("a2", "replicas", "int")):
        webhook = {"url": f"https://hooks.example/{TOKEN}", "payload": {"token": TOKEN}}
        spec = {"name": name, "prompt": "## Ship?", "prompt_type": "markdown", "data_type": data_type,
                "description": "", "webhook": webhook}  # fmt: skip
        action = ActionRecord("asks-1", action_id, "a0", f"condition:{name}", name, None, 0, ActionPhase.PAUSED)
        action.inputs, action.isolation = msgpack.packb(spec), "condition"
        store.mark(action)
        condition = ConditionRecord("asks-1", action_id, "a0", name, "## Ship?", "markdown", data_type, "", now)
        condition.webhook = json.dumps(webhook)
        store.put_condition(condition)
    store.flush()
    store.close()
    running = start_server(home)
    yield running
    stop_server(running)


def get(server: Server, path: str) -> Any:
    status, _, body = call(server, "GET", path)
    assert status == 200, body
    return json.loads(body)


def post(server: Server, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    sent = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    status, _, answer = call(server, "POST", path, sent, json.dumps(body).encode())
    return status, json.loads(answer)


def test_a_condition_shows_what_it_asks_never_its_webhook(server: Server) -> None:
    state = get(server, "/console/api/runs/asks-1")
    assert {c["name"] for c in state["run"]["waiting_conditions"]} == {"approve", "replicas"}
    assert {a["id"]: a["isolation"] for a in state["actions"]}["a1"] == "condition"
    status, _, body = call(server, "GET", "/console/api/runs/asks-1/actions/a1")
    assert status == 200 and TOKEN.encode() not in body
    detail = json.loads(body)
    assert detail["inputs"] == []
    condition = detail["condition"]
    assert condition["prompt"] == "## Ship?" and condition["data_type"] == "bool" and condition["state"] == "waiting"
    status, _, page = call(server, "GET", "/runs/asks-1", HTML)
    assert status == 200 and TOKEN.encode() not in page and b"condition.js" in page and b"markdown.js" in page


def test_answering_a_condition_from_the_page(server: Server) -> None:
    signal = "/api/v1/runs/asks-1/conditions/a2/signal"
    page = {"Origin": server.url}
    # Another site's page cannot answer it.
    status, answer = post(server, signal, {"value": 3}, {"Origin": "http://evil.example"})
    assert status == 403 and "Origin" in answer["error"]
    status, answer = post(server, signal, {"value": "1.5"}, page)
    assert status == 400 and "takes an int" in answer["error"] and "Traceback" not in answer["error"]
    status, answer = post(server, signal, {"value": {"nested": 1}}, page)
    assert status == 400 and "value must be" in answer["error"]
    status, answer = post(server, signal, {"value": "3"}, page)
    assert status == 200 and answer["value"] == 3 and answer["signalled_by"] == "local"
    status, answer = post(server, signal, {"value": "4"}, page)
    assert status == 409 and "already" in answer["error"]
    detail = get(server, "/console/api/runs/asks-1/actions/a2")
    assert detail["condition"]["state"] == "signalled" and detail["condition"]["signalled_by"] == "local"
    status, answer = post(server, "/api/v1/runs/asks-1/conditions/a1/signal", {"fail": "not today"}, page)
    assert status == 200 and answer["state"] == "failed" and answer["reason"] == "not today"
    assert get(server, "/console/api/runs/asks-1")["run"]["waiting_conditions"] == []
    status, answer = post(server, "/api/v1/runs/asks-1/conditions/nope/signal", {"value": True}, page)
    assert status == 404 and "has no condition" in answer["error"]
