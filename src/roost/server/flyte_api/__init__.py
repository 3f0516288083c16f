"""Flyte 2's own protocol, served beside roost's API: the unmodified ``flyte`` CLI and SDK run against
the roost server (docs/flyte-backend.md).

Its messages and service stubs come from ``flyteidl2`` and ``connectrpc`` (the ``roost[flyte]`` extra);
without them the server runs as before and Flyte clients are told what to install.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.routing import Mount

MISSING = "this roost server does not speak Flyte's protocol: install roost[flyte] (docs/flyte-backend.md)"


async def _not_installed(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = json.dumps({"code": "unimplemented", "message": MISSING}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 501, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def flyte_api(store: Any, home: Path, url: str, flyte_python: str | None) -> Any:
    """The Flyte API (``connect_mount.FlyteApi``), or None where its packages are not installed."""
    try:
        from roost.server.flyte_api.connect_mount import FlyteApi
    except ImportError:
        return None
    return FlyteApi(store, home, url, flyte_python)


def not_installed_routes() -> list[Any]:
    return [Mount("/flyteidl2.{service}", app=_not_installed)]
