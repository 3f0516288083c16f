"""An action's phases attempt by attempt, with when each began and ended, read back from its record.

The store dates the first attempt's phases with the action's own times (queued at, started at, ended
at) and the attempts table dates how each attempt ended; the record's ``transitions`` adds the phases
nothing else dates (waiting for resources, initializing, the phases of a retry). Together they give
every attempt's phase transitions (``ActionDetails.get_phase_transitions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from roost.store.records import ActionPhase, ActionRecord, AttemptRecord


@dataclass
class PhaseTransitionInfo:
    """One phase of an attempt: when it began, and when it ended (None while the action is in it)."""

    phase: ActionPhase
    start_time: datetime
    end_time: datetime | None

    @property
    def duration(self) -> timedelta:
        """How long the attempt was in this phase (until now, while it still is)."""
        return (self.end_time or datetime.now(timezone.utc)) - self.start_time


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def _entries(text: str | None) -> list[tuple[int, ActionPhase, float]]:
    """The ``attempt:phase:time;`` entries of a record's ``transitions``."""
    out = []
    for entry in (text or "").split(";"):
        if entry:
            attempt, phase, ts = entry.split(":")
            out.append((int(attempt), ActionPhase(phase), float(ts)))
    return out


def attempt_transitions(record: ActionRecord, attempts: list[AttemptRecord]) -> list[list[PhaseTransitionInfo]]:
    """The phase transitions of each attempt of ``record``, first attempt first.

    ``attempts`` are its rows of the attempts table. An action answered without running (a cache hit,
    an action recovered from an earlier run) was only ever queued.
    """
    entries = _entries(record.transitions)
    ended = {a.attempt: a for a in attempts}
    count = max([record.attempts, 1 if record.queued_at is not None else 0] + [a + 1 for a, _, _ in entries])
    ran = not record.cache_hit and record.phase is not ActionPhase.RECOVERED
    result = []
    for k in range(count):
        events: list[tuple[ActionPhase, float]] = [(p, ts) for a, p, ts in entries if a == k]
        if k == 0:
            if record.queued_at is not None:
                events.insert(0, (ActionPhase.QUEUED, record.queued_at))
            row = ended.get(0)
            running = row.started_at if row is not None else record.started_at
            if ran and running is not None and (ActionPhase.RUNNING, running) not in events:
                events.append((ActionPhase.RUNNING, running))
        events.sort(key=lambda e: e[1])
        row = ended.get(k)
        if row is not None and row.ended_at is not None:
            end: float | None = row.ended_at
        elif k == count - 1 and record.phase.is_terminal:
            end = record.ended_at
        else:
            end = None
        bounds = [ts for _, ts in events[1:]] + [end]
        result.append(
            [
                PhaseTransitionInfo(phase, _utc(ts), None if stop is None else _utc(stop))
                for (phase, ts), stop in zip(events, bounds)
            ]
        )
    return result
