"""Timeout: bounds on how long an action may wait, run, and live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Union


@dataclass
class Timeout:
    """``Timeout(max_runtime=None, max_queued_time=None, deadline=None)``, each seconds or timedelta.

    - ``max_runtime``: wall clock in RUNNING, per attempt (a retry starts a fresh bound).
    - ``max_queued_time``: wall clock waiting to start (queued or waiting for resources), per attempt.
    - ``deadline``: wall clock from first queued to finished, across all attempts; when it fires the
      action ends TIMED_OUT whatever retries remain.

    ``None`` or zero means unbounded. Values are not validated, as on the platform.
    """

    max_runtime: timedelta | int | None = None
    max_queued_time: timedelta | int | None = None
    deadline: timedelta | int | None = None


TimeoutType = Union[Timeout, int, timedelta]


def seconds(value: timedelta | int | float | None) -> float | None:
    """A bound in seconds, or ``None`` when unbounded (None or zero)."""
    if value is None:
        return None
    s = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return s if s else None


def normalize_timeout(value: object) -> Timeout | None:
    """A task's ``timeout=`` as a ``Timeout``, or ``None`` when it sets no bound.

    A bare int or timedelta means ``max_runtime``. Called when a task is compiled for a run, not at
    decoration, so a bad value fails where the platform fails it.
    """
    if value is None:
        return None
    if isinstance(value, Timeout):
        bounds = (value.max_runtime, value.max_queued_time, value.deadline)
        return value if any(seconds(b) for b in bounds) else None
    if isinstance(value, (int, timedelta)):  # bool is an int, as on the platform
        return Timeout(max_runtime=value) if seconds(value) else None
    raise ValueError(f"timeout must be a Timeout, an int (seconds) or a timedelta, got {type(value).__name__}")
