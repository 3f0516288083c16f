"""The reverse proxy in front of the apps: ``/apps/NAME/PATH?QUERY`` goes to ``PATH?QUERY`` of a ready
replica of NAME (the one with the fewest requests in flight), the response streamed back.

The method, the query, the body (streamed) and the headers go as they came, but the hop-by-hop ones
(RFC 9110 7.6.1: they concern one connection, not the request) and, for an app that ``requires_auth``,
the roost API key the caller showed here: the app never sees the server's keys. The replica is told
where the request came from (``X-Forwarded-For/-Proto/-Host``) and under which prefix it is served
(``X-Forwarded-Prefix: /apps/NAME``). A request that waits for a replica waits at most the app's
``activate_timeout``; the replica must start answering within ``Timeouts(request=...)``, else 504.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.routing import Route

from roost.server.access import KEY_COOKIE
from roost.server.app_replicas import AppManager, Unavailable

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
        b"host",  # the replica's own, set by the client
    }
)
ROOST_CREDENTIALS = frozenset({b"authorization", b"x-api-key"})


class AppProxy:
    def __init__(self, apps: AppManager):
        self.apps = apps
        # One pool of kept-alive connections to every replica; no proxy from the environment (the
        # replicas are on this machine), no timeout of its own (the app's request timeout applies).
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(None, connect=5.0),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
            trust_env=False,
            follow_redirects=False,
        )

    def routes(self) -> list[Route]:
        return [Route("/apps/{name}", self), Route("/apps/{name}/{path:path}", self)]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        name = scope["path_params"]["name"]
        app = self.apps.apps.get(name)
        if app is None:
            await _error(send, 404, f"no app named {name!r} on this server")
            return
        spec = app.spec
        try:
            replica = await self.apps.acquire(app, spec.activate_timeout)
        except Unavailable as e:
            await _error(send, e.status, str(e))
            return
        try:
            timeout = spec.request_timeout or None  # 0: no limit
            await self._forward(scope, receive, send, replica.port, spec.requires_auth, timeout, name)
        finally:
            self.apps.release(app, replica)

    async def _forward(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        port: int,
        strip_credentials: bool,
        timeout: float | None,
        name: str,
    ) -> None:
        path = "/" + scope["path_params"].get("path", "")
        query = scope.get("query_string", b"")
        url = f"http://127.0.0.1:{port}{path}" + (f"?{query.decode('latin-1')}" if query else "")
        headers = _request_headers(scope, strip_credentials, name)
        has_body = any((k == b"content-length" and v != b"0") or k == b"transfer-encoding" for k, v in scope["headers"])
        request = self.client.build_request(
            scope["method"], url, headers=headers, content=_body(receive) if has_body else None
        )
        try:
            response = await asyncio.wait_for(self.client.send(request, stream=True), timeout)
        except asyncio.TimeoutError:
            await _error(send, 504, f"app {name} did not answer within {timeout:g} s (its request timeout)")
            return
        except httpx.HTTPError as e:
            await _error(send, 502, f"app {name}'s replica failed to answer: {type(e).__name__}: {e}".splitlines()[0])
            return
        try:
            kept = [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
            await send({"type": "http.response.start", "status": response.status_code, "headers": kept})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except httpx.HTTPError as e:  # the replica went away mid-answer: the client sees the answer end
            logger.warning("app %s: a response was cut: %s", name, e)
        finally:
            await response.aclose()

    async def close(self) -> None:
        await self.client.aclose()


def _request_headers(scope: dict[str, Any], strip_credentials: bool, name: str) -> list[tuple[bytes, bytes]]:
    headers = []
    host = b""
    for key, value in scope["headers"]:
        key = key.lower()
        if key == b"host":
            host = value
        if key in HOP_BY_HOP or (strip_credentials and key in ROOST_CREDENTIALS):
            continue
        if strip_credentials and key == b"cookie":
            value = _without_key_cookie(value)
            if not value:
                continue
        headers.append((key, value))
    client = scope.get("client")
    headers += [
        (b"x-forwarded-for", (client[0] if client else "").encode("latin-1")),
        (b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")),
        (b"x-forwarded-host", host),
        (b"x-forwarded-prefix", f"/apps/{name}".encode("latin-1")),
    ]
    return headers


def _without_key_cookie(value: bytes) -> bytes:
    kept = [c for c in value.split(b";") if not c.strip().startswith(KEY_COOKIE.encode() + b"=")]
    return b";".join(kept).strip()


async def _body(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
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
