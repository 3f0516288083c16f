"""The roost server's API as a client sees it: code bundles, run submission, and the reads that
``flyte.remote``'s ``Run`` / ``Action`` handles make (the same calls they make on a local run store,
so the handles work unchanged on either).

Bodies are msgpack: runs are submitted as ``messages.SubmitRun``, records come back as the maps of
``store.record_codec``. One keep-alive HTTP connection per thread; a connection the server closed
meanwhile is opened again once.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import http.client

import msgpack

from roost.errors import RuntimeUserError
from roost.runtime import messages
from roost.runtime.runs import settings
from roost.store.record_codec import from_wire
from roost.store.records import ActionRecord, AttemptRecord, LogRecord, RunRecord

API = "/api/v1"
MSGPACK = "application/msgpack"
API_KEY_ENV = "ROOST_API_KEY"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def endpoint_url(endpoint: str, insecure: bool | None = None) -> str:
    """A server address as the user gives it -- ``http(s)://host:port``, Flyte's ``dns:///host:port``,
    or ``host:port`` -- as a base URL. Without a scheme: http on this machine or when ``insecure``,
    else https."""
    text = endpoint.strip()
    if text.startswith("dns:///"):
        text = text[len("dns:///") :]
    if "://" not in text:
        host = urllib.parse.urlsplit(f"//{text}").hostname or ""
        scheme = "http" if insecure or (insecure is None and host in _LOOPBACK) else "https"
        text = f"{scheme}://{text}"
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"endpoint must be a roost server address such as http://127.0.0.1:8686, got {endpoint!r}")
    try:
        parsed.port  # noqa: B018 -- raises for a port that is not a number
    except ValueError:
        raise ValueError(f"endpoint {endpoint!r} has a bad port") from None
    return f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"


class ServerError(RuntimeUserError):
    """The server refused a request, or could not be reached."""

    def __init__(self, message: str, status: int = 0):
        super().__init__("ServerError", message)
        self.status = status


class ServerUnreachable(ServerError):
    """No answer from the server (not running, restarting, network): a waiting client tries again."""


class ServerClient:
    """Calls to one roost server. ``path`` (as a store has) is the server's URL, for messages."""

    def __init__(self, endpoint: str, api_key: str | None = None, insecure: bool | None = None):
        self.url = endpoint_url(endpoint, insecure)
        self.path = self.url
        self._api_key = api_key or os.environ.get(API_KEY_ENV) or None
        parsed = urllib.parse.urlsplit(self.url)
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or (443 if self._https else 80)
        self._prefix = parsed.path
        self._local = threading.local()
        self._uploaded: set[str] = set()

    def __repr__(self) -> str:  # never the key
        return f"ServerClient({self.url!r})"

    # -- transport ------------------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        # Imported on the first call: a local run, which imports this module for its handles, never
        # pays for http.client (and the email package it pulls in).
        import http.client

        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = self._local.conn = cls(self._host, self._port, timeout=60)
        return conn  # type: ignore[no-any-return]

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = MSGPACK, ok: tuple[int, ...] = ()
    ) -> tuple[int, bytes]:
        """``(status, body)`` of one call; a status of 400 or more that ``ok`` does not name raises."""
        headers = {"Accept": MSGPACK}
        if body is not None:
            headers["Content-Type"] = content_type
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        target = self._prefix + path
        import http.client  # loaded by _connection already: a name for the errors below

        for retry in (True, False):
            conn = self._connection()
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                conn.close()
                self._local.conn = None
                # A kept-alive connection the server closed meanwhile fails at once: try a new one.
                if retry and isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                    continue
                raise ServerUnreachable(
                    f"cannot reach the roost server at {self.url} ({type(e).__name__}: {e}); "
                    "start one with `roost server start`"
                ) from None
        if response.status >= 400 and response.status not in ok:
            raise ServerError(f"{self.url}: {_reason(response.status, data)}", response.status)
        return response.status, data

    def _get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        _, data = self.request("GET", f"{API}{path}" + (f"?{query}" if query else ""))
        return msgpack.unpackb(data, raw=False)

    # -- code bundles and runs -------------------------------------------------------------------------
    def upload_bundle(self, digest: str, data: bytes) -> bool:
        """Send a code bundle unless the server has it already; True when it was sent."""
        if digest in self._uploaded:
            return False
        path = f"{API}/bundles/{urllib.parse.quote(digest, safe='')}"
        status, _ = self.request("HEAD", path, ok=(404,))
        sent = status == 404
        if sent:
            self.request("PUT", path, data, content_type="application/gzip")
        self._uploaded.add(digest)
        return sent

    def submit(self, submission: messages.SubmitRun) -> messages.RunAccepted:
        _, data = self.request("POST", f"{API}/runs", messages.encode(submission))
        reply = messages.decode(data)
        if not isinstance(reply, messages.RunAccepted):
            raise ServerError(f"{self.url}: unexpected reply to a run submission: {type(reply).__name__}")
        return reply

    def exchange(self, run_name: str, outgoing: list[messages.Message], wait: float) -> list[messages.Message]:
        """A hybrid run's root action (run here): send its messages, get what the server holds for it."""
        body = messages.encode(messages.RunMessages(run_name, outgoing))  # type: ignore[arg-type]
        _, data = self.request("POST", f"{API}/runs/{_q(run_name)}/exchange?wait={wait}", body)
        reply = messages.decode(data)
        if not isinstance(reply, messages.RunMessages):
            raise ServerError(f"{self.url}: unexpected reply to a run's messages: {type(reply).__name__}")
        return list(reply.messages)

    # -- deployed tasks --------------------------------------------------------------------------------
    def deploy(
        self, version: str, tasks: list[dict[str, Any]], triggers: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Register ``tasks`` (and their ``triggers``) under ``version``: what was registered and what
        existed already."""
        body = msgpack.packb({"version": version, "tasks": tasks, "triggers": triggers or []}, use_bin_type=True)
        _, data = self.request("POST", f"{API}/deployments", body)
        return msgpack.unpackb(data, raw=False)  # type: ignore[no-any-return]

    def build_images(self, bundle: str | None, modules: dict[str, list[str]], poll: float = 0.25) -> dict[str, Any]:
        """Have the server build the images of these tasks (module -> names), and wait until it has:
        ``{"lines": [...], "failed": [...]}``."""
        body = msgpack.packb({"bundle": bundle, "modules": modules}, use_bin_type=True)
        build = msgpack.unpackb(self.request("POST", f"{API}/images", body)[1], raw=False)["build"]
        while True:
            state = self._get(f"/images/{_q(build)}")
            if state["done"]:
                return state  # type: ignore[no-any-return]
            time.sleep(poll)

    def get_task(self, name: str, version: str | None = None) -> dict[str, Any] | None:
        query = f"?version={urllib.parse.quote(version)}" if version else ""
        status, data = self.request("GET", f"{API}/tasks/{_q(name)}{query}", ok=(404,))
        return None if status == 404 else msgpack.unpackb(data, raw=False)

    def list_tasks(self, name: str | None = None) -> list[dict[str, Any]]:
        return self._get("/tasks", name=name)  # type: ignore[no-any-return]

    # -- apps ------------------------------------------------------------------------------------------
    def register_app(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Register (or replace) an app on the server: its record, with its URL."""
        _, data = self.request("POST", f"{API}/apps", msgpack.packb(spec, use_bin_type=True))
        return msgpack.unpackb(data, raw=False)  # type: ignore[no-any-return]

    def get_app(self, name: str) -> dict[str, Any] | None:
        status, data = self.request("GET", f"{API}/apps/{_q(name)}", ok=(404,))
        return None if status == 404 else msgpack.unpackb(data, raw=False)

    def list_apps(self) -> list[dict[str, Any]]:
        return self._get("/apps")  # type: ignore[no-any-return]

    def set_app_active(self, name: str, active: bool) -> dict[str, Any]:
        _, data = self.request("POST", f"{API}/apps/{_q(name)}/active", msgpack.packb({"active": active}))
        return msgpack.unpackb(data, raw=False)  # type: ignore[no-any-return]

    def app_logs(self, name: str) -> list[dict[str, Any]]:
        return self._get(f"/apps/{_q(name)}/logs")  # type: ignore[no-any-return]

    # -- conditions ---------------------------------------------------------------------------------------
    def list_conditions(self, run_name: str | None = None, pending: bool = False) -> list[dict[str, Any]]:
        return self._get("/conditions", run=run_name, pending="1" if pending else None)  # type: ignore[no-any-return]

    def signal_condition(self, run_name: str, condition: str, value: Any, fail: str | None = None) -> dict[str, Any]:
        body = msgpack.packb({"value": value, "fail": fail}, use_bin_type=True)
        _, data = self.request("POST", f"{API}/runs/{_q(run_name)}/conditions/{_q(condition)}/signal", body)
        return msgpack.unpackb(data, raw=False)  # type: ignore[no-any-return]

    # -- triggers ---------------------------------------------------------------------------------------
    def list_triggers(self, task: str | None = None, name: str | None = None) -> list[dict[str, Any]]:
        return self._get("/triggers", task=task, name=name)  # type: ignore[no-any-return]

    def _trigger_path(self, task: str, name: str) -> str:
        return f"{API}/triggers/{_q(task)}/{_q(name)}"

    def get_trigger(self, task: str, name: str) -> dict[str, Any] | None:
        status, data = self.request("GET", self._trigger_path(task, name), ok=(404,))
        return None if status == 404 else msgpack.unpackb(data, raw=False)

    def create_trigger(self, trigger: dict[str, Any], version: str | None) -> dict[str, Any]:
        body = msgpack.packb({"trigger": trigger, "version": version}, use_bin_type=True)
        return msgpack.unpackb(self.request("POST", f"{API}/triggers", body)[1], raw=False)  # type: ignore[no-any-return]

    def set_trigger_active(self, task: str, name: str, active: bool) -> dict[str, Any]:
        body = msgpack.packb({"active": active})
        _, data = self.request("POST", f"{self._trigger_path(task, name)}/active", body)
        return msgpack.unpackb(data, raw=False)  # type: ignore[no-any-return]

    def delete_trigger(self, task: str, name: str) -> None:
        self.request("DELETE", self._trigger_path(task, name))

    def fire_trigger(self, task: str, name: str) -> str:
        """Fire the trigger now; its run's name."""
        _, data = self.request("POST", f"{self._trigger_path(task, name)}/fire", msgpack.packb({}))
        return msgpack.unpackb(data, raw=False)["name"]  # type: ignore[no-any-return]

    def backfill(self, task: str, name: str, start: float, end: float, concurrency: int) -> dict[str, list[str]]:
        body = msgpack.packb({"from": start, "to": end, "concurrency": concurrency})
        _, data = self.request("POST", f"{self._trigger_path(task, name)}/backfill", body)
        return msgpack.unpackb(data, raw=False)  # type: ignore[no-any-return]

    def run_url(self, run_name: str) -> str:
        return f"{self.url}/runs/{urllib.parse.quote(run_name)}"

    # -- what the Run / Action handles read (the RunStore calls of the same names) ----------------------
    def get_run(self, name: str) -> RunRecord | None:
        status, data = self.request("GET", f"{API}/runs/{_q(name)}", ok=(404,))
        return None if status == 404 else from_wire(RunRecord, msgpack.unpackb(data, raw=False))

    def wait_run(self, name: str, timeout: float) -> RunRecord | None:
        """The run once it has ended, or as it is after ``timeout`` seconds (one request)."""
        status, data = self.request("GET", f"{API}/runs/{_q(name)}?wait={timeout}", ok=(404,))
        return None if status == 404 else from_wire(RunRecord, msgpack.unpackb(data, raw=False))

    def list_runs(self, limit: int = 50, phase: str | None = None, task_name: str | None = None) -> list[RunRecord]:
        return [from_wire(RunRecord, r) for r in self._get("/runs", limit=limit, phase=phase, task=task_name)]

    def get_action(self, run_name: str, action_id: str) -> ActionRecord | None:
        status, data = self.request("GET", f"{API}/runs/{_q(run_name)}/actions/{_q(action_id)}", ok=(404,))
        return None if status == 404 else from_wire(ActionRecord, msgpack.unpackb(data, raw=False))

    def list_actions(self, run_name: str, phases: tuple[str, ...] = ()) -> list[ActionRecord]:
        found = self._get(f"/runs/{_q(run_name)}/actions", phase=list(phases) or None)
        return [from_wire(ActionRecord, r) for r in found]

    def succeeded_actions(self, run_name: str) -> dict[str, ActionRecord]:
        return {a.action_id: a for a in self.list_actions(run_name, ("succeeded", "recovered"))}

    def list_attempts(self, run_name: str, action_id: str) -> list[AttemptRecord]:
        found = self._get(f"/runs/{_q(run_name)}/actions/{_q(action_id)}/attempts")
        return [from_wire(AttemptRecord, r) for r in found]

    def list_logs(self, run_name: str, action_id: str | None = None, attempt: int | None = None) -> list[LogRecord]:
        found = self._get(f"/runs/{_q(run_name)}/logs", action=action_id, attempt=attempt)
        return [from_wire(LogRecord, r) for r in found]

    def request_abort(self, run_name: str) -> bool:
        _, data = self.request("POST", f"{API}/runs/{_q(run_name)}/abort", msgpack.packb({}))
        return bool(msgpack.unpackb(data, raw=False).get("requested"))

    def request_action_abort(self, run_name: str, action_id: str, reason: str) -> None:
        body = msgpack.packb({"reason": reason})
        self.request("POST", f"{API}/runs/{_q(run_name)}/actions/{_q(action_id)}/abort", body)


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _reason(status: int, data: bytes) -> str:
    """The server's one-line reason (its error bodies are ``{"error": ...}``), else the status."""
    try:
        body = msgpack.unpackb(data, raw=False)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return f"{body['error']} (HTTP {status})"
    except Exception:
        pass
    text = data.decode("utf-8", "replace").strip().splitlines()
    if text:
        return f"{text[0][:300]} (HTTP {status})"
    if status == 401:  # a HEAD request's answer has no body to say so
        return f"the server wants a valid API key: api_key=... or ${API_KEY_ENV} (HTTP 401)"
    return f"HTTP {status}"


_clients: dict[tuple[str, str | None, bool | None], ServerClient] = {}


def configured() -> ServerClient | None:
    """The client of the server ``init(endpoint=...)`` named, or None (runs are local)."""
    current = settings.current()
    if not current.endpoint:
        return None
    key = (current.endpoint, current.api_key, current.insecure)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = ServerClient(current.endpoint, current.api_key, current.insecure)
    return client
