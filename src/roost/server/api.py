"""The server's HTTP API (Starlette): code bundles, run submission, and reads of the run store (what is
deployed is in ``deploy_routes.py``, apps in ``app_routes.py``).

    GET  /health                                   liveness: {"roost": version}
    HEAD /api/v1/bundles/{digest}                  200 when the server has the bundle, else 404
    PUT  /api/v1/bundles/{digest}                  a code bundle (.tar.gz), checked and unpacked
    POST /api/v1/runs                              a ``messages.SubmitRun`` -> ``RunAccepted``
    GET  /api/v1/runs[?limit&phase&task&name&before]  runs, newest first (before: the next page)
    GET  /api/v1/runs/{run}                        one run
    GET  /api/v1/runs/{run}/actions[?phase]        its actions
    GET  /api/v1/runs/{run}/actions/{id}           one action
    GET  /api/v1/runs/{run}/actions/{id}/attempts  its attempts
    GET  /api/v1/runs/{run}/logs[?action&attempt]  log lines
    POST /api/v1/runs/{run}/abort                  ask the run to stop
    POST /api/v1/runs/{run}/actions/{id}/abort     ask one action to stop ({"reason": ...})
    POST /api/v1/runs/{run}/rerun                  run an ended server run again ({"recover": bool}) -> {"name", "url"}
    POST /api/v1/runs/{run}/conditions/{name}/signal  answer a condition ({"value": ...} or {"fail": reason})
    GET  /api/v1/conditions[?run&pending]          conditions, newest first
    GET  /api/v1/cache[?task&limit]                cached task results (what they are, not their values)
    DELETE /api/v1/cache/{key}                     forget one
    GET  /api/v1/secrets                           the names of the server's secrets (never their values)
    GET  /runs/{run}                               the run's page (its URL): the web console's page for a
                                                   browser (``console/``), its record and actions as JSON else

Bodies are msgpack (the roost client) or JSON (anyone else: ``Accept: application/json``, the
default for a client that asks for neither). Every error is a 4xx with ``{"error": one line}``;
anything unexpected a 500 with a line naming the server log, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import msgpack
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost._version import __version__
from roost.errors import ConditionNotFoundError
from roost.runtime import code_bundles, messages
from roost.runtime.ids import ROOT_ACTION, check_run_name
from roost.runtime.runs import condition_answers
from roost.runtime.runs.run_liveness import controller_gone
from roost.server.access import Access
from roost.server.bundle_store import BundleStore
from roost.server.hosts import Hosts
from roost.server.reruns import Reruns
from roost.server.submissions import Refused, Submissions
from roost.store import store_config
from roost.store.cache_store import CacheStore, summary
from roost.store.record_codec import to_json, to_wire
from roost.store.records import ActionPhase, ErrorInfo
from roost.store.run_store import RunStore
from roost.store.secret_store import SecretStore

logger = logging.getLogger("roost.server")

MSGPACK = "application/msgpack"
MAX_SUBMISSION_BYTES = 64 * 2**20  # inputs above a few KiB are offloaded to the blob store first
_PHASES = {p.value for p in ActionPhase}


class BadRequest(HTTPException):
    def __init__(self, reason: str, status: int = 400):
        super().__init__(status, reason)


def reply(request: Request, body: Any, status: int = 200) -> Response:
    """``body`` in the format the caller reads: msgpack when it asks for it, else JSON."""
    if MSGPACK in request.headers.get("accept", ""):
        return Response(msgpack.packb(body, use_bin_type=True), status, media_type=MSGPACK)
    return Response(json.dumps(to_json(body), indent=1), status, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the body is {declared} bytes; at most {limit} are accepted", 413)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise BadRequest(f"the body is over {limit} bytes", 413)
    return bytes(data)


class Api:
    """The routes, over one store, bundle store and set of bundle hosts."""

    def __init__(
        self,
        store: RunStore,
        bundles: BundleStore,
        hosts: Hosts,
        base_url: str,
        submissions: Submissions,
    ):
        self.reruns = Reruns(store, submissions, bundles, hosts)
        self.submissions = submissions
        self.store = store
        self.bundles = bundles
        self.hosts = hosts
        self.base_url = base_url.rstrip("/")

    def routes(self) -> list[Route]:
        return [
            Route("/health", self.health),
            Route("/api/v1/bundles/{digest}", self.bundle, methods=["HEAD", "GET", "PUT"]),
            Route("/api/v1/runs", self.submit, methods=["POST"]),
            Route("/api/v1/runs", self.list_runs),
            Route("/api/v1/runs/{run}", self.get_run),
            Route("/api/v1/runs/{run}/actions", self.list_actions),
            Route("/api/v1/runs/{run}/actions/{action}", self.get_action),
            Route("/api/v1/runs/{run}/actions/{action}/attempts", self.list_attempts),
            Route("/api/v1/runs/{run}/logs", self.list_logs),
            Route("/api/v1/runs/{run}/abort", self.abort_run, methods=["POST"]),
            Route("/api/v1/runs/{run}/actions/{action}/abort", self.abort_action, methods=["POST"]),
            Route("/api/v1/runs/{run}/rerun", self.rerun, methods=["POST"]),
            Route("/api/v1/runs/{run}/exchange", self.exchange, methods=["POST"]),
            Route("/api/v1/runs/{run}/conditions/{condition}/signal", self.signal_condition, methods=["POST"]),
            Route("/api/v1/conditions", self.list_conditions),
            Route("/api/v1/cache", self.list_cache),
            Route("/api/v1/cache/{key}", self.forget_cache_entry, methods=["DELETE"]),
            Route("/api/v1/secrets", self.list_secrets),
            Route("/runs/{run}", self.run_page),
        ]

    async def health(self, request: Request) -> Response:
        return reply(request, {"roost": __version__, "time": time.time()})

    # -- bundles ------------------------------------------------------------------------------------
    async def bundle(self, request: Request) -> Response:
        digest = request.path_params["digest"]
        try:
            BundleStore.check_digest(digest)
            if request.method in ("HEAD", "GET"):
                return Response(status_code=200 if self.bundles.has(digest) else 404)
            data = await read_body(request, self.bundles.max_bytes)
            # Checking and unpacking take seconds for a big bundle: not on the loop every request needs.
            new = await run_in_threadpool(self.bundles.put, digest, data)
        except code_bundles.BundleError as e:
            raise BadRequest(str(e)) from None
        return reply(request, {"digest": digest, "stored": new}, 201 if new else 200)

    # -- runs ----------------------------------------------------------------------------------------
    async def submit(self, request: Request) -> Response:
        submission = check_submission(await read_body(request, MAX_SUBMISSION_BYTES))
        if submission.bundle is not None and not self.bundles.has(submission.bundle):
            raise BadRequest(f"no code bundle {submission.bundle} on this server: upload it first", 409)
        try:
            answer = await self.submissions.start(self.hosts, submission)
        except Refused as e:
            raise BadRequest(str(e), e.status) from None
        answer.url = self.run_url(answer.name)
        if MSGPACK in request.headers.get("accept", ""):
            return Response(messages.encode(answer), 201, media_type=MSGPACK)
        return reply(request, {"name": answer.name, "url": answer.url}, 201)

    def run_url(self, name: str) -> str:
        return f"{self.base_url}/runs/{name}"

    def list_runs(self, request: Request) -> Response:
        """Runs, newest first; ``name`` keeps those whose name holds it, ``before=CREATED_AT~NAME`` (the
        last run of a page) starts the next page."""
        query = request.query_params
        limit = _number(query.get("limit", "50"), "limit", 1, 10_000)
        phase = _phase(query.get("phase"))
        before = None
        if query.get("before"):
            before = _cursor(query["before"])
        runs = self.store.list_runs(
            limit=limit, phase=phase, task_name=query.get("task"), name_contains=query.get("name"), before=before
        )
        return reply(request, [to_wire(r) for r in runs])

    def _run_name(self, request: Request) -> str:
        name = request.path_params["run"]
        try:
            check_run_name(name)
        except ValueError as e:
            raise BadRequest(str(e)) from None
        return name  # type: ignore[no-any-return]

    async def get_run(self, request: Request) -> Response:
        """One run; with ``?wait=S``, once it has ended or S seconds (at most 60) have passed."""
        name = self._run_name(request)
        wait = _number(request.query_params.get("wait", "0"), "wait", 0.0, 60.0, float)
        record = await run_in_threadpool(self.store.get_run, name)
        if record is None:
            raise BadRequest(f"no run named {name!r}", 404)
        if wait and not record.phase.is_terminal:
            ending = self.hosts.ending(name)
            deadline = time.monotonic() + wait
            while not record.phase.is_terminal and time.monotonic() < deadline:
                # Its host announces the end; a run of another process is looked at twice a second.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ending.wait(), min(0.5, max(deadline - time.monotonic(), 0.01)))
                record = await run_in_threadpool(self.store.get_run, name) or record
            if record.phase.is_terminal:
                self.hosts.stop_waiting(name)
        return reply(request, to_wire(record))

    def list_actions(self, request: Request) -> Response:
        phases = tuple(_phase(p) or "" for p in request.query_params.getlist("phase"))
        actions = self.store.list_actions(self._run_name(request), phases)
        return reply(request, [to_wire(a) for a in actions])

    def get_action(self, request: Request) -> Response:
        record = self.store.get_action(self._run_name(request), request.path_params["action"])
        if record is None:
            raise BadRequest(f"run {request.path_params['run']!r} has no action {request.path_params['action']!r}", 404)
        return reply(request, to_wire(record))

    def list_attempts(self, request: Request) -> Response:
        attempts = self.store.list_attempts(self._run_name(request), request.path_params["action"])
        return reply(request, [to_wire(a) for a in attempts])

    def list_logs(self, request: Request) -> Response:
        query = request.query_params
        attempt = _number(query["attempt"], "attempt", 0, 1_000_000) if "attempt" in query else None
        lines = self.store.list_logs(self._run_name(request), query.get("action"), attempt)
        return reply(request, [to_wire(line) for line in lines])

    def abort_run(self, request: Request) -> Response:
        """Ask the run to stop, recording who asked: the caller's key name, or "local"."""
        name = self._run_name(request)
        run = self.store.get_run(name)
        if run is None:
            raise BadRequest(f"no run named {name!r}", 404)
        if run.phase.is_terminal:
            return reply(request, {"requested": False, "phase": run.phase.value})
        by = f"aborted by {request.scope.get('state', {}).get('caller', 'local')} through the server"
        if controller_gone(run):
            # Nothing is left to hear the request (its process died): record the end here, as `roost abort`.
            run.phase, run.ended_at = ActionPhase.ABORTED, time.time()
            run.error = ErrorInfo("ActionAborted", "user", f"run {name} was {by} after its controller died")
            self.store.put_run(run)
        # The root action's abort carries the reason (its error says who); the run's flag stops the rest.
        self.store.request_action_abort(name, ROOT_ACTION, by)
        return reply(request, {"requested": self.store.request_abort(name)})

    async def abort_action(self, request: Request) -> Response:
        name = self._run_name(request)
        body = _map(await read_body(request, 64 * 1024), request)
        reason = body.get("reason", "aborted through the server's API")
        if not isinstance(reason, str):
            raise BadRequest("reason must be text")
        action = request.path_params["action"]
        # The store keeps any request it is given: one for an action that is not there would stay forever.
        if self.store.get_action(name, action) is None:
            raise BadRequest(f"run {name!r} has no action {action!r}", 404)
        self.store.request_action_abort(name, action, reason[:1000])
        return reply(request, {"requested": True})

    async def rerun(self, request: Request) -> Response:
        """Run an ended run of this server again, as a new run (``reruns.py``); with ``recover``, what
        succeeded in it is reused. Recorded as asked for by the caller."""
        name = self._run_name(request)
        recover = _map(await read_body(request, 64 * 1024), request).get("recover", False)
        if not isinstance(recover, bool):
            raise BadRequest("recover must be true or false")
        by = request.scope.get("state", {}).get("caller", "local")
        try:
            answer = await self.reruns.rerun(name, recover, by)
        except Refused as e:
            raise BadRequest(str(e), e.status) from None
        return reply(request, {"name": answer.name, "url": self.run_url(answer.name)}, 201)

    async def exchange(self, request: Request) -> Response:
        """The client of a hybrid run's root action: its messages in, what its host holds for it out
        (waiting up to ``wait`` seconds, at most 30, when there is nothing yet)."""
        name = self._run_name(request)
        wait = _number(request.query_params.get("wait", "0"), "wait", 0.0, 30.0, float)
        try:
            incoming = messages.decode(await read_body(request, MAX_SUBMISSION_BYTES))
        except messages.ProtocolError as e:
            raise BadRequest(f"the body is not a run's messages: {e}") from None
        if not isinstance(incoming, messages.RunMessages) or incoming.run != name:
            raise BadRequest("the body must be the RunMessages of this run")
        allowed = (messages.CallRequest, messages.LogLine, messages.TraceBegin, messages.TraceEnd,
                   messages.ActionDone, messages.ActionFailed)  # fmt: skip
        if not all(isinstance(m, allowed) for m in incoming.messages):
            raise BadRequest("a client sends task calls, output lines, traced calls and how its action ended")
        try:
            held = await self.hosts.exchange(name, incoming.messages, wait)
        except KeyError:
            raise BadRequest(f"no hybrid run named {name!r} is going on here", 404) from None
        return Response(messages.encode(messages.RunMessages(name, held)), media_type=MSGPACK)  # type: ignore[arg-type]

    # -- the cache and the secrets of the server's store ----------------------------------------------
    def list_cache(self, request: Request) -> Response:
        """Cached task results, newest first: what they are, not their values."""
        query = request.query_params
        limit = _number(query.get("limit", "500"), "limit", 1, 10_000)
        entries = CacheStore(self.store).entries(query.get("task"), limit)
        return reply(request, [summary(e) for e in entries])

    def forget_cache_entry(self, request: Request) -> Response:
        key = request.path_params["key"]
        if not CacheStore(self.store).forget(key):
            raise BadRequest(f"no cache entry {key[:80]!r}", 404)
        return reply(request, {"deleted": True})

    def list_secrets(self, request: Request) -> Response:
        """The names of the server's secrets -- never their values."""
        names = SecretStore(home=store_config.current().home).list()
        return reply(
            request, [{"key": key, "group": group} for key, group in sorted(names, key=lambda n: (n[1] or "", n[0]))]
        )

    # -- conditions --------------------------------------------------------------------------------------
    def list_conditions(self, request: Request) -> Response:
        query = request.query_params
        run = query.get("run")
        if run is not None:
            try:
                check_run_name(run)
            except ValueError as e:
                raise BadRequest(str(e)) from None
        found = self.store.list_conditions(run, pending=query.get("pending") in ("1", "true"))
        return reply(request, [condition_answers.to_wire(c) for c in found])

    async def signal_condition(self, request: Request) -> Response:
        """Answer a condition: ``{"value": ...}`` (read as its type), or ``{"fail": reason}``. JSON from
        anyone (a webhook's callback), msgpack from roost's client; recorded as answered by the caller."""
        name = self._run_name(request)
        body = _map(await read_body(request, 64 * 1024), request)
        fail = body.get("fail")
        if fail is not None and not isinstance(fail, str):
            raise BadRequest("fail must be the reason, as text")
        value = body.get("value")
        if fail is None and (value is None or not isinstance(value, (bool, int, float, str))):
            raise BadRequest("value must be a bool, a number or text (or give fail: REASON)")
        by = request.scope.get("state", {}).get("caller", "local")
        try:
            done = await run_in_threadpool(
                condition_answers.answer, self.store, name, request.path_params["condition"], value, fail, by
            )
        except ConditionNotFoundError as e:
            raise BadRequest(str(e), 404) from None
        except condition_answers.AlreadyAnswered as e:
            raise BadRequest(str(e), 409) from None
        except ValueError as e:
            raise BadRequest(str(e)) from None
        return reply(request, condition_answers.to_wire(done))

    def run_page(self, request: Request) -> Response:
        name = self._run_name(request)
        record = self.store.get_run(name)
        if record is None:
            raise BadRequest(f"no run named {name!r}", 404)
        view = to_wire(record)
        view.pop("inputs", None)
        view.pop("outputs", None)
        view["actions"] = [
            {k: v for k, v in to_wire(a).items() if k not in ("inputs", "outputs", "run_name")}
            for a in self.store.list_actions(name)
        ]
        return Response(json.dumps(to_json(view), indent=1), media_type="application/json")


