"""``flyte.durable``: ``sleep``, ``time`` and ``now`` that a recovered run replays.

Inside a task, each call is recorded as a traced call of the calling action (``roost get run`` shows
it): ``time()`` and ``now()`` record the instant they read, and ``sleep(seconds)`` the instant it
started. A run resumed after a crash (``rerun(NAME, recover=True)``, or a server resuming a run whose
process died) answers the same calls, in the same order, from those records: ``time()`` and ``now()``
return the instants of the first run, so decisions made from them are made the same way again, and
``sleep`` sleeps only what remains of its first start -- nothing, when that has passed. Outside a
task they are ``time.time()``, ``datetime.now(timezone.utc)`` and a plain sleep.

Each has a blocking form and an awaitable one: ``flyte.durable.sleep(3600)`` in sync code,
``await flyte.durable.sleep.aio(3600)`` in async code (the blocking form would stop the event loop
that runs the run's other actions).
"""

from __future__ import annotations

import asyncio
import time as _clock
from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from roost.runtime.task_api.tracing import trace

T = TypeVar("T")


class _Durable(Generic[T]):
    """A blocking function with its awaitable form as ``.aio``."""

    def __init__(self, blocking: Callable[..., T], awaitable: Callable[..., Coroutine[Any, Any, T]], doc: str):
        self._blocking = blocking
        self.aio = awaitable
        self.__doc__ = doc

    def __call__(self, *args: Any, **kwargs: Any) -> T:
        return self._blocking(*args, **kwargs)


# The recorded reads. Their names are what the run's tree shows under the calling action.
@trace
def durable_time() -> float:
    return _clock.time()


@trace
def durable_sleep(seconds: float) -> float:
    """The instant a durable sleep of ``seconds`` started (``seconds`` is recorded with it)."""
    return _clock.time()


def _remaining(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"flyte.durable.sleep takes a number of seconds, got {type(seconds).__name__}")
    if seconds < 0:
        raise ValueError(f"flyte.durable.sleep cannot sleep a negative time ({seconds} s)")
    return durable_sleep(float(seconds)) + seconds - _clock.time()


def _sleep(seconds: float) -> None:
    remaining = _remaining(seconds)
    if remaining > 0:
        _clock.sleep(remaining)


async def _sleep_aio(seconds: float) -> None:
    remaining = _remaining(seconds)
    if remaining > 0:
        await asyncio.sleep(remaining)


async def _time_aio() -> float:
    return durable_time()  # type: ignore[no-any-return]


def _now() -> datetime:
    return datetime.fromtimestamp(durable_time(), timezone.utc)


async def _now_aio() -> datetime:
    return _now()


sleep = _Durable(
    _sleep,
    _sleep_aio,
    "Sleep ``seconds`` counted from this call's first start: a recovered run sleeps only the remainder.",
)
time = _Durable(durable_time, _time_aio, "``time.time()``, recorded: a recovered run reads the first run's.")
now = _Durable(_now, _now_aio, "The current UTC datetime, recorded: a recovered run reads the first run's.")

__all__ = ["now", "sleep", "time"]
