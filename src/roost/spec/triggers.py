"""Triggers: schedules and events that start a deployed task. Declared and validated here; they take
effect only when deployed (firing them is not part of local runs).

Flyte's forms: ``Trigger(name, automation, description="", auto_activate=True, inputs=None, env_vars=None,
interruptible=None, overwrite_cache=False, queue=None, max_action_concurrency=None, labels=None,
annotations=None, notifications=None, custom_context=None)`` with ``Trigger.hourly() / daily() / weekly()
/ monthly() / minutely()``; ``Cron(expression, timezone="UTC")``; ``FixedRate(interval_minutes,
start_time=None)``; ``OnArtifact(name, version=None)``; the input sentinels ``TriggerTime`` and
``TriggeredArtifact``. roost also takes ``OnArtifact(..., partitions={...})`` and its earlier keywords
``artifact_name=`` / ``partition=`` (one superset of both spellings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Union

DESCRIPTION_LIMIT = 255


class _TriggerTime:
    """``flyte.TriggerTime``: as an input value of a trigger, "the time the trigger fired"."""

    def __call__(self) -> _TriggerTime:
        # Some programs write ``TriggerTime()``; it is the same sentinel.
        return self

    def __repr__(self) -> str:
        return "TriggerTime"


class _TriggeredArtifact:
    """``flyte.TriggeredArtifact``: as an input value of an ``OnArtifact`` trigger, "the new artifact"."""

    def __call__(self) -> _TriggeredArtifact:
        return self

    def __repr__(self) -> str:
        return "TriggeredArtifact"


TriggerTime = _TriggerTime()
TriggeredArtifact = _TriggeredArtifact()


def _known_timezone(name: str) -> bool:
    import zoneinfo

    known = zoneinfo.available_timezones()
    # Without a timezone database on the machine nothing can be checked: accept the name.
    return not known or name in known


@dataclass(frozen=True)
class Cron:
    """A cron schedule (``minute hour day-of-month month day-of-week``) in ``timezone`` (default UTC)."""

    expression: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str) or len(self.expression.split()) not in (5, 6):
            raise ValueError(f"Cron expression must have 5 (or 6) fields, got {self.expression!r}")
        if self.timezone is None:  # roost's earlier default
            object.__setattr__(self, "timezone", "UTC")
        if not isinstance(self.timezone, str) or not self.timezone or not _known_timezone(self.timezone):
            raise ValueError(f"Cron timezone must be an IANA timezone name such as 'UTC', got {self.timezone!r}")

    @property
    def timezone_expression(self) -> str:
        return f"CRON_TZ={self.timezone} {self.expression}"

    def __str__(self) -> str:
        return f"Cron Trigger: {self.timezone_expression}"


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
        if self.start_time is not None and not isinstance(self.start_time, datetime):
            raise TypeError(f"FixedRate start_time must be a datetime, got {type(self.start_time).__name__}")

    def __str__(self) -> str:
        return f"FixedRate Trigger: every {self.interval_minutes} minutes"


@dataclass(frozen=True, init=False)
class OnArtifact:
    """Fire when a new version of the artifact ``name`` appears (only ``version``, when pinned; only in
    ``partitions``, when given)."""

    name: str
    version: str | None = None
    partitions: Mapping[str, str] | None = field(default=None, hash=False)

    def __init__(
        self,
        name: str | None = None,
        version: str | None = None,
        partitions: Mapping[str, str] | None = None,
        *,
        artifact_name: str | None = None,
        partition: Mapping[str, str] | None = None,
    ):
        if name is not None and artifact_name is not None and name != artifact_name:
            raise TypeError("OnArtifact takes name= or artifact_name=, not both")
        if partitions is not None and partition is not None and partitions != partition:
            raise TypeError("OnArtifact takes partitions= or partition=, not both")
        name = name if name is not None else artifact_name
        partitions = partitions if partitions is not None else partition
        if not isinstance(name, str) or not name:
            raise ValueError("OnArtifact requires a non-empty artifact name")
        if version is not None and (not isinstance(version, str) or not version):
            raise ValueError(f"OnArtifact version must be a non-empty string, got {version!r}")
        if partitions is not None:
            if not isinstance(partitions, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in partitions.items()
            ):
                raise TypeError(f"OnArtifact partitions must map str to str, got {partitions!r}")
            partitions = dict(partitions)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "partitions", partitions)

    @property
    def artifact_name(self) -> str:
        return self.name

    @property
    def partition(self) -> Mapping[str, str] | None:
        return self.partitions

    def __str__(self) -> str:
        version = f"@{self.version}" if self.version else ""
        return f"Artifact Trigger: on new version of {self.name}{version}"


def _check_mapping(what: str, value: Any, trigger: str) -> None:
    if value is not None and (
        not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise TypeError(f"Trigger {trigger!r}: {what} must map str to str, got {value!r}")


@dataclass(frozen=True)
class Trigger:
    """A named schedule or event that starts the task it is attached to (``@env.task(triggers=...)``),
    with the inputs and run settings of the runs it starts."""

    name: str
    automation: Union[Cron, FixedRate, OnArtifact]
    description: str = ""
    auto_activate: bool = True
    inputs: dict[str, Any] | None = field(default=None, hash=False)
    env_vars: dict[str, str] | None = field(default=None, hash=False)
    interruptible: bool | None = None
    overwrite_cache: bool = False
    queue: str | None = None
    max_action_concurrency: int | None = None
    labels: Mapping[str, str] | None = field(default=None, hash=False)
    annotations: Mapping[str, str] | None = field(default=None, hash=False)
    notifications: Any = field(default=None, hash=False)
    custom_context: Mapping[str, str] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("Trigger name cannot be empty")
        if self.automation is None:
            raise ValueError("Automation cannot be None")
        if not isinstance(self.automation, (Cron, FixedRate, OnArtifact)):
            raise TypeError(
                f"Trigger automation must be Cron, FixedRate or OnArtifact, got {type(self.automation).__name__}"
            )
        if self.inputs is not None and not isinstance(self.inputs, Mapping):
            raise TypeError(f"Trigger {self.name!r}: inputs must be a dict of input name to value")
        inputs = dict(self.inputs or {})
        artifact_args = sorted(k for k, v in inputs.items() if v is TriggeredArtifact)
        if len(artifact_args) > 1:
            raise ValueError(
                f"Trigger {self.name!r} binds TriggeredArtifact to several inputs {artifact_args}; "
                "at most one input can receive the triggering artifact"
            )
        if artifact_args and not isinstance(self.automation, OnArtifact):
            raise ValueError(
                f"Trigger {self.name!r} binds TriggeredArtifact to input {artifact_args[0]!r} "
                "but its automation is not OnArtifact"
            )
        if isinstance(self.automation, OnArtifact) and any(v is TriggerTime for v in inputs.values()):
            raise ValueError(
                f"Trigger {self.name!r} uses TriggerTime, which only schedule triggers (Cron, FixedRate) have"
            )
        mac = self.max_action_concurrency
        if mac is not None and (isinstance(mac, bool) or not isinstance(mac, int) or mac < 0 or mac == 1):
            raise ValueError(
                f"Trigger {self.name!r}: max_action_concurrency must be 0 (platform default) or at least 2, "
                f"got {mac!r}: with 1 the parent action would hold the only slot its children need"
            )
        for what in ("env_vars", "labels", "annotations", "custom_context"):
            _check_mapping(what, getattr(self, what), self.name)
        if not isinstance(self.description, str):
            raise TypeError(f"Trigger {self.name!r}: description must be a str")
        if len(self.description) > DESCRIPTION_LIMIT:
            # The platform keeps 255 characters; Flyte shortens longer text the same way.
            object.__setattr__(self, "description", self.description[: DESCRIPTION_LIMIT - 3].rstrip() + "...")

    @classmethod
    def _every(
        cls,
        expression: str,
        trigger_time_input_key: str | None,
        name: str,
        description: str,
        inputs: dict[str, Any] | None,
        **settings: Any,
    ) -> Trigger:
        final_inputs: dict[str, Any] = {}
        if trigger_time_input_key is not None:
            final_inputs[trigger_time_input_key] = TriggerTime
        final_inputs.update(inputs or {})
        return cls(name=name, automation=Cron(expression), description=description, inputs=final_inputs, **settings)

    @classmethod
    def minutely(
        cls,
        trigger_time_input_key: str | None = None,
        *,
        name: str = "minutely",
        description: str = "A trigger that runs every minute",
        inputs: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Trigger:
        """Every minute. ``trigger_time_input_key`` names an input that receives the firing time; the
        other keywords are ``Trigger``'s."""
        return cls._every("* * * * *", trigger_time_input_key, name, description, inputs, **settings)

    @classmethod
    def hourly(
        cls,
        trigger_time_input_key: str | None = None,
        *,
        name: str = "hourly",
        description: str = "A trigger that runs every hour",
        inputs: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Trigger:
        """Every hour, on the hour (UTC)."""
        return cls._every("0 * * * *", trigger_time_input_key, name, description, inputs, **settings)

    @classmethod
    def daily(
        cls,
        trigger_time_input_key: str | None = None,
        *,
        name: str = "daily",
        description: str = "A trigger that runs daily at midnight",
        inputs: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Trigger:
        """Every day at midnight (UTC)."""
        return cls._every("0 0 * * *", trigger_time_input_key, name, description, inputs, **settings)

    @classmethod
    def weekly(
        cls,
        trigger_time_input_key: str | None = None,
        *,
        name: str = "weekly",
        description: str = "A trigger that runs weekly on Sundays at midnight",
        inputs: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Trigger:
        """Every Sunday at midnight (UTC)."""
        return cls._every("0 0 * * 0", trigger_time_input_key, name, description, inputs, **settings)

    @classmethod
    def monthly(
        cls,
        trigger_time_input_key: str | None = None,
        *,
        name: str = "monthly",
        description: str = "A trigger that runs monthly on the 1st at midnight",
        inputs: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Trigger:
        """The 1st of every month at midnight (UTC)."""
        return cls._every("0 0 1 * *", trigger_time_input_key, name, description, inputs, **settings)


def check_binding(
    trigger: str, task: str, given: list[str], time_input: str | None, inputs: Mapping[str, bool]
) -> None:
    """The inputs a trigger gives (``given``, and ``time_input`` for the firing time) against those of
    its task (name -> has a default): each is one of the task's, and every input without a default
    gets a value -- or a ValueError naming what is wrong, at deploy rather than at every firing."""
    known = ", ".join(inputs) or "none"
    for name in [*given, *([time_input] if time_input else [])]:
        if name not in inputs:
            raise ValueError(
                f"trigger {trigger!r} of {task} gives input {name!r}, which the task does not have ({known})"
            )
    unbound = [n for n, has_default in inputs.items() if not has_default and n not in given and n != time_input]
    if unbound:
        raise ValueError(
            f"trigger {trigger!r} of {task} leaves input(s) {', '.join(unbound)} without a value: "
            "give them in the trigger's inputs (or bind one to flyte.TriggerTime)"
        )
