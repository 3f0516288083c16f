"""Triggers: schedules and events that start a deployed task. They take effect only when deployed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Union


class TriggerTime:
    """Placeholder for "the time the trigger fired", usable as a default input value."""

    def __repr__(self) -> str:
        return "TriggerTime"


@dataclass(frozen=True)
class Cron:
    """A cron schedule: five fields (minute hour day-of-month month day-of-week)."""

    expression: str
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str) or len(self.expression.split()) not in (5, 6):
            raise ValueError(f"Cron expression must have 5 (or 6) fields, got {self.expression!r}")


@dataclass(frozen=True)
class FixedRate:
    """Fire every ``interval_minutes`` minutes, starting at ``start_time`` (default: at deploy)."""

    interval_minutes: int
    start_time: datetime | None = None

    def __post_init__(self) -> None:
        if isinstance(self.interval_minutes, bool) or not isinstance(self.interval_minutes, int):
            raise TypeError(f"FixedRate interval_minutes must be an int, got {type(self.interval_minutes).__name__}")
        if self.interval_minutes < 1:
            raise ValueError(f"FixedRate interval_minutes must be >= 1, got {self.interval_minutes}")


@dataclass(frozen=True)
class OnArtifact:
    """Fire when a new version of the named artifact appears."""

    artifact_name: str
    partition: dict[str, str] | None = None


@dataclass(frozen=True)
class Trigger:
    """``Trigger(name, automation)``: a named schedule or event with the inputs to start the task with."""

    name: str
    automation: Union[Cron, FixedRate, OnArtifact]
    description: str = ""
    auto_activate: bool = True
    inputs: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.automation, (Cron, FixedRate, OnArtifact)):
            raise TypeError(
                f"Trigger automation must be Cron, FixedRate or OnArtifact, got {type(self.automation).__name__}"
            )
