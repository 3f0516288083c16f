"""The reverse proxy in front of the apps: ``/apps/NAME/PATH?QUERY`` goes to ``PATH?QUERY`` of a ready
replica of NAME (the one with the fewest requests in flight), the response streamed back.

The method, the query, the body (streamed) and the headers go as they came, but the hop-by-hop ones
(RFC 9110 7.6.1: they concern one connection, not the request) and, for an app that ``requires_auth``,
the roost API key the caller showed here: the app never sees the server's keys. The replica is told
where the request came from (``X-Forwarded-For/-Proto/-Host``) and under which prefix it is served
(``X-Forwarded-Prefix: /apps/NAME``). A request that waits for a replica waits at most the app's
``activate_timeout``; the whole response must come within ``Timeouts(request=...)``: one not started
by then is answered 504, one whose body is still coming is cut (its connection closed).

The proxy is the server's outermost ASGI application: a request for ``/apps/...`` is served here --
after the access checks for an app that requires them -- without going through Starlette's routing
and middleware, which every other request goes through (``inner``). What a proxied request costs is
then the HTTP parsing on both sides and little else (benchmarks/run_apps.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

from roost.server.access import KEY_COOKIE, Access
from roost.server.app_replicas import AppManager, ServedApp, Unavailable
from roost.server.replica_client import ReplicaError, ReplicaPool, ReplicaResponse

logger = logging.getLogger("roost.server")

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",  # the replica's own
    }
)
# Not passed on either: the server's own API key, and Expect (the server took the body already).
ROOST_CREDENTIALS = frozenset({b"authorization", b"x-api-key"})
REQUEST_ONLY = frozenset({b"expect"})
PREFIX = "/apps/"


class ClientGone(Exception):
    """The caller went away while its request's body was being sent on."""


class AppProxy:
    def __init__(self, apps: AppManager, access: Access, inner: Any):
        self.apps = apps
        self.access = access
        self.inner = inner
        self.replicas = ReplicaPool()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.inner(scope, receive, send)
            return
        name = path[len(PREFIX) :].partition("/")[0]
        if not name:
            await self.inner(scope, receive, send)  # /apps/: no app named
            return
        app = self.apps.apps.get(name)
        # An unknown app is judged as one that requires auth: a caller without a key learns nothing.
        if (app is None or app.spec.requires_auth) and not await self.access.admit(scope, send):
            return
        if app is None:
            await _error(send, 404, f"no app named {name[:100]!r} on this server")
            return
        try:
            replica = await self.apps.acquire(app, app.spec.activate_timeout)
        except Unavailable as e:
            await _error(send, e.status, str(e))
            return
        try:
            await self._forward(scope, receive, send, replica.host, replica.port, app)
        finally:
            self.apps.release(app, replica)

    async def _forward(
        self, scope: dict[str, Any], receive: Any, send: Any, host: str, port: int, app: ServedApp
    ) -> None:
        spec = app.spec
        name = spec.name
        prefix = (PREFIX + name).encode()
        raw_path = scope.get("raw_path") or b""
        if raw_path.startswith(prefix):
            target = raw_path[len(prefix) :]
        else:  # no raw path, or the app's name came escaped: the decoded path, escaped again
            target = urllib.parse.quote(scope["path"][len(prefix) :]).encode()
        target = target or b"/"
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        headers, body_framing = _request_headers(scope, host, port, spec.requires_auth, name)
        body = _body(receive) if body_framing else None
        deadline = _Deadline(spec.request_timeout) if spec.request_timeout else None  # 0: no limit
        response: ReplicaResponse | None = None
        started = False
        try:
            method = scope["method"].encode("latin-1")
            response = await self.replicas.send(port, method, target, headers, body, host)
            kept = [(k, v) for k, v in response.headers if k not in HOP_BY_HOP]
            await send({"type": "http.response.start", "status": response.status, "headers": kept})
            started = True
            while True:
                # The last piece goes with more_body=False: one message less for most responses.
                piece = await response.read()
                await send({"type": "http.response.body", "body": piece, "more_body": not response.complete})
                if response.complete:
                    return
        except asyncio.CancelledError:
            if deadline is None or not deadline.expired:
                raise
            deadline.absorb()
            if not started:
                await _error(
                    send, 504, f"app {name} did not answer within {spec.request_timeout:g} s (its request timeout)"
                )
            else:  # returning without the body's end: the server closes the caller's connection
                logger.warning("app %s: a response was cut at its request timeout (%g s)", name, spec.request_timeout)
        except ReplicaError as e:
            if not started:
                await _error(send, 502, f"app {name}'s replica failed to answer: {e}")
            else:  # the replica went away mid-answer: the caller sees the answer end
                logger.warning("app %s: a response was cut: %s", name, e)
        except ClientGone:
            pass
        finally:
            if deadline is not None:
                deadline.cancel()
            if response is not None and not response.complete:
                response.abort()

    async def close(self) -> None:
        self.replicas.close()


class _Deadline:
    """Cancels the task that made it after ``seconds``, unless cancelled first; ``expired`` tells that
    cancellation from any other. (asyncio.timeout, from Python 3.11 only, does the same.)"""

    def __init__(self, seconds: float):
        self.task = asyncio.current_task()
        self.expired = False
        self._handle = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _expire(self) -> None:
        self.expired = True
        if self.task is not None:
            self.task.cancel()

    def absorb(self) -> None:
        """The cancellation was ours and is handled: the task is not cancelled any more."""
        if sys.version_info >= (3, 11) and self.task is not None:
            self.task.uncancel()

    def cancel(self) -> None:
        self._handle.cancel()


def _request_headers(
    scope: dict[str, Any], replica_host: str, port: int, strip_credentials: bool, name: str
) -> tuple[list[tuple[bytes, bytes]], str]:
    """The headers for the replica, and how the request's body goes: "length" (as the caller's
    Content-Length says), "chunked" (the caller's was chunked: it is chunked again), or "" (none)."""
    headers = [(b"host", b"%s:%d" % (replica_host.encode(), port))]
    host = b""
    framing = ""
    for key, value in scope["headers"]:
        if key == b"host":
            host = value
        elif key == b"content-length":
            framing = "length" if value != b"0" else framing
        elif key == b"transfer-encoding":
            framing = "chunked"
            continue
        if key in HOP_BY_HOP or key in REQUEST_ONLY or (strip_credentials and key in ROOST_CREDENTIALS):
            continue
        if strip_credentials and key == b"cookie":
            value = _without_key_cookie(value)
            if not value:
                continue
        headers.append((key, value))
    if framing == "chunked":  # RFC 9112 6.3: a length beside chunked is not passed on
        headers = [(key, value) for key, value in headers if key != b"content-length"]
        headers.append((b"transfer-encoding", b"chunked"))
    client = scope.get("client")
    headers += [
        (b"x-forwarded-for", (client[0] if client else "").encode("latin-1")),
        (b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")),
        (b"x-forwarded-host", host),
        (b"x-forwarded-prefix", b"/apps/" + name.encode()),
    ]
    return headers, framing


def _without_key_cookie(value: bytes) -> bytes:
    kept = [c for c in value.split(b";") if not c.strip().startswith(KEY_COOKIE.encode() + b"=")]
    return b";".join(kept).strip()


async def _body(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _error(send: Any, status: int, reason: str) -> None:
    body = json.dumps({"error": reason}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
