"""Names of the Flyte API that concern serving apps, which roost does not do yet: they raise
NotImplementedError saying so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _not_yet(name: str) -> Callable[..., Any]:
    def stub(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"roost.{name}() needs a Flyte control plane, which roost does not use: roost runs programs "
            "itself, locally (flyte.run) or on a Ray cluster (flyte.init(ray_address=...))"
        )

    async def aio(*args: Any, **kwargs: Any) -> Any:
        return stub(*args, **kwargs)

    stub.__name__ = stub.__qualname__ = name
    stub.aio = aio  # type: ignore[attr-defined]
    return stub


serve = _not_yet("serve")
with_servecontext = _not_yet("with_servecontext")
