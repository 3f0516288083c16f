"""``flyte.types.Renderable``: what turns a value into HTML for a report."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Renderable(Protocol):
    """An object with ``to_html(python_value) -> str``: a renderer for values of some type.

    Checked structurally (``isinstance(obj, Renderable)``), so any class with such a method is one; give
    its HTML to ``flyte.report.log``, or register it for a frame type with
    ``DataFrameTransformerEngine.register_renderer``.
    """

    def to_html(self, python_value: Any) -> str:
        """The value as an HTML fragment."""
        raise NotImplementedError
