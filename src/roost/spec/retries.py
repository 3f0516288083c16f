"""RetryStrategy and Backoff: how often a failed action is tried again, and how long to wait."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

# Without a Backoff the platform waits 0.5 s x 2^(k-1) before retry k, uncapped.
DEFAULT_BASE = timedelta(seconds=0.5)
DEFAULT_FACTOR = 2.0


@dataclass(frozen=True)
class Backoff:
    """``Backoff(base, factor=1.0, cap=None)``: the delay before retry n (0-based) is
    ``min(base * factor**n, cap)``."""

    base: timedelta
    factor: float = 1.0
    cap: timedelta | None = None

    def __post_init__(self) -> None:
        if self.base < timedelta(0):
            raise ValueError(f"Backoff base must be >= 0, got {self.base}")
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)) or not math.isfinite(self.factor):
            raise ValueError(f"Backoff factor must be a finite number, got {self.factor!r}")
        if self.factor < 1.0:
            raise ValueError(f"Backoff factor must be >= 1.0, got {self.factor}")
        if self.cap is not None and self.cap < timedelta(0):
            raise ValueError(f"Backoff cap must be >= 0, got {self.cap}")
        if self.factor > 1.0 and self.cap is None:
            raise ValueError("Backoff cap is required when factor > 1 (otherwise delays grow without bound)")

    def compute_delay(self, n: int) -> timedelta:
        if n < 0:
            raise ValueError(f"retry index must be >= 0, got {n}")
        if not self.base:
            # 0 x anything is 0; without this a huge n would "overflow" into the cap below.
            return self.base
        try:
            # Float power: an int factor would build an exact integer with ~n digits (minutes for a
            # huge n), while a float overflows at once and lands on the cap.
            delay = self.base * (float(self.factor) ** n)
        except OverflowError:
            assert self.cap is not None  # factor > 1 always has a cap
            return self.cap
        return min(delay, self.cap) if self.cap is not None else delay


def _as_timedelta(value: timedelta | int | float, field: str) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"RetryStrategy {field} must be a Backoff, timedelta or seconds, got {type(value).__name__}")
    return timedelta(seconds=value)


class RetryStrategy:
    """``RetryStrategy(count, backoff=None)``: ``count`` user retries (``count + 1`` attempts).

    The design documents' form ``RetryStrategy(count, backoff=<timedelta | seconds>, backoff_factor=<float>)`` is
    accepted too: there ``backoff`` is the *longest* wait. Delays start at the default 0.5 s (or
    ``backoff`` if smaller) and grow by ``backoff_factor`` (default 2) up to that cap.
    """

    __slots__ = ("backoff", "count")

    def __init__(
        self,
        count: int,
        backoff: Backoff | timedelta | int | float | None = None,
        backoff_factor: float | None = None,
    ):
        if isinstance(count, bool) or not isinstance(count, int):
            raise ValueError(f"RetryStrategy count must be an int, got {type(count).__name__}")
        if count < 0:
            raise ValueError(f"RetryStrategy count must be >= 0, got {count}")
        if backoff is not None and not isinstance(backoff, Backoff):
            cap = _as_timedelta(backoff, "backoff")
            backoff = Backoff(base=min(DEFAULT_BASE, cap), factor=backoff_factor or DEFAULT_FACTOR, cap=cap)
        elif backoff_factor is not None:
            raise ValueError("RetryStrategy backoff_factor needs backoff= (the longest wait) as well")
        self.count = count
        self.backoff: Backoff | None = backoff

    def delay_before_retry(self, k: int) -> float:
        """Seconds to wait before retry ``k`` (1-based)."""
        if self.backoff is not None:
            return self.backoff.compute_delay(k - 1).total_seconds()
        return DEFAULT_BASE.total_seconds() * DEFAULT_FACTOR ** (k - 1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RetryStrategy):
            return NotImplemented
        return (self.count, self.backoff) == (other.count, other.backoff)

    def __hash__(self) -> int:
        return hash((self.count, self.backoff))

    def __repr__(self) -> str:
        return f"RetryStrategy(count={self.count}, backoff={self.backoff!r})"


def normalize_retries(value: object) -> RetryStrategy:
    """A task's ``retries=`` as a RetryStrategy (ints are counts; floats and strings are refused)."""
    if isinstance(value, RetryStrategy):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return RetryStrategy(count=value)
    raise ValueError(f"retries must be an int or a RetryStrategy, got {type(value).__name__} {value!r}")
