"""The console's routes: its pages, the JSON they refresh themselves from, reports, and signing in.

    GET  /                                         the runs list (?phase&task&name&before)
    GET  /runs/{run}                               the run's page (HTML for a browser; JSON otherwise)
    GET  /reports/{run}/{action}                   the action's report, sandboxed (see REPORT_POLICY)
    GET  /tasks[?name], /triggers                  deployed tasks (every version), triggers (activate/deactivate)
    GET  /console/api/runs[?phase&task&name]       the first page of runs, for the list's live refresh
    GET  /console/api/events/runs[?phase&task&name] that page as server-sent events, sent when it changes
    GET  /console/api/runs/{run}                   the run and its action tree, for the page's live refresh
    GET  /console/api/runs/{run}/actions/{id}      one action: inputs, outputs, attempts, error
    GET  /console/api/runs/{run}/actions/{id}/logs[?attempt&after]   its log lines after the first ``after``
    GET  /console/api/runs/{run}/actions/{id}/files?ref[&member]      a File, DataFrame or file of a Dir
                                                   that the action's inputs or outputs name, downloaded
    GET  /login, POST /login, POST /logout         the API key kept in an HttpOnly cookie
    GET  /console/static/...                       the console's CSS and JavaScript (in the package)

Aborting a run is the API's ``POST /api/v1/runs/{run}/abort``, rerunning it ``.../rerun``, answering a
condition ``.../conditions/{id}/signal``; the access middleware refuses them from another site's page.
Reads go through the same store as the API, in a thread: the event loop answers the next request while
SQLite reads.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from roost.runtime.ids import ROOT_ACTION, check_run_name
from roost.server.access import KEY_COOKIE, Access
from roost.server.api import BadRequest, _number, _phase, read_body
from roost.server.console import deployed_pages, run_views, store_pages, value_files, web_pages
from roost.server.registry import TaskRegistry
from roost.server.trigger_table import TriggerTable
from roost.store import store_config
from roost.store.cache_store import CacheStore, summary
from roost.store.records import RunRecord
from roost.store.run_store import RunStore
from roost.store.secret_store import SecretStore

STATIC = Path(__file__).parent / "static"
PAGE_SIZE = 50
MAX_REPORT_BYTES = 32 * 2**20
# A run of more actions than this is shown through a window: its roots, the children of the nodes
# open on the page (the first CHILDREN_SHOWN, or up to CHILDREN_ALL when asked), each node's count.
WHOLE_RUN = 2000
CHILDREN_SHOWN = 200
CHILDREN_ALL = 5000
MAX_OPENED = 100
EVENTS_S = 0.5  # how often a run page's event stream looks at the run

# The console's own pages: nothing but its own scripts, styles and frames, never framed elsewhere.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
# A report is user HTML: its own inline scripts and styles may run, in a sandbox that gives it an origin
# of its own (no cookie, no storage of the console's), with no way to fetch, submit, or load anything.
REPORT_POLICY = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; media-src data: blob:; connect-src 'none'; form-action 'none'; "
    "base-uri 'none'; object-src 'none'; frame-ancestors 'self'"
)
_COMMON_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin", "cache-control": "no-store"}


def page(html: str, status: int = 200) -> Response:
    headers = {**_COMMON_HEADERS, "content-security-policy": PAGE_POLICY, "x-frame-options": "DENY"}
    return Response(html, status, headers=headers, media_type="text/html; charset=utf-8")


def data(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, headers=_COMMON_HEADERS, media_type="application/json")


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept and "application/msgpack" not in accept


def caller_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("caller", "local"))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this server, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class Console:
    """The web console over the store the API reads (``json_run_page``: the JSON view of ``/runs/{run}``
    for clients that do not ask for HTML)."""

    def __init__(
        self,
        store: RunStore,
        access: Access,
        json_run_page: Callable[[Request], Response],
        why_no_rerun: Callable[[RunRecord], str | None] | None = None,
        registry: TaskRegistry | None = None,
        triggers: TriggerTable | None = None,
        apps: Callable[[], list[dict[str, Any]]] | None = None,
    ):
        self.apps = apps  # the served apps as the API shows them (app_replicas.AppManager.view)
        self.registry = registry
        self.triggers = triggers
        self.store = store
        self.access = access
        self.json_run_page = json_run_page
        # Why an ended run cannot be rerun from its page (None: it can); the API's ``reruns.py``.
        self.why_no_rerun = why_no_rerun or (lambda run: "this console cannot start runs")

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.runs_page),
            Route("/runs/{run}", self.run_page),
            Route("/reports/{run}/{action}", self.report),
            Route("/tasks", self.tasks_page),
            Route("/triggers", self.triggers_page),
            Route("/apps", self.apps_page),
            Route("/cache", self.cache_page),
            Route("/secrets", self.secrets_page),
            Route("/api", self.api_page),
            Route("/console/api/runs", self.runs_data),
            Route("/console/api/events/runs", self.runs_events),
            Route("/console/api/runs/{run}", self.run_data),
            Route("/console/api/runs/{run}/events", self.run_events),
            Route("/console/api/runs/{run}/actions/{action}", self.action_data),
            Route("/console/api/runs/{run}/actions/{action}/logs", self.logs_data),
            Route("/console/api/runs/{run}/actions/{action}/files", self.file_download),
            Route("/login", self.login_page),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Mount("/console/static", StaticFiles(directory=STATIC), name="console-static"),
        ]

    # -- runs -----------------------------------------------------------------------------------------
    def _filters(self, request: Request) -> dict[str, str]:
        query = request.query_params
        filters = {k: query.get(k, "").strip()[:200] for k in ("phase", "task", "name")}
        filters["phase"] = _phase(filters["phase"] or None) or ""
        return filters

    def _runs(self, filters: dict[str, str], cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        before = None
        if cursor:
            before = run_views.decode_cursor(cursor)
            if before is None:
                raise BadRequest("before must be a cursor from a runs page")
        runs = self.store.list_runs(
            PAGE_SIZE + 1,
            filters["phase"] or None,
            filters["task"] or None,
            name_contains=filters["name"] or None,
            before=before,
        )
        following = run_views.encode_cursor(runs[PAGE_SIZE - 1]) if len(runs) > PAGE_SIZE else None
        return [run_views.run_row(r) for r in runs[:PAGE_SIZE]], following

    async def runs_page(self, request: Request) -> Response:
        try:
            filters = self._filters(request)
            cursor = request.query_params.get("before")
            rows, following = await run_in_threadpool(self._runs, filters, cursor)
        except BadRequest as e:
            return page(web_pages.not_found_page(str(e.detail)), 400)
        return page(web_pages.runs_page(rows, filters, following, not cursor, caller_of(request)))

    async def runs_data(self, request: Request) -> Response:
        cursor = request.query_params.get("before")
        rows, following = await run_in_threadpool(self._runs, self._filters(request), cursor)
        return data({"runs": rows, "next": following})

    async def runs_events(self, request: Request) -> Response:
        """The first page of runs (filtered) as server-sent events: sent when it changes (looked at twice
        a second), until the page goes away."""
        filters = self._filters(request)
        first = await run_in_threadpool(self._runs, filters, None)

        async def changes() -> AsyncIterator[str]:
            (rows, following), sent = first, ""
            while True:
                text = json.dumps({"runs": rows, "next": following})
                if text != sent:
                    sent = text
                    yield f"data: {text}\n\n"
                if await request.is_disconnected():
                    return
                await asyncio.sleep(EVENTS_S)
                rows, following = await run_in_threadpool(self._runs, filters, None)

        return _event_stream(changes())

    # -- one run --------------------------------------------------------------------------------------
    def _run_name(self, request: Request) -> str:
        name = request.path_params["run"]
        try:
            return check_run_name(name)
        except ValueError as e:
            raise BadRequest(str(e)) from None

    def _run_state(self, name: str, opened: tuple[str, ...] = (), whole: tuple[str, ...] = ()) -> dict[str, Any]:
        record = self.store.get_run(name)
        if record is None:
            raise BadRequest(f"no run named {name!r}", 404)
        actions, window = self._actions_shown(name, opened, whole)
        row = run_views.run_row(record)
        row["aborted_by"] = self.store.action_abort_reason(name, ROOT_ACTION)
        row["rerun_refused"] = self.why_no_rerun(record) if row["terminal"] else "the run has not ended"
        waiting = self.store.list_conditions(name, pending=True) if not record.phase.is_terminal else []
        row["waiting_conditions"] = [{"id": c.action_id, "name": c.name} for c in waiting]
        return {"run": row, "actions": [run_views.action_node(a) for a in actions], "window": window}

    def _actions_shown(
        self, name: str, opened: tuple[str, ...], whole: tuple[str, ...]
    ) -> tuple[list[Any], dict[str, Any] | None]:
        """Every action of a run of up to ``WHOLE_RUN`` actions; of a bigger one a window: its roots and
        the children of the root and of the ``opened`` nodes (the first ``CHILDREN_SHOWN``, all of them
        up to ``CHILDREN_ALL`` for the ``whole`` ones), with how many children each node has -- so the
        page of a run of 100k actions is as quick to show as a small one's."""
        counts = self.store.child_counts(name)
        total = sum(counts.values())
        if total <= WHOLE_RUN:
            return self.store.list_actions(name), None
        shown = {a.action_id: a for a in self.store.list_children(name, None, CHILDREN_SHOWN)}
        for parent in dict.fromkeys((ROOT_ACTION, *opened[:MAX_OPENED], *whole[:MAX_OPENED])):
            if counts.get(parent):
                limit = CHILDREN_ALL if parent in whole else CHILDREN_SHOWN
                shown.update((a.action_id, a) for a in self.store.list_children(name, parent, limit))
        ordered = sorted(shown.values(), key=lambda a: a.seq)
        return ordered, {"total": total, "kids": {k: v for k, v in counts.items() if k}}

    def _ancestors(self, name: str, action_id: str | None) -> tuple[str, ...]:
        """The action asked for (``?action=``, an ``Action.url``) and the actions above it: opened, so a
        big run's window holds it however deep it is."""
        chain: list[str] = []
        while action_id and len(chain) < MAX_OPENED:
            action = self.store.get_action(name, action_id[:200])
            if action is None:
                break
            chain.append(action.action_id)
            action_id = action.parent_id
        return tuple(chain)

    async def run_page(self, request: Request) -> Response:
        if not wants_html(request):
            return self.json_run_page(request)
        try:
            name = self._run_name(request)
            opened = await run_in_threadpool(self._ancestors, name, request.query_params.get("action"))
            state = await run_in_threadpool(self._run_state, name, opened)
        except BadRequest as e:
            return page(web_pages.not_found_page(str(e.detail)), e.status_code)
        return page(web_pages.run_page(state["run"], state["actions"], caller_of(request), state["window"]))

    async def run_data(self, request: Request) -> Response:
        query = request.query_params
        opened, whole = _ids(query.get("open")), _ids(query.get("all"))
        return data(await run_in_threadpool(self._run_state, self._run_name(request), opened, whole))

    async def run_events(self, request: Request) -> Response:
        """The run's state as server-sent events: sent when it changes (looked at twice a second), until
        the run has ended or the page goes away."""
        name = self._run_name(request)
        query = request.query_params
        opened, whole = _ids(query.get("open")), _ids(query.get("all"))
        first = await run_in_threadpool(self._run_state, name, opened, whole)  # a 404 before the stream

        async def changes() -> AsyncIterator[str]:
            state, sent = first, ""
            while True:
                text = json.dumps(state)
                if text != sent:
                    sent = text
                    yield f"data: {text}\n\n"
                if state["run"]["terminal"] or await request.is_disconnected():
                    return
                await asyncio.sleep(EVENTS_S)
                state = await run_in_threadpool(self._run_state, name, opened, whole)

        return _event_stream(changes())

    def _action_detail(self, name: str, action_id: str) -> dict[str, Any]:
        run = self.store.get_run(name)
        action = self.store.get_action(name, action_id) if run is not None else None
        if run is None or action is None:
            raise BadRequest(f"run {name!r} has no action {action_id[:100]!r}", 404)
        attempts = self.store.list_attempts(name, action_id)
        condition = self.store.get_condition(name, action_id) if action.isolation == run_views.CONDITION else None
        reason = self.store.action_abort_reason(name, action_id)
        return run_views.action_detail(run, action, attempts, reason, condition)

    async def action_data(self, request: Request) -> Response:
        detail = await run_in_threadpool(self._action_detail, self._run_name(request), request.path_params["action"])
        return data(detail)

    def _logs(self, name: str, action_id: str, attempt: int | None, after: int) -> dict[str, Any]:
        lines = self.store.list_logs(name, action_id, attempt)
        shown = [{"ts": line.ts, "stream": line.stream, "line": line.line, "attempt": line.attempt} for line in lines]
        return {"lines": shown[after:], "next": len(shown)}

    async def logs_data(self, request: Request) -> Response:
        query = request.query_params
        attempt = _number(query["attempt"], "attempt", 0, 1_000_000) if query.get("attempt") else None
        after = _number(query.get("after", "0"), "after", 0, 10**9)
        found = await run_in_threadpool(
            self._logs, self._run_name(request), request.path_params["action"], attempt, after
        )
        return data(found)

    async def file_download(self, request: Request) -> Response:
        query = request.query_params
        ref, member = query.get("ref", ""), query.get("member")
        if not ref:
            raise BadRequest("ref is required: the path of a File, Dir or DataFrame the action names")
        name, action_id = self._run_name(request), request.path_params["action"]
        where, filename = await run_in_threadpool(value_files.file_of, self.store, name, action_id, ref, member)
        return await value_files.download(where, filename, _COMMON_HEADERS)

    async def report(self, request: Request) -> Response:
        name, action_id = self._run_name(request), request.path_params["action"]
        run = await run_in_threadpool(self.store.get_run, name)
        path = run_views.report_path(run, action_id) if run is not None else None
        if path is None:
            raise BadRequest(f"action {action_id[:100]!r} of run {name!r} wrote no report here", 404)
        content = await run_in_threadpool(_read_report, path)
        headers = {**_COMMON_HEADERS, "content-security-policy": REPORT_POLICY}
        headers["cross-origin-resource-policy"] = "same-origin"
        return Response(content, headers=headers, media_type="text/html; charset=utf-8")

    # -- what is deployed ---------------------------------------------------------------------------------
    async def tasks_page(self, request: Request) -> Response:
        name = request.query_params.get("name", "").strip()[:1000]
        found = await run_in_threadpool(self.registry.list, name or None) if self.registry is not None else []
        return page(deployed_pages.tasks_page([t.to_wire() for t in found], name, caller_of(request)))

    async def triggers_page(self, request: Request) -> Response:
        found = await run_in_threadpool(self.triggers.list) if self.triggers is not None else []
        return page(deployed_pages.triggers_page([t.to_wire() for t in found], caller_of(request)))

    def apps_page(self, request: Request) -> Response:
        return page(deployed_pages.apps_page(self.apps() if self.apps is not None else [], caller_of(request)))

    # -- the store's cache and secrets, the API ------------------------------------------------------------
    async def cache_page(self, request: Request) -> Response:
        task = request.query_params.get("task", "").strip()[:1000]
        entries = await run_in_threadpool(CacheStore(self.store).entries, task or None, 500)
        return page(store_pages.cache_page([summary(e) for e in entries], task, caller_of(request)))

    async def secrets_page(self, request: Request) -> Response:
        names = await run_in_threadpool(SecretStore(home=store_config.current().home).list)
        return page(store_pages.secrets_page([{"key": k, "group": g} for k, g in names], caller_of(request)))

    def api_page(self, request: Request) -> Response:
        from roost.server import api, app_routes, deploy_routes

        docs = "\n".join(module.__doc__ or "" for module in (api, deploy_routes, app_routes))
        return page(store_pages.api_page(docs, caller_of(request)))

    # -- signing in ---------------------------------------------------------------------------------------
    def login_page(self, request: Request) -> Response:
        message = "That key is not valid." if request.query_params.get("failed") else ""
        target = safe_next(request.query_params.get("next"))
        return page(web_pages.login_page(target, message, self.access.keys.enabled()))

    async def login(self, request: Request) -> Response:
        form = urllib.parse.parse_qs((await read_body(request, 16 * 1024)).decode("utf-8", "replace"))
        key = (form.get("key") or [""])[0].strip()
        target = safe_next((form.get("next") or ["/"])[0])
        if await run_in_threadpool(self.access.keys.verify, key) is None:
            query = urllib.parse.urlencode({"next": target, "failed": "1"})
            return Response(status_code=303, headers={"location": f"/login?{query}", **_COMMON_HEADERS})
        response = Response(status_code=303, headers={"location": target, **_COMMON_HEADERS})
        response.set_cookie(
            KEY_COOKIE, key, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
        )
        return response

    def logout(self, request: Request) -> Response:
        response = Response(status_code=303, headers={"location": "/login", **_COMMON_HEADERS})
        response.delete_cookie(KEY_COOKIE, path="/", httponly=True, samesite="strict")
        return response


def _event_stream(events: AsyncIterator[str]) -> Response:
    headers = {**_COMMON_HEADERS, "x-accel-buffering": "no"}
    return StreamingResponse(events, headers=headers, media_type="text/event-stream")


def _read_report(path: str) -> bytes:
    with open(path, "rb") as f:
        content = f.read(MAX_REPORT_BYTES + 1)
    if len(content) > MAX_REPORT_BYTES:
        raise BadRequest(f"the report is over {MAX_REPORT_BYTES} bytes: read it from {path}", 413)
    return content


def _ids(text: str | None) -> tuple[str, ...]:
    """A comma-separated list of action ids from a query, at most ``MAX_OPENED`` of them."""
    if not text:
        return ()
    return tuple(part for part in text.split(",")[:MAX_OPENED] if 0 < len(part) <= 200)
