"""The runtime loop: one event loop per process, on a daemon thread, that every run executes on.

Controllers, the pools of reusable workers and the conversations with worker processes all live on
it, so a call into a warm replica is one round trip over a socket, with no hop between event loops
-- and pools, which outlive runs, outlive nothing they depend on. ``flyte.run`` from sync code
blocks until its run finishes here; ``await flyte.run.aio(...)`` from any other loop awaits it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from roost.runtime import loop_watch
from roost.runtime.polling import PollingEventLoop
from roost.runtime.syncify import syncify

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def runtime_loop() -> asyncio.AbstractEventLoop:
    """The process's runtime loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed():
            # It polls briefly for a worker's answer before sleeping (see polling.py).
            _loop = PollingEventLoop()
            _thread = threading.Thread(target=_loop.run_forever, name="roost-runtime", daemon=True)
            _thread.start()
            loop_watch.watch(_loop, _thread)
        return _loop


def on_runtime_loop() -> bool:
    return _thread is not None and threading.get_ident() == _thread.ident


def _spawn(coro: Coroutine[Any, Any, T]) -> tuple[concurrent.futures.Future[T], list[asyncio.Task[T]]]:
    """Start ``coro`` as a task on the runtime loop; a thread-safe future of its result, and the task
    (once started) so that it can be cancelled from another thread."""
    loop = runtime_loop()
    result: concurrent.futures.Future[T] = concurrent.futures.Future()
    started: list[asyncio.Task[T]] = []

    def done(task: asyncio.Task[T]) -> None:
        if task.cancelled():
            result.cancel()
        elif task.exception() is not None:
            result.set_exception(task.exception())  # type: ignore[arg-type]
        else:
            result.set_result(task.result())

    def start() -> None:
        task = loop.create_task(coro)
        started.append(task)
        task.add_done_callback(done)

    loop.call_soon_threadsafe(start)
    return result, started


def block_on_runtime(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the runtime loop and wait for it. Ctrl-C cancels it and waits for it to end
    (so an aborted run is recorded as such) before the KeyboardInterrupt goes on."""
    if on_runtime_loop():
        coro.close()
        raise RuntimeError(
            "a blocking roost.run() was called from async task code, which would block the runtime loop; "
            "call the task directly (await task(...)) or use `await flyte.run.aio(...)`"
        )
    result, started = _spawn(coro)
    try:
        return result.result()
    except KeyboardInterrupt:
        if started:
            runtime_loop().call_soon_threadsafe(started[0].cancel)
        watcher = loop_watch.current()
        if watcher is not None:
            watcher.abort()  # async code blocking the loop would keep the cancellation from it
        try:
            result.result(timeout=30)
        except BaseException:
            pass
        raise


async def await_on_runtime(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the runtime loop from whatever loop the caller is on."""
    if on_runtime_loop():
        return await coro
    result, started = _spawn(coro)
    try:
        return await asyncio.wrap_future(result)
    except asyncio.CancelledError:
        if started:
            runtime_loop().call_soon_threadsafe(started[0].cancel)
        raise


class on_runtime(syncify[T]):
    """Decorate an ``async def`` that must run on the runtime loop: calling it blocks until it is
    done; ``.aio(...)`` awaits it from any loop. Works on methods too."""

    def __call__(self, *args: Any, **kwargs: Any) -> T:
        return block_on_runtime(self._fn(*args, **kwargs))

    def aio(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, T]:
        return await_on_runtime(self._fn(*args, **kwargs))
