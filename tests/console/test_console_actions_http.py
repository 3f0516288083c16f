"""What the console's pages do to runs, over plain HTTP: answering a condition (its page never shows
its webhook; a wrong value is a 400 with the reason; who answered is recorded), rerunning an ended run
of the server (with recover: what succeeded is reused), and refusing these requests from another
site's page."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest

from roost.store.records import ActionPhase, ActionRecord, ConditionRecord, RunRecord
from roost.store.run_store import RunStore
from server.conftest import Server, run_client, start_server, stop_server

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
    done = RunRecord("done-local", "pkg.ship", ActionPhase.SUCCEEDED, "local", now - 60, now - 60, now - 59)
    store.put_run(done)
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


REMOTE_PROGRAM = """
import os
import sys

import roost as flyte

env = flyte.TaskEnvironment(name="rerunnable")


@env.task
async def step(i: int) -> int:
    return i * 10


@env.task
async def main(n: int) -> str:
    total = 0
    for i in range(n):
        total += await step(i)
    return f"{total}:{os.environ.get('TOKEN')}"


if __name__ == "__main__":
    flyte.init(endpoint=sys.argv[1])
    run = flyte.with_runcontext(mode="remote", name="first-1", env_vars={"TOKEN": "kept"}).run(main, n=3)
    run.wait(quiet=True)
    print("OUT", run.outputs()[0])
