"""Threads for sync task bodies: reused when idle, added when all are busy, never a fixed cap.

A fixed-size pool would deadlock: a sync task that calls another sync task blocks its thread until
the child finishes, and the child needs a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

_IDLE_SECONDS = 30.0


class ElasticThreads:
    def __init__(self, name: str = "roost-sync") -> None:
        self._name = name
        self._work: queue.SimpleQueue[tuple[Callable[[], None]] | None] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()
        self._count = 0

    def submit(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        fn: Callable[..., Any],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> asyncio.Future[Any]:
        """Run ``fn(*args, **kwargs)`` in ``context`` on a thread; the future resolves on ``loop``."""
        future: asyncio.Future[Any] = loop.create_future()

        def work() -> None:
            if future.cancelled():
                return
            try:
                result = context.run(fn, *args, **kwargs)
            except BaseException as e:  # the exception belongs to the awaiting action
                _deliver(loop, _set_exception, future, e)
            else:
                _deliver(loop, _set_result, future, result)

        with self._lock:
            if self._idle:
                self._idle -= 1
                start = False
            else:
                self._count += 1
                start = True
        self._work.put((work,))
        if start:
            threading.Thread(target=self._serve, name=f"{self._name}-{self._count}", daemon=True).start()
        return future

    def _serve(self) -> None:
        while True:
            try:
                item = self._work.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    # Leave only if nobody has been promised this idle thread in the meantime.
                    if self._idle:
                        self._idle -= 1
                        self._count -= 1
                        return
                continue
            if item is None:
                return
            item[0]()
            with self._lock:
                self._idle += 1


class _Completions:
    """Results on their way back to one event loop.

    Waking a loop from another thread costs a system call; when many sync bodies finish together,
    one wake-up delivers all the results that arrived meanwhile.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: list[tuple[Callable[..., None], tuple[Any, ...]]] = []

    def deliver(self, setter: Callable[..., None], args: tuple[Any, ...]) -> None:
        with self._lock:
            self._pending.append((setter, args))
            wake = len(self._pending) == 1
        if wake:
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:
                # The run ended (its loop is closed) while this body ran on -- a sync body that timed
                # out inline cannot be stopped. Nobody waits for its result any more.
                with self._lock:
                    self._pending.clear()

    def _drain(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for setter, args in pending:
            setter(*args)


# Weak: every blocking run has a loop of its own, which must not outlive it here.
_COMPLETIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Completions] = weakref.WeakKeyDictionary()


def _deliver(loop: asyncio.AbstractEventLoop, setter: Callable[..., None], *args: Any) -> None:
    completions = _COMPLETIONS.get(loop)
    if completions is None:
        completions = _COMPLETIONS.setdefault(loop, _Completions(loop))
    completions.deliver(setter, args)


# One set of threads for the process: idle threads of one run serve the next.
SYNC_THREADS = ElasticThreads()


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
