"""Sync/async duality: a function that blocks, with an ``.aio`` attribute that is its awaitable form."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code -- on a fresh loop in this thread, or, when this
    thread already runs a loop (a notebook), on a helper thread so as not to block or nest it."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is None:
        # Outside the except block: an exception from the run must not chain to this lookup.
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:
            box["error"] = e

    thread = threading.Thread(target=target, name="roost-run", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class syncify(Generic[T]):
    """Decorate an ``async def``: calling the result blocks; ``.aio(...)`` is the coroutine.

    Works on functions and on methods (``run.outputs()`` and ``await run.outputs.aio()``).
    """

    def __init__(self, coro_fn: Callable[..., Coroutine[Any, Any, T]]):
        self._fn = coro_fn
        functools.update_wrapper(self, coro_fn)  # type: ignore[arg-type]

    def __call__(self, *args: Any, **kwargs: Any) -> T:
        return run_blocking(self._fn(*args, **kwargs))

    def aio(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, T]:
        return self._fn(*args, **kwargs)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return type(self)(functools.partial(self._fn, obj))


class dual(Generic[T]):
    """A blocking function and its awaitable form, written separately.

    For work that needs no event loop (in-memory changes, a small file write): the blocking form does it
    in the caller's thread -- no loop is started and the caller's context variables (the current
    action) stay in view, even when it is called from async code -- and ``.aio(...)`` is the awaitable.
    """

    def __init__(self, fn: Callable[..., T], aio: Callable[..., Coroutine[Any, Any, T]]):
        self._fn = fn
        self._aio = aio
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __call__(self, *args: Any, **kwargs: Any) -> T:
        return self._fn(*args, **kwargs)

    def aio(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, T]:
        return self._aio(*args, **kwargs)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return type(self)(functools.partial(self._fn, obj), functools.partial(self._aio, obj))


class dual_classmethod(Generic[T]):
    """``dual`` for a classmethod: ``Run.get(name)`` blocks, ``await Run.get.aio(name)`` does not."""

    def __init__(self, fn: Callable[..., T], aio: Callable[..., Coroutine[Any, Any, T]]):
        self._fn = fn
        self._aio = aio
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __get__(self, obj: Any, objtype: Any = None) -> dual[T]:
        owner = objtype if objtype is not None else type(obj)
        return dual(functools.partial(self._fn, owner), functools.partial(self._aio, owner))