"""


def ended(server: Server, name: str) -> Any:
    run = get(server, f"/api/v1/runs/{name}?wait=60")
    assert run["phase"] in ("succeeded", "failed", "aborted", "timed_out"), run
    return run


def test_rerun_an_ended_server_run_from_its_page(server: Server, tmp_path: Any) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "flow.py").write_text(REMOTE_PROGRAM)
    done = run_client(project, REMOTE_PROGRAM, server.url)
    assert "OUT 30:kept" in done.stdout
    ended(server, "first-1")
    assert get(server, "/console/api/runs/first-1")["run"]["rerun_refused"] is None
    status, _, page = call(server, "GET", "/runs/first-1", HTML)
    assert status == 200 and b'id="rerun">' in page and b'id="rerun-recover">' in page

    rerun = "/api/v1/runs/first-1/rerun"
    status, answer = post(server, rerun, {"recover": False}, {"Origin": "http://evil.example"})
    assert status == 403
    status, answer = post(server, rerun, {"recover": "yes"}, {"Origin": server.url})
    assert status == 400 and "recover must be" in answer["error"]

    status, answer = post(server, rerun, {"recover": False}, {"Origin": server.url})
    assert status == 201 and answer["name"] == "first-1-r1" and answer["url"].endswith("/runs/first-1-r1")
    again = ended(server, "first-1-r1")
    assert again["phase"] == "succeeded" and again["recovered_from"] == "first-1"
    state = get(server, "/console/api/runs/first-1-r1")
    assert state["run"]["started_by"] == "local" and state["run"]["env_var_names"] == ["TOKEN"]
    assert {a["phase"] for a in state["actions"]} == {"succeeded"} and len(state["actions"]) == 4
    assert "30:kept" in get(server, "/console/api/runs/first-1-r1/actions/a0")["outputs"][0]["text"]

    status, answer = post(server, rerun, {"recover": True}, {"Origin": server.url})
    assert status == 201 and answer["name"] == "first-1-r2"
    assert ended(server, "first-1-r2")["phase"] in ("succeeded", "recovered")
    phases = {a["id"]: a["phase"] for a in get(server, "/console/api/runs/first-1-r2")["actions"]}
    assert set(phases.values()) == {"recovered"}, phases  # nothing ran again
    # A rerun of a rerun is rerun-able too (its submission is kept as the first one's was).
    assert get(server, "/console/api/runs/first-1-r2")["run"]["rerun_refused"] is None


@pytest.mark.parametrize(
    ("run", "status", "why"),
    [
        ("asks-1", 409, "has not ended"),
        ("done-local", 409, "a local run"),
        ("no-such-run", 404, "no run named"),
        ("Bad%20Name", 400, "run name"),
    ],
)
def test_a_run_that_cannot_be_rerun_says_why(server: Server, run: str, status: int, why: str) -> None:
    got, answer = post(server, f"/api/v1/runs/{run}/rerun", {}, {"Origin": server.url})
    assert got == status and why in answer["error"], answer
    if run == "done-local":
        assert "roost rerun done-local" in get(server, "/console/api/runs/done-local")["run"]["rerun_refused"]
        _, _, page = call(server, "GET", "/runs/done-local", HTML)
        assert b'id="rerun" disabled' in page and b"roost rerun done-local" in page


def test_the_submissions_of_ended_runs_are_kept_newest_first_and_capped(tmp_path: Any) -> None:
    import os

    from roost.runtime import messages
    from roost.server.submissions import Submissions

    kept = Submissions(tmp_path, keep_finished=3)
    for i in range(60):
        name = f"r-{i:02d}"
        assert kept.keep(messages.SubmitRun(name, None, "pkg", "pkg.t", b"", "", {}))
        os.utime(kept.folder / name, (1_000_000 + i, 1_000_000 + i))
        kept.finish(name)
    left = sorted(p.name for p in kept.finished_folder.iterdir())
    assert 3 <= len(left) <= 53 and left[-3:] == ["r-57", "r-58", "r-59"] and "r-00" not in left
    assert kept.finished("r-59").task == "pkg.t"  # type: ignore[union-attr]
    assert kept.finished("r-00") is None and kept.finished("../x") is None
    assert not any(kept.folder.iterdir()) and oct(kept.finished_folder.stat().st_mode & 0o777) == "0o700"


def deploy_nightly(server: Server) -> None:
    """A deployed task (no code needed to list it) with a trigger whose name needs escaping."""
    body = {
        "version": "v1",
        "tasks": [
            {"name": "pkg.nightly", "env_name": "pkg", "module": "pkg", "content": "c1",
             "inputs": {"day": {"type": "str", "default": True}}}
        ],
        "triggers": [
            {"task": "pkg.nightly", "name": "yearly <b>", "automation": {"kind": "cron", "expression": "0 0 1 1 *"}}
        ],
    }  # fmt: skip
    status, answer = post(server, "/api/v1/deployments", body)
    assert status in (200, 201), answer


def test_the_tasks_and_triggers_pages(server: Server) -> None:
    deploy_nightly(server)
    status, headers, page = call(server, "GET", "/tasks", HTML)
    assert status == 200 and "script-src 'self'" in headers["content-security-policy"]
    assert b'data-task="pkg.nightly" data-version="v1"' in page and b"day: str (optional)" in page
    assert b'href="/tasks"' in page and b'href="/triggers"' in page  # the header links to both
    status, _, page = call(server, "GET", "/tasks?name=pkg.other", HTML)
    assert status == 200 and b"No task is deployed" in page
    status, _, page = call(server, "GET", "/triggers", HTML)
    assert status == 200 and b"yearly &lt;b&gt;" in page and b"<b>" not in page.split(b"<tbody>")[1]
    assert b"cron 0 0 1 1 * (UTC)" in page and b'data-active="true"' in page and b"Deactivate" in page

    active = "/api/v1/triggers/pkg.nightly/yearly%20%3Cb%3E/active"
    status, answer = post(server, active, {"active": False}, {"Origin": "http://evil.example"})
    assert status == 403
    status, answer = post(server, active, {"active": "no"}, {"Origin": server.url})
    assert status == 400 and "active must be" in answer["error"]
    status, answer = post(server, active, {"active": False}, {"Origin": server.url})
    assert status == 200 and answer["active"] is False
    status, _, page = call(server, "GET", "/triggers", HTML)
    assert b'data-active="false"' in page and b">Activate<" in page
    status, answer = post(server, active, {"active": True}, {"Origin": server.url})
    assert status == 200 and answer["active"] is True
