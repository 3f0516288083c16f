"""Bridges between the synchronous type engine and async code."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

R = TypeVar("R")


def resolve(value: Any) -> Any:
    """``value``, or its result when it is awaitable (an async user transformer's coroutine)."""
    # One attribute lookup on the type: this runs for every value converted.
    if getattr(type(value), "__await__", None) is None:
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
