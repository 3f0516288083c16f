"""``flyte.app.extras``: ``FastAPIAppEnvironment``, an app that serves a FastAPI application."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roost.spec.app_environment import AppEnvironment
from roost.spec.app_types import Link


@dataclass(kw_only=True)
class FastAPIAppEnvironment(AppEnvironment):
    """Serves ``app`` (a ``fastapi.FastAPI``) with uvicorn on the app's port; ``uvicorn_config`` (a
    ``uvicorn.Config`` for it) when given. Its OpenAPI page is linked as ``/docs``."""

    app: Any = None
    type: str | None = "FastAPI"
    uvicorn_config: Any = field(default=None, repr=False, compare=False)

    def _validate(self) -> None:
        super()._validate()
        try:
            import fastapi
        except ModuleNotFoundError:
            raise ModuleNotFoundError("FastAPIAppEnvironment needs fastapi: pip install fastapi") from None
        if not isinstance(self.app, fastapi.FastAPI):
            raise TypeError(f"app must be a fastapi.FastAPI, got {type(self.app).__name__}")
        if not any(link.path == "/docs" for link in self.links):
            self.links = [Link(path="/docs", title="FastAPI OpenAPI Docs", is_relative=True), *self.links]
        self._server = self._serve_fastapi

    async def _serve_fastapi(self) -> None:
        import uvicorn

        config = self.uvicorn_config or uvicorn.Config(self.app, host="127.0.0.1", port=self.get_port().port)
        config.port = self.get_port().port
        await uvicorn.Server(config).serve()


__all__ = ["FastAPIAppEnvironment"]
