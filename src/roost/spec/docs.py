"""Documentation and Link: what a task says about itself, and where its UI links point."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class Documentation:
    """``Documentation(description)``. The design documents' form ``Documentation(text=...)`` is accepted too."""

    __slots__ = ("description",)

    def __init__(self, description: str | None = None, *, text: str | None = None):
        if description is not None and text is not None:
            raise TypeError("Documentation takes description or text, not both")
        value = description if description is not None else text
        if value is not None and not isinstance(value, str):
            raise TypeError(f"Documentation description must be a str, got {type(value).__name__}")
        self.description = value

    @property
    def text(self) -> str | None:
        return self.description

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Documentation) and other.description == self.description

    def __hash__(self) -> int:
        return hash(self.description)

    def __repr__(self) -> str:
        return f"Documentation(description={self.description!r})"


@runtime_checkable
class Link(Protocol):
    """A link shown beside a task's runs (a dashboard, a log viewer)."""

    name: str
    icon_uri: str

    def get_link(
        self,
        run_name: str,
        project: str,
        domain: str,
        context: dict[str, str],
        parent_action_name: str,
        action_name: str,
        pod_name: str,
        **kwargs: Any,
    ) -> str: ...
