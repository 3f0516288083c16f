"""When a schedule trigger fires: the times of a ``Cron`` (in its timezone) or a ``FixedRate``, as Unix
times, and the clock they are read against.

Policies (docs/deploy.md "Triggers"):
- ``FixedRate(interval_minutes)`` fires one interval after it is activated, then every interval (not
  at once on activation); with ``start_time`` on the grid ``start_time + k * interval``, never before
  ``start_time``.
- ``Cron`` follows the wall clock of its timezone. A time that a change to summer time skips fires
  at the first instant after the gap; when clocks go back, a job at a fixed hour fires once (at the
  first of the two instants with that wall time), while a job whose hour is ``*`` fires at each.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

# Test-only: "ANCHOR:SCALE" makes the server's schedule clock run SCALE times faster than the real one
# from the Unix time ANCHOR, so that tests see a minute-long interval pass in seconds without lowering
# FixedRate's one-minute minimum. Fixed anchor: a restarted server reads the same clock.
CLOCK_ENV = "ROOST_SCHEDULE_CLOCK"


class Clock:
    """The time schedules are read against: the real one, or a test's faster one."""

    def __init__(self, spec: str | None = None):
        spec = os.environ.get(CLOCK_ENV) if spec is None else spec
        self.anchor, self.scale = 0.0, 1.0
        if spec:
            anchor, _, scale = spec.partition(":")
            self.anchor, self.scale = float(anchor), float(scale or 1)
            if self.scale <= 0:
                raise ValueError(f"{CLOCK_ENV}: the scale must be positive, got {scale!r}")

    def now(self) -> float:
        return self.anchor + (time.time() - self.anchor) * self.scale

    def real_seconds(self, seconds: float) -> float:
        """How long ``seconds`` of schedule time take on the real clock."""
        return seconds / self.scale


def is_schedule(automation: dict[str, Any]) -> bool:
    return automation.get("kind") in ("cron", "fixed_rate")


def next_time(automation: dict[str, Any], after: float) -> float | None:
    """The first time the schedule fires strictly after ``after`` (None: it is not a schedule).
    A ``FixedRate`` without a start time is anchored where its ``anchor`` says (its activation)."""
    kind = automation.get("kind")
    if kind == "fixed_rate":
        interval = automation["interval_minutes"] * 60.0
        start = automation.get("start_time")
        anchor = float(start if start is not None else automation["anchor"])
        fire = anchor + (math.floor((after - anchor) / interval) + 1) * interval
        return max(fire, anchor) if start is not None else max(fire, anchor + interval)
    if kind == "cron":
        return _next_cron(automation["expression"], automation.get("timezone") or "UTC", after)
    return None


def last_time(automation: dict[str, Any], upto: float) -> float | None:
    """The latest time the schedule fires at or before ``upto`` (None: none, or not a schedule)."""
    kind = automation.get("kind")
    if kind == "fixed_rate":
        interval = automation["interval_minutes"] * 60.0
        start = automation.get("start_time")
        anchor = float(start if start is not None else automation["anchor"])
        first = anchor if start is not None else anchor + interval
        fire = anchor + math.floor((upto - anchor) / interval) * interval
        return fire if fire >= first else None
    if kind == "cron":
        return _last_cron(automation["expression"], automation.get("timezone") or "UTC", upto)
    return None


def times_between(automation: dict[str, Any], start: float, end: float, limit: int) -> Iterator[float]:
    """The times the schedule fires in ``(start, end]``, at most ``limit`` of them."""
    at = start
    for _ in range(limit):
        fire = next_time(automation, at)
        if fire is None or fire > end:
            return
        yield fire
        at = fire


def _next_cron(expression: str, zone: str, after: float) -> float:
    from croniter import croniter  # imported by the first schedule, not by every server start

    fire: datetime = croniter(expression, datetime.fromtimestamp(after, ZoneInfo(zone))).get_next(datetime)
    while _repeat(expression, fire):
        fire = croniter(expression, fire).get_next(datetime)
    return fire.timestamp()


def _last_cron(expression: str, zone: str, upto: float) -> float:
    from croniter import croniter

    # From the instant after ``upto`` back: ``upto`` itself may be a firing time.
    fire: datetime = croniter(expression, datetime.fromtimestamp(upto + 1, ZoneInfo(zone))).get_prev(datetime)
    while fire.timestamp() > upto or _repeat(expression, fire):
        fire = croniter(expression, fire).get_prev(datetime)
    return fire.timestamp()


def _repeat(expression: str, fire: datetime) -> bool:
    """``fire`` is the second pass through a wall time (clocks went back) of a job at a fixed hour:
    not a new day's time, so it does not fire (as cron does)."""
    fields = expression.split()
    fixed_hour = len(fields) > 1 and fields[1] != "*"
    return fixed_hour and fire.fold == 1 and fire.replace(fold=0).utcoffset() != fire.utcoffset()


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)
