"""ReusePolicy: keep warm worker replicas between task calls."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

# The platform's floor for both TTLs. Tests that need shorter ones use the runtime's test-only
# time scale, never a relaxed validation.
MIN_TTL = timedelta(seconds=30)


def _as_ttl(value: object, field: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, timedelta)):
        raise ValueError(
            f"ReusePolicy {field} must be an int (seconds) or a timedelta, got {type(value).__name__} {value!r}"
        )
    ttl = timedelta(seconds=value) if isinstance(value, int) else value
    if ttl < MIN_TTL:
        raise ValueError(f"ReusePolicy {field} must be at least 30 seconds, got {ttl.total_seconds():g} s")
    return ttl


@dataclass
class ReusePolicy:
    """``ReusePolicy(replicas=2, idle_ttl=30, concurrency=1, scaledown_ttl=30, scope="global")``.

    - ``replicas``: an int n (exactly n replicas) or ``(min, max)``: keep ``min`` warm, scale up to
      ``max`` while every slot is busy.
    - ``idle_ttl``: the whole environment shuts down after being idle this long.
    - ``concurrency``: simultaneous tasks per replica (more than 1 only for async tasks).
    - ``scaledown_ttl``: how long one idle replica waits before it is removed while scaling down.
    - ``scope``: ``"global"`` shares replicas between runs, ``"run"`` keeps them to one run.
    """

    replicas: int | tuple[int, int] = 2
    idle_ttl: int | timedelta = 30
    concurrency: int = 1
    scaledown_ttl: int | timedelta = 30
    scope: Literal["global", "run"] = "global"

    def __post_init__(self) -> None:
        if self.scope not in ("global", "run"):
            raise ValueError(f"ReusePolicy scope must be 'global' or 'run', got {self.scope!r}")
        if self.replicas is None:
            raise ValueError("ReusePolicy replicas cannot be None")
        if isinstance(self.replicas, int):
            self.replicas = (self.replicas, self.replicas)
        if not isinstance(self.replicas, tuple) or len(self.replicas) != 2:
            raise ValueError(
                f"ReusePolicy replicas must be an int or a tuple of two ints (min, max), got {self.replicas!r}"
            )
        low, high = self.replicas
        for label, value in (("min", low), ("max", high)):
            if not isinstance(value, int):
                raise ValueError(f"ReusePolicy replicas {label} must be an int, got {type(value).__name__}")
            if value < 0:
                raise ValueError(f"ReusePolicy replicas {label} must be >= 0, got {value}")
        if low > high:
            raise ValueError(f"ReusePolicy replicas min must be <= max, got ({low}, {high})")
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int):
            raise ValueError(f"ReusePolicy concurrency must be an int, got {type(self.concurrency).__name__}")
        if self.concurrency < 1:
            raise ValueError(f"ReusePolicy concurrency must be at least 1, got {self.concurrency}")
        self.idle_ttl = _as_ttl(self.idle_ttl, "idle_ttl")
        self.scaledown_ttl = _as_ttl(self.scaledown_ttl, "scaledown_ttl")
        if high == 1 and self.concurrency == 1:
            warnings.warn(
                "ReusePolicy with at most 1 replica and concurrency 1 runs one task at a time: a busy "
                "replica makes every other call wait (use replicas >= 2 or async tasks with concurrency > 1)",
                UserWarning,
                stacklevel=3,
            )

    @property
    def min_replicas(self) -> int:
        return self.replicas[0]  # type: ignore[index]

    @property
    def max_replicas(self) -> int:
        return self.replicas[1]  # type: ignore[index]

    @property
    def capacity(self) -> int:
        """Most tasks the pool runs at once: max replicas x concurrency."""
        return self.max_replicas * self.concurrency

    def get_scaledown_ttl(self) -> timedelta:
        return self.scaledown_ttl  # type: ignore[return-value]
