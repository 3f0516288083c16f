"""The web console: server-rendered pages over the run store, with a little plain JavaScript that keeps
them live (``static/``: no build step, nothing fetched from elsewhere)."""

from roost.server.console.web_routes import Console

__all__ = ["Console"]
