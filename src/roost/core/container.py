"""Container: an image, a command, resources and environment -- one task's process, declared."""

from __future__ import annotations

from dataclasses import dataclass, field

from roost.core.resources import Resources


@dataclass(frozen=True)
class Container:
    image: str
    command: list[str]
    args: list[str]
    resources: Resources
    env: dict[str, str] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
