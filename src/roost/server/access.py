"""Who may call the server: loopback clients, and anyone else with an API key.

A request without a key is served only when it comes from this machine (127.0.0.0/8, ::1); a request
with a key is served when the key is valid (``Authorization: Bearer KEY``, or ``X-Api-Key: KEY``),
wherever it comes from, and an invalid key is refused even from loopback. ``/health`` answers
everyone (it says nothing but that the server is up). The caller's name -- the key's name, or
"local" -- is kept in the request's scope for what records who did what.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import msgpack

from roost.server.api_keys import ApiKeys

PUBLIC_PATHS = frozenset({"/health"})


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


class Access:
    def __init__(self, keys: ApiKeys):
        self.keys = keys

    def caller(self, client_host: str | None, headers: dict[bytes, bytes]) -> tuple[str | None, str]:
        """``(caller, "")`` when the request may go on, else ``(None, why not)``."""
        key = None
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
        elif b"x-api-key" in headers:
            key = headers[b"x-api-key"].decode("latin-1").strip()
        if key:
            name = self.keys.verify(key)
            return (name, "") if name is not None else (None, "the API key is not valid (revoked, or never issued)")
        if is_loopback(client_host):
            return "local", ""
        return None, "an API key is required from beyond this machine: Authorization: Bearer <key>"

    def middleware(self) -> Any:
        access = self

        class AccessMiddleware:
            def __init__(self, app: Any):
                self.app = app

            async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
                if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
                    await self.app(scope, receive, send)
                    return
                client = scope.get("client")
                headers = dict(scope["headers"])
                caller, why = access.caller(client[0] if client else None, headers)
                if caller is None:
                    # In the format the caller reads, as every other error of the API.
                    if b"application/msgpack" in headers.get(b"accept", b""):
                        body, media = msgpack.packb({"error": why}), b"application/msgpack"
                    else:
                        body, media = json.dumps({"error": why}).encode(), b"application/json"
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 401,
                            "headers": [(b"content-type", media), (b"www-authenticate", b"Bearer")],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
                scope.setdefault("state", {})["caller"] = caller
                await self.app(scope, receive, send)

        return AccessMiddleware
