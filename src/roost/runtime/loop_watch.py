"""The runtime loop's watchdog: async task code that never awaits blocks the loop every run of the
process shares; the watchdog notices, names the action, and stops it when it must stop.

The loop beats every ``BEAT_S``; a thread of its own checks the beats. When they stop for more than
``STALL_S``, it looks at the loop thread's stack for the body of an inline action (each registers
itself while it runs, ``add(...)``) and reports it, once per stall, with where it is stuck. A
body still blocking past its ``max_runtime``, or when its run is aborted (``roost abort``, Ctrl-C),
is interrupted: an exception is raised inside the loop thread, in the body's own code, which the
inline executor turns into the timeout or the abort (``Interrupted.reason`` says which). That is the
only way to stop Python code that never yields; native code that holds the thread is interrupted
when it returns to Python.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import sys
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

logger = logging.getLogger("roost")

BEAT_S = 0.1
STALL_S = 1.0  # a loop silent this long is reported
CHECK_S = 0.2  # how often the watchdog looks


class Interrupted(BaseException):
    """Raised in the loop thread inside a blocking body (a BaseException: task code that catches
    ``Exception`` does not swallow it); the body's ``reason`` says why."""


@dataclass(eq=False, slots=True)
class Body:
    """An inline action's async body while it runs on the loop."""

    coroutine: Coroutine[Any, Any, Any]
    label: str  # "action a0-1f2e (task mod.fn)"
    deadline: float | None  # monotonic time past which it must stop
    reason: str | None = None  # why it was interrupted, once it was
    reported_at: float = field(default=0.0)


class LoopWatch:
    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread):
        self._loop = loop
        self._thread = thread
        self._last_beat = time.monotonic()
        self._bodies: set[Body] = set()
        self._abort = False
        self._reported = 0.0
        loop.call_soon_threadsafe(self._beat)
        threading.Thread(target=self._watch, name="roost-loop-watch", daemon=True).start()

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        self._abort = False  # the loop is free again: a pending abort is the loop's to deliver
        if not self._loop.is_closed():
            self._loop.call_later(BEAT_S, self._beat)

    def add(self, body: Body) -> None:
        """``body`` runs on the loop from now (until ``discard``)."""
        self._bodies.add(body)

    def discard(self, body: Body) -> None:
        self._bodies.discard(body)

    def abort(self) -> None:
        """A run of this process is being aborted: a body blocking the loop must let go."""
        self._abort = True

    def _watch(self) -> None:
        while self._thread.is_alive() and not self._loop.is_closed():
            time.sleep(CHECK_S)
            now = time.monotonic()
            if now - self._last_beat < STALL_S:
                continue
            frames = sys._current_frames().get(self._thread.ident or 0)
            body = self._blocking_body(frames)
            if body is None:
                if self._reported < self._last_beat:
                    self._reported = now
                    logger.warning(
                        "the runtime loop has been blocked for %.1f s at %s", now - self._last_beat, _innermost(frames)
                    )
                continue
            if body.reported_at < self._last_beat:
                body.reported_at = now
                logger.warning(
                    "%s has blocked the runtime loop for %.1f s at %s: async code that does not await stops "
                    "every other action of this process (await in long loops, or make it a sync task)",
                    body.label,
                    now - self._last_beat,
                    _where(frames, body),
                )
            late = body.deadline is not None and now > body.deadline
            reason = "abort" if self._abort else "timeout" if late else None
            if reason is not None and body.reason is None:
                body.reason = reason
                self._interrupt(body)

    def _blocking_body(self, frames: FrameType | None) -> Body | None:
        on_stack = set()
        frame = frames
        while frame is not None:
            on_stack.add(id(frame))
            frame = frame.f_back
        for body in list(self._bodies):
            frame = getattr(body.coroutine, "cr_frame", None)
            if frame is not None and id(frame) in on_stack:
                return body
        return None

    def _interrupt(self, body: Body) -> None:
        # Checked again just before: the exception must land in the body, not in the loop's own code.
        if self._blocking_body(sys._current_frames().get(self._thread.ident or 0)) is not body:
            body.reason = None
            return
        ident = ctypes.c_ulong(self._thread.ident or 0)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ident, ctypes.py_object(Interrupted))


def _innermost(frames: FrameType | None) -> str:
    if frames is None:
        return "an unknown place"
    return f"{frames.f_code.co_filename}:{frames.f_lineno} in {frames.f_code.co_name}"


def _where(frames: FrameType | None, body: Body) -> str:
    """The innermost line of the body's own code on the stack (file:line in function)."""
    found = ""
    frame = frames
    target = getattr(body.coroutine, "cr_frame", None)
    while frame is not None:
        code = frame.f_code
        found = found or f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"
        if frame is target:
            break
        frame = frame.f_back
    return found or "an unknown place"


_WATCH: LoopWatch | None = None


def watch(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> LoopWatch:
    """Start watching the runtime loop (once per loop)."""
    global _WATCH
    _WATCH = LoopWatch(loop, thread)
    return _WATCH


def current() -> LoopWatch | None:
    return _WATCH
