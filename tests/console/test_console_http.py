"""The console's routes over plain HTTP (no browser): pages and their headers, the JSON view of
``/runs/{run}`` kept for clients, pages of runs by key, bad input answered with a 4xx, the key cookie,
and requests from other sites' pages refused. Plus ``roost ui``, and values that are never unpickled."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.server.console import run_views, value_views
from roost.store.cache_store import CacheStore
from roost.store.records import ActionPhase, ActionRecord, CacheEntry, RunRecord
from roost.store.run_store import RunStore
from roost.store.secret_store import SecretStore
from roost.types import task_io
from roost.types.literals import Literal
from server.conftest import Server, start_server, stop_server

from .conftest import roost_cli, seed_big_run

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("console-http-home")
    store = RunStore(home / "roost.db")
    base = 1_700_000_000.0
    for i in range(120):  # two runs share each creation time: pages must still neither skip nor repeat one
        phase = ActionPhase.FAILED if i % 10 == 0 else ActionPhase.SUCCEEDED
        run = RunRecord(f"run-{i:03d}", "pkg.train" if i % 2 else "pkg.score", phase, "local", base + i // 2)
        run.started_at, run.ended_at = run.created_at, run.created_at + 1.5
        store.put_run(run)
    store.mark(ActionRecord("run-001", "a0", None, "pkg.train", "train", None, 0, ActionPhase.SUCCEEDED, 1))
    CacheStore(store).put(CacheEntry("k" * 64, "pkg.train", "v1", b"\x00" * 2048, base, "run-001", "a0"))
    SecretStore(home=home).set("db-password", "hunter2-secret-value", group="warehouse")
    store.flush()
    store.close()
    running = start_server(home)
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("console-big-home")
    store = RunStore(home / "roost.db")
    base = 1_700_000_000.0
    seed_big_run(store, base)
    store.flush()
    store.close()
    running = start_server(home)
    yield running
    stop_server(running)


def call(
    server: Server, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    parsed = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_pages_are_html_with_a_strict_policy(server: Server) -> None:
    status, headers, body = call(server, "GET", "/", HTML)
    assert status == 200 and headers["content-type"].startswith("text/html")
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert b"run-119" in body and b"run-070" in body and b"run-069" not in body  # the newest 50
    status, headers, body = call(server, "GET", "/runs/run-001", HTML)
    assert status == 200 and b'id="run-state"' in body and b"pkg.train" in body
    status, _, body = call(server, "GET", "/console/static/run.js")
    assert status == 200 and b"renderTree" in body


def test_the_run_url_stays_json_for_clients(server: Server) -> None:
    for accept in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
        status, headers, body = call(server, "GET", "/runs/run-001", accept)
        assert status == 200 and headers["content-type"] == "application/json", accept
        view = json.loads(body)
        assert view["name"] == "run-001" and [a["action_id"] for a in view["actions"]] == ["a0"]


def test_runs_page_by_page_without_gaps_or_repeats(server: Server) -> None:
    seen: list[str] = []
    query = "/console/api/runs"
    while True:
        status, _, body = call(server, "GET", query)
        assert status == 200
        page = json.loads(body)
        seen += [r["name"] for r in page["runs"]]
        if page["next"] is None:
            break
        query = "/console/api/runs?" + urllib.parse.urlencode({"before": page["next"]})
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 120
    # The API pages the same way, and filters by a part of the name.
    status, _, body = call(
        server,
        "GET",
        "/api/v1/runs?limit=3&" + urllib.parse.urlencode({"before": page["next"] or "1700000003.0~run-007"}),
    )
    assert status == 200 and [r["name"] for r in json.loads(body)] == ["run-006", "run-005", "run-004"]
    status, _, body = call(server, "GET", "/api/v1/runs?name=-11&limit=100")
    assert {r["name"] for r in json.loads(body)} == {f"run-11{i}" for i in range(10)}


def test_filters(server: Server) -> None:
    status, _, body = call(server, "GET", "/console/api/runs?phase=failed&task=pkg.score")
    assert status == 200
    assert [r["name"] for r in json.loads(body)["runs"]] == [f"run-{i:03d}" for i in range(110, -1, -10)]
    status, _, body = call(server, "GET", "/?name=run-11&phase=succeeded", HTML)
    assert status == 200 and b"run-119" in body and b"run-110" not in body and b"run-009" not in body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/?phase=sleepy", 400),
        ("/?before=yesterday", 400),
        ("/console/api/runs?before=1~", 400),
        ("/api/v1/runs?before=nan~run-1", 400),
        ("/runs/Not%20A%20Name", 400),
        ("/runs/no-such-run", 404),
        ("/console/api/runs/no-such-run", 404),
        ("/console/api/runs/run-001/actions/nope", 404),
        ("/console/api/runs/run-001/actions/a0/logs?attempt=x", 400),
        ("/reports/run-001/a0", 404),
        ("/reports/run-001/..%2F..%2Fetc", 404),
        ("/console/static/../web_routes.py", 404),
    ],
)
def test_bad_input_is_a_clear_4xx(server: Server, path: str, status: int) -> None:
    got, headers, body = call(server, "GET", path, HTML if not path.startswith(("/console/api", "/api")) else {})
    assert got == status, (path, body)
    assert b"Traceback" not in body and b"web_routes" not in body
    if headers["content-type"].startswith("application/json"):
        assert json.loads(body)["error"]
    assert "Traceback" not in server.output()


def test_a_key_entered_once_is_kept_in_a_strict_http_only_cookie(server: Server) -> None:
    made = roost_cli(server.home, "server", "create-key", "web-person")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    time.sleep(1.1)  # a running server sees new keys within a second

    form = urllib.parse.urlencode({"key": "roost_wrong", "next": "/runs/run-001"}).encode()
    plain = {"Content-Type": "application/x-www-form-urlencoded"}
    status, headers, _ = call(server, "POST", "/login", plain, form)
    assert status == 303 and headers["location"].startswith("/login?") and "set-cookie" not in headers

    form = urllib.parse.urlencode({"key": key, "next": "https://elsewhere.example/"}).encode()
    status, headers, _ = call(server, "POST", "/login", plain, form)
    assert status == 303 and headers["location"] == "/"  # never sent on to another site
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"roost_key={key};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/" in cookie

    status, _, body = call(server, "GET", "/", {**HTML, "Cookie": f"roost_key={key}"})
    assert status == 200 and b"web-person" in body and key.encode() not in body
    # A cookie with a key that is not (or no longer) valid: the browser goes to the login page, a client gets 401.
    status, headers, _ = call(server, "GET", "/runs/run-001", {**HTML, "Cookie": "roost_key=roost_revoked"})
    assert status == 303 and headers["location"] == "/login?next=%2Fruns%2Frun-001"
    status, _, body = call(server, "GET", "/api/v1/runs", {"Cookie": "roost_key=roost_revoked"})
    assert status == 401 and "not valid" in json.loads(body)["error"]
    status, _, body = call(server, "GET", "/login", HTML)
    assert status == 200 and b'name="key"' in body
    status, headers, _ = call(server, "POST", "/logout", {"Origin": server.url})
    assert status == 303 and "Max-Age=0" in headers["set-cookie"] and "roost_key=" in headers["set-cookie"]


def test_changes_from_other_sites_pages_are_refused(server: Server) -> None:
    abort = "/api/v1/runs/run-001/abort"
    for origin in ("http://evil.example", "null", server.url.replace("127.0.0.1", "localhost")):
        status, _, body = call(server, "POST", abort, {"Origin": origin})
        assert status == 403 and "Origin" in json.loads(body)["error"], origin
    status, _, _ = call(server, "POST", "/login", {"Origin": "http://evil.example"}, b"key=x")
    assert status == 403
    made = roost_cli(server.home, "server", "create-key", "cookie-person")
    key = made.stdout.strip()
    time.sleep(1.1)
    # A cookie alone (no Origin) is not the console's page asking: refused.
    status, _, body = call(server, "POST", abort, {"Cookie": f"roost_key={key}"})
    assert status == 403 and "Origin" in json.loads(body)["error"]
    # The console's own page: allowed (the run has ended already: nothing to do).
    status, _, body = call(server, "POST", abort, {"Cookie": f"roost_key={key}", "Origin": server.url})
    assert status == 200 and json.loads(body)["requested"] is False
    # Clients that are no browser send no Origin: as before.
    status, _, _ = call(server, "POST", abort, {})
    assert status == 200


def test_values_are_decoded_for_display_and_never_unpickled(tmp_path: Path) -> None:
    import cloudpickle

    marker = tmp_path / "unpickled"

    class Trap:
        def __reduce__(self) -> Any:
            return (marker.touch, ())

    data = task_io.pack(
        {
            "n": Literal("int", 3),
            "trap": Literal("pickle", cloudpickle.dumps(Trap()), "tests.Trap"),
            "nested": Literal("list", [Literal("pickle", cloudpickle.dumps(Trap()), "tests.Trap")]),
        }
    )
    shown = {v["name"]: v for v in value_views.decoded_values(data, "inputs")}
    assert shown["n"]["text"] == "3" and shown["n"]["type"] == "int"
    assert shown["trap"]["text"] == "<pickled tests.Trap>"
    assert "<pickled tests.Trap>" in shown["nested"]["text"]
    assert not marker.exists()
    assert value_views.decoded_values(b"\x00garbage", "outputs")[0]["type"] == "unreadable"


def test_roost_ui_prints_the_url_and_starts_a_server_once(tmp_path: Path) -> None:
    home = tmp_path / "ui-home"
    try:
        first = roost_cli(home, "ui", "--port", "0")  # no display: it only prints the URL
        assert first.returncode == 0, first.stderr
        url = first.stdout.strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/") and "started a roost server" in first.stderr
        parsed = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        conn.request("GET", "/", headers=HTML)
        response = conn.getresponse()
        assert response.status == 200 and b"<h1>Runs</h1>" in response.read()
        conn.close()
        again = roost_cli(home, "ui", "--no-browser")
        assert again.returncode == 0 and again.stdout.strip() == url and "started" not in again.stderr
    finally:
        roost_cli(home, "server", "stop")


def test_a_big_run_is_shown_through_a_window(big_server: Server, server: Server) -> None:
    status, _, body = call(big_server, "GET", "/console/api/runs/big-run")
    state = json.loads(body)
    assert status == 200 and state["window"]["total"] == 3031
    assert state["window"]["kids"]["a0"] == 30 and state["window"]["kids"]["c7"] == 100
    assert [a["id"] for a in state["actions"]] == ["a0", *(f"c{c}" for c in range(30))]  # roots and the root's children
    _, _, body = call(big_server, "GET", "/console/api/runs/big-run?open=c7,c9")
    shown = {a["id"] for a in json.loads(body)["actions"]}
    assert {f"c7-g{g}" for g in range(100)} <= shown and "c8-g0" not in shown and "c9-g99" in shown
    _, _, page = call(big_server, "GET", "/runs/big-run", HTML)
    assert (
        len(page) < 200_000 and b"3031" in page and b"c7-g0" not in page
    )  # the page carries the window, not 3031 actions
    _, _, small = call(server, "GET", "/console/api/runs/run-001")
    assert json.loads(small)["window"] is None


def test_cache_secrets_and_api_pages(server: Server) -> None:
    status, _, body = call(server, "GET", "/cache", HTML)
    assert status == 200 and b"pkg.train" in body and b"2 KiB" in body and b"run-001" in body
    status, _, body = call(server, "GET", "/secrets", HTML)
    assert status == 200 and b"db-password" in body and b"warehouse" in body and b"hunter2" not in body
    _, _, listed = call(server, "GET", "/api/v1/secrets", {"Accept": "application/json"})
    assert json.loads(listed) == [{"key": "db-password", "group": "warehouse"}]
    status, _, body = call(server, "GET", "/api", HTML)
    assert status == 200 and b"/api/v1/runs/{run}/conditions/{name}/signal" in body and b"DELETE" in body
    _, _, entries = call(server, "GET", "/api/v1/cache?task=train", {"Accept": "application/json"})
    (entry,) = json.loads(entries)
    assert entry["size"] == 2048 and "outputs" not in entry
    other_site = {"Origin": "https://evil.example", "Accept": "application/json"}
    status, _, _ = call(server, "DELETE", f"/api/v1/cache/{entry['key']}", other_site)
    assert status == 403  # a page of another site cannot forget it
    status, _, _ = call(server, "DELETE", f"/api/v1/cache/{entry['key']}", {"Accept": "application/json"})
    assert status == 200
    status, _, body = call(server, "DELETE", f"/api/v1/cache/{entry['key']}", {"Accept": "application/json"})
    assert status == 404 and b"no cache entry" in body
    _, _, entries = call(server, "GET", "/api/v1/cache", {"Accept": "application/json"})
    assert json.loads(entries) == []


def test_a_run_page_follows_its_run_through_server_sent_events(server: Server) -> None:
    status, headers, body = call(server, "GET", "/console/api/runs/run-001/events")
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ")]
    assert len(events) == 1 and events[0]["run"]["name"] == "run-001"  # an ended run: one event, then the end
    assert [a["id"] for a in events[0]["actions"]] == ["a0"]
    status, _, _ = call(server, "GET", "/console/api/runs/no-such-run/events")
    assert status == 404


def test_the_timeline_shows_where_time_went() -> None:
    t = 1_700_000_000.0
    plain = ActionRecord("r", "a1", "a0", "pkg.t", "t", None, 1, ActionPhase.SUCCEEDED, 1, t, t + 1, t + 3)
    assert run_views.action_node(plain)["segments"] is None  # drawn from its own times
    waited = ActionRecord("r", "a2", "a0", "pkg.big", "big", None, 2, ActionPhase.SUCCEEDED, 1, t, t + 5, t + 9)
    waited.transitions = f"0:waiting_for_resources:{t + 1};0:initializing:{t + 4};"
    pieces = run_views.action_node(waited)["segments"]
    assert [p[0] for p in pieces] == ["queued", "waiting_for_resources", "initializing", "running"]
    assert [p[1] - t for p in pieces] == [0, 1, 4, 5] and pieces[-1][2] == t + 9


def test_the_runs_list_follows_the_store_through_server_sent_events(big_server: Server) -> None:
    parsed = urllib.parse.urlsplit(big_server.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.request("GET", "/console/api/events/runs?name=stream&phase=running")
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("content-type").startswith("text/event-stream")

        def next_event() -> Any:
            while True:
                line = response.readline().decode()
                if line.startswith("data: "):
                    return json.loads(line[6:])

        assert next_event() == {"runs": [], "next": None}  # nothing matches yet
        store = RunStore(big_server.home / "roost.db")
        now = time.time()
        store.put_run(RunRecord("other-1", "pkg.t", ActionPhase.RUNNING, "local", now, now))  # not its name
        store.put_run(RunRecord("stream-done", "pkg.t", ActionPhase.SUCCEEDED, "local", now, now))  # nor phase
        store.put_run(RunRecord("stream-1", "pkg.t", ActionPhase.RUNNING, "local", now + 1, now + 1))
        store.flush()
        assert [r["name"] for r in next_event()["runs"]] == ["stream-1"]  # sent when the page changed
        store.put_run(RunRecord("stream-1", "pkg.t", ActionPhase.SUCCEEDED, "local", now + 1, now + 1, now + 2))
        store.flush()
        store.close()
        assert next_event()["runs"] == []  # it left the filtered page
    finally:
        conn.close()
    status, _, body = call(big_server, "GET", "/console/api/events/runs?before=nonsense&phase=bogus")
    assert status == 400 and b"phase" in body


def test_only_files_a_value_names_are_found_for_download(tmp_path: Path) -> None:
    folder = tmp_path / "dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.txt").write_text("b")
    (folder / "out").symlink_to(tmp_path)  # a link inside the Dir that points out of it
    (tmp_path / "secret.txt").write_text("no")
    one = Literal("file", {"path": str(tmp_path / "one.csv"), "name": "one.csv", "format": "", "hash": ""})
    folder_lit = Literal("dir", {"path": str(folder), "name": "dir", "format": "", "hash": ""})
    nested = Literal("record", {"files": Literal("list", [one]), "where": folder_lit}, "pkg.mod:Bundle")
    refs = value_views.blob_refs(nested)
    assert [kind for kind, _, _ in refs] == ["file", "dir"]
    assert value_views.blob_path(refs, str(tmp_path / "one.csv"), None) == (str(tmp_path / "one.csv"), "one.csv")
    assert value_views.blob_path(refs, str(folder), "sub/b.txt") == (f"{folder}/sub/b.txt", "b.txt")
    for member in ("../secret.txt", "/etc/passwd", "out/secret.txt", "sub\\b.txt", ""):
        assert value_views.blob_path(refs, str(folder), member) is None, member
    assert value_views.blob_path(refs, str(tmp_path / "secret.txt"), None) is None
    shown = value_views.shown_value("bundle", nested, {"files": [], "where": None})
    assert shown["type"] == "Bundle" and shown["kind"] == "json"
    # A Dir lists its own files: the link pointing out of it is not followed.
    assert [link["label"] for link in shown["links"]] == ["one.csv", "dir/sub/b.txt"]