def check_submission(body: bytes) -> messages.SubmitRun:
    """A POST /api/v1/runs body as a SubmitRun with fields of the right types, or a 400 saying why."""
    try:
        submission = messages.decode(body)
    except messages.ProtocolError as e:
        raise BadRequest(f"the body is not a run submission: {e}") from None
    if not isinstance(submission, messages.SubmitRun):
        raise BadRequest(f"the body is a {type(submission).__name__}, not a SubmitRun")
    s = submission
    checks = (
        (s.name is None or isinstance(s.name, str), "name must be text"),
        (s.bundle is None or isinstance(s.bundle, str), "bundle must be a digest"),
        (isinstance(s.module, str) and 0 < len(s.module) <= 1000, "module must be a module name or a path"),
        (isinstance(s.task, str) and 0 < len(s.task) <= 1000, "task must be a task name"),
        (isinstance(s.inputs, bytes), "inputs must be bytes"),
        (isinstance(s.inputs_hash, str), "inputs_hash must be text"),
        (isinstance(s.options, dict) and all(isinstance(k, str) for k in s.options), "options must be a map"),
        (s.version is None or isinstance(s.version, str), "version must be text"),
        (s.resume is False, "resume is the server's own, not a client's"),
        (s.trigger is None, "trigger is the server's own, not a client's"),
        (s.rerun_of is None and s.recover is False and s.started_by is None, "reruns are the server's own"),
        (s.values is None or isinstance(s.values, bytes), "values must be bytes"),
    )
    for ok, reason in checks:
        if not ok:
            raise BadRequest(reason)
    for option, value in s.options.items():
        check = _OPTION_CHECKS.get(option)
        if check is not None and not check[0](value):
            raise BadRequest(f"option {option} must be {check[1]}")
    if s.name is not None:
        try:
            check_run_name(s.name)
        except ValueError as e:
            raise BadRequest(str(e)) from None
    if s.bundle is not None:
        try:
            BundleStore.check_digest(s.bundle)
        except code_bundles.BundleError as e:
            raise BadRequest(str(e)) from None
    _check_module(s.module)
    return submission


