"""Who may call the server: loopback clients, and anyone else with an API key.

A request without a key is served only when it comes from this machine (127.0.0.0/8, ::1); a request
with a key is served when the key is valid (``Authorization: Bearer KEY``, ``X-Api-Key: KEY``, or the
web console's cookie, set by its login page), wherever it comes from, and an invalid key is refused
even from loopback. ``/health`` answers everyone (it says nothing but that the server is up), and so do
the console's login page and its static files (the apps' proxy, in front of these checks, serves the
paths of apps registered with ``requires_auth=False`` to anyone). The caller's name -- the key's name,
or "local" -- is kept in the request's scope for what records who did what.

A browser sends cookies (and reaches loopback) on behalf of any page it shows, so a request that
changes something (any method but GET, HEAD and OPTIONS) is refused when it names an origin other than
the server's own, and one that a cookie authenticates must name the server's origin: no other site can
make a browser abort a run here. The cookie itself is ``SameSite=Strict`` and ``HttpOnly``.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import urllib.parse
from http.cookies import CookieError, SimpleCookie
from typing import Any

import msgpack

from roost.server.api_keys import ApiKeys

PUBLIC_PATHS = frozenset({"/health", "/login", "/logout"})
PUBLIC_PREFIXES = ("/console/static/",)
# The console keeps the key a person entered on its login page here (HttpOnly: no script reads it).
KEY_COOKIE = "roost_key"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@functools.lru_cache(maxsize=1024)  # asked on every request; a client's address says the same each time
def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host == "localhost"
    # A server on "::" sees IPv4 clients as ::ffff:a.b.c.d, which Python before 3.13 never calls loopback.
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def cookie_key(headers: dict[bytes, bytes]) -> str | None:
    """The API key the console's cookie holds, if the request has one."""
    raw = headers.get(b"cookie")
    if not raw:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(raw.decode("latin-1"))
    except CookieError:
        return None
    morsel = cookies.get(KEY_COOKIE)
    return morsel.value.strip() or None if morsel is not None else None


def origin_matches(headers: dict[bytes, bytes]) -> bool | None:
    """Whether the request's ``Origin`` is the server's own (its host and port as the client addressed
    it); None when the request names no origin (every client but a browser)."""
    origin = headers.get(b"origin")
    if origin is None:
        return None
    host = headers.get(b"host", b"").decode("latin-1").lower()
    parsed = urllib.parse.urlsplit(origin.decode("latin-1").strip().lower())
    return parsed.scheme in ("http", "https") and bool(host) and parsed.netloc == host


def wants_html(scope: dict[str, Any], headers: dict[bytes, bytes]) -> bool:
    """A browser navigating to a page (not a script or a client reading the API)."""
    accept = headers.get(b"accept", b"")
    return scope["method"] == "GET" and b"text/html" in accept and not scope["path"].startswith("/api/")


class Access:
    def __init__(self, keys: ApiKeys):
        self.keys = keys
        self.public_prefixes: tuple[str, ...] = PUBLIC_PREFIXES

    def also_public(self, *prefixes: str) -> None:
        """Paths that answer everyone, each guarded its own way (a signed URL is its own permission)."""
        self.public_prefixes = (*self.public_prefixes, *prefixes)

    def caller(self, client_host: str | None, headers: dict[bytes, bytes]) -> tuple[str | None, str]:
        """``(caller, "")`` when the request may go on, else ``(None, why not)``."""
        caller, why, _ = self.identify(client_host, headers)
        return caller, why

    def identify(self, client_host: str | None, headers: dict[bytes, bytes]) -> tuple[str | None, str, bool]:
        """``(caller, why not, whether the console's cookie carried the key)``."""
        key, from_cookie = None, False
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
        elif b"x-api-key" in headers:
            key = headers[b"x-api-key"].decode("latin-1").strip()
        else:
            key = cookie_key(headers)
            from_cookie = key is not None
        if key:
            name = self.keys.verify(key)
            if name is None:
                return None, "the API key is not valid (revoked, or never issued)", from_cookie
            return name, "", from_cookie
        if is_loopback(client_host):
            return "local", "", False
        return None, "an API key is required from beyond this machine: Authorization: Bearer <key>", False

    async def admit(self, scope: dict[str, Any], send: Any) -> bool:
        """Whether the HTTP request ``scope`` may go on (its caller kept in ``scope["state"]``); when it
        may not, the refusal is sent. (The apps' proxy asks this before Starlette's routing.)"""
        headers = dict(scope["headers"])
        unsafe = scope["method"] not in SAFE_METHODS
        if unsafe and origin_matches(headers) is False:
            why = "a request from another site's page is refused (its Origin is not this server)"
            await _refuse(send, headers, 403, why)
            return False
        path = scope["path"]
        if path in PUBLIC_PATHS or path.startswith(self.public_prefixes):
            return True
        client = scope.get("client")
        caller, why, from_cookie = self.identify(client[0] if client else None, headers)
        if caller is None:
            if wants_html(scope, headers):
                await _to_login(send, scope)
            else:
                await _refuse(send, headers, 401, why)
            return False
        if unsafe and from_cookie and origin_matches(headers) is None:
            # Browsers name the origin of every such request; a cookie without one is not the console's.
            await _refuse(send, headers, 403, "a request authenticated by a cookie must name its Origin")
            return False
        scope.setdefault("state", {})["caller"] = caller
        return True

    def middleware(self) -> Any:
        access = self

        class AccessMiddleware:
            def __init__(self, app: Any):
                self.app = app

            async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
                if scope["type"] != "http" or scope["path"] == "/health" or await access.admit(scope, send):
                    await self.app(scope, receive, send)

        return AccessMiddleware


async def _refuse(send: Any, headers: dict[bytes, bytes], status: int, why: str) -> None:
    # In the format the caller reads, as every other error of the API.
    if b"application/msgpack" in headers.get(b"accept", b""):
        body, media = msgpack.packb({"error": why}), b"application/msgpack"
    else:
        # "code" and "message" too: what a Connect client (the Flyte SDK) reads of an error, so that it
        # knows to authenticate (docs/flyte-backend.md).
        code = "unauthenticated" if status == 401 else "permission_denied"
        body, media = json.dumps({"error": why, "code": code, "message": why}).encode(), b"application/json"
    extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", media), *extra]})
    await send({"type": "http.response.body", "body": body})


async def _to_login(send: Any, scope: dict[str, Any]) -> None:
    """A person's browser without a valid key goes to the login page, which brings it back here."""
    target = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
    location = "/login?" + urllib.parse.urlencode({"next": target})
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode("latin-1")), (b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"an API key is required: see /login"})
