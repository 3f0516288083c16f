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

from roost.server.api_keys import ApiKeys

PUBLIC_PATHS = frozenset({"/health"})


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


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
                caller, why = access.caller(client[0] if client else None, dict(scope["headers"]))
                if caller is None:
                    body = json.dumps({"error": why}).encode()
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
                scope.setdefault("state", {})["caller"] = caller
                await self.app(scope, receive, send)

        return AccessMiddleware