def _text_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


# The submitted options (``remote_runs.SUBMITTED_OPTIONS``) as the bundle host applies them: one of
# another type would fail the run there, or leave it queued for ever, after the client heard "201".
_OPTION_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "env_vars": (_text_map, "a map of text to text"),
    "custom_context": (_text_map, "a map of text to text"),
    "overwrite_cache": (lambda v: isinstance(v, bool), "true or false"),
    "disable_run_cache": (lambda v: isinstance(v, bool), "true or false"),
    "max_action_concurrency": (
        lambda v: v is None or (type(v) is int and (v == 0 or v >= 2)),
        "0 (unbounded) or at least 2",
    ),
    "project": (_text_or_none, "text"),
    "domain": (_text_or_none, "text"),
    "org": (_text_or_none, "text"),
}


def _check_module(module: str) -> None:
    """A module name, or a path inside the bundle: relative and never out of it."""
    parts = module.replace("\\", "/").split("/")
    if module.startswith("/") or ".." in parts or "\x00" in module:
        raise BadRequest(f"module {module!r} is not a path inside the bundle")


def _map(body: bytes, request: Request) -> dict[str, Any]:
    if not body:
        return {}
    try:
        if "json" in request.headers.get("content-type", ""):
            value = json.loads(body)
        else:
            value = msgpack.unpackb(body, raw=False)
    except Exception:
        raise BadRequest("the body is neither msgpack nor JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("the body must be a map")
    return value


def _number(text: str, name: str, low: float, high: float, kind: type[int] | type[float] = int) -> Any:
    """A query parameter as a number of ``kind`` within [low, high], or a 400 saying why not."""
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise BadRequest(f"{name} must be {what}, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def _cursor(text: str) -> tuple[float, str]:
    created, sep, name = text.partition("~")
    try:
        value = float(created)
    except ValueError:
        value = float("nan")
    if not sep or not name or not value == value or value in (float("inf"), float("-inf")):
        raise BadRequest("before must be CREATED_AT~NAME: the time and name of the last run of a page")
    return value, name


def _phase(text: str | None) -> str | None:
    if text is None:
        return None
    if text.lower() not in _PHASES:
        raise BadRequest(f"phase must be one of {', '.join(sorted(_PHASES))}, got {text[:40]!r}")
    return text.lower()


def build_app(api: Api, access: Access, console: Any = None, more_routes: list[Any] | None = None) -> Starlette:
    """The API's routes behind the access checks, after the web console's (``console.routes()``,
    which serve ``/runs/{run}`` as a page to a browser and as the API's JSON view to anyone else),
    then ``more_routes`` (deployments, the apps' API)."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return reply(request, {"error": exc.detail}, exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.exception("%s %s failed", request.method, request.url.path)
        return reply(request, {"error": f"internal error ({type(exc).__name__}); see the server log"}, 500)

    app = Starlette(
        routes=[*(console.routes() if console is not None else []), *api.routes(), *(more_routes or [])],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.add_middleware(access.middleware())
    return app
