"""Bridges between the synchronous type engine and async code."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

R = TypeVar("R")


# Types seen without ``__await__``. resolve runs for every value converted, and asking a type for an
# attribute it lacks is dear on Python 3.11 and older (the miss raises, and formats, an AttributeError
# inside): a set lookup answers for the types seen before. Bounded, for programs that make classes.
_PLAIN: set[type] = set()
_PLAIN_MAX = 4096


def resolve(value: Any) -> Any:
    """``value``, or its result when it is awaitable (an async user transformer's coroutine)."""
    cls = type(value)
    if cls in _PLAIN:
        return value
    if getattr(cls, "__await__", None) is None:
        if len(_PLAIN) < _PLAIN_MAX:
            _PLAIN.add(cls)
        return value
    return run_sync(value)


async def _await(awaitable: Awaitable[R]) -> R:
    return await awaitable


def run_sync(awaitable: Awaitable[R]) -> R:
    """Drive ``awaitable`` to completion from synchronous code.

    With no event loop running in this thread a private loop runs it; inside a running loop (a sync
    call made from async code) it cannot run on that loop without deadlocking, so it runs on a loop
    in a helper thread.
    """
    import asyncio  # imported on use: roost.types stays cheap to import
    import concurrent.futures

    coro: Coroutine[Any, Any, R] = awaitable if inspect.iscoroutine(awaitable) else _await(awaitable)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def in_thread(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Run blocking I/O off the event loop (the async File / Dir / DataFrame methods)."""
    import asyncio

    return await asyncio.to_thread(fn, *args, **kwargs)
