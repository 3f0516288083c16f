"""The runtime loop's watchdog: async task code that never awaits blocks the loop every run of the
process shares; the watchdog notices, names the action, and stops it when it must stop.

The loop beats every ``BEAT_S``; a thread of its own checks the beats. When they stop for more than
``STALL_S``, it reads the loop thread's stack. The inline executor has said which of its functions
runs an action's body (``mark_body_runner``): the innermost such frame names the action that blocks
the loop, reported once per stall with where it is stuck. A body still blocking past its
``max_runtime``, or when its run is aborted (``roost abort``, Ctrl-C), is interrupted: an exception
raised inside the loop thread, in the body's own code, which the inline executor turns into the
timeout or the abort (``reason_for``). That is the only way to stop Python code that never yields;
native code that holds the thread is interrupted when it returns to Python. Nothing of this runs on
an action's way: the watchdog reads the stack only when the loop has stalled.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

logger = logging.getLogger("roost")

BEAT_S = 0.1
STALL_S = 1.0  # a loop silent this long is reported
CHECK_S = 0.2  # how often the watchdog looks


class Interrupted(BaseException):
    """Raised in the loop thread inside a blocking body (a BaseException: task code that catches
    ``Exception`` does not swallow it); ``reason_for(body)`` says why."""


@dataclass(frozen=True)
class BlockingBody:
    """What a body runner's frame tells of the body it runs."""

    body: Any  # the body's coroutine
    label: str  # "action a0-1f2e (mod.fn)"
    deadline: float | None  # monotonic time past which it must stop


# Code objects of the functions that run bodies -> how to read the body off one of their frames.
_RUNNERS: dict[CodeType, Callable[[dict[str, Any]], BlockingBody | None]] = {}
# Why a body was interrupted, by id of its coroutine (read once by its runner).
_REASONS: dict[int, str] = {}


def mark_body_runner(function: Callable[..., Any], read: Callable[[dict[str, Any]], BlockingBody | None]) -> None:
    """``function``'s frames run an action's body; ``read(frame locals)`` describes it."""
    _RUNNERS[function.__code__] = read


def reason_for(body: Any) -> str | None:
    """Why the watchdog interrupted ``body`` ("timeout" or "abort"), once; None if it did not."""
    return _REASONS.pop(id(body), None)


class LoopWatch:
    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread):
        self._loop = loop
        self._thread = thread
        self._last_beat = time.monotonic()
        self._reported = 0.0
        self._abort = False
        loop.call_soon_threadsafe(self._beat)
        threading.Thread(target=self._watch, name="roost-loop-watch", daemon=True).start()

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        self._abort = False  # the loop is free again: a pending abort is the loop's to deliver
        if not self._loop.is_closed():
            self._loop.call_later(BEAT_S, self._beat)

    def abort(self) -> None:
        """A run of this process is being aborted: a body blocking the loop must let go."""
        self._abort = True

    def _watch(self) -> None:
        while self._thread.is_alive() and not self._loop.is_closed():
            time.sleep(CHECK_S)
            now = time.monotonic()
            if now - self._last_beat < STALL_S:
                continue
            frames = self._stack()
            found = _blocking_body(frames)
            if self._reported < self._last_beat:
                self._reported = now
                logger.warning(
                    "%s the runtime loop for %.1f s at %s: async code that does not await stops every other "
                    "action of this process (await in long loops, or make it a sync task)",
                    f"{found.label} has blocked" if found is not None else "something has blocked",
                    now - self._last_beat,
                    _innermost(frames),
                )
            if found is None or id(found.body) in _REASONS:
                continue
            late = found.deadline is not None and now > found.deadline
            reason = "abort" if self._abort else "timeout" if late else None
            if reason is not None:
                self._interrupt(found, reason)

    def _stack(self) -> FrameType | None:
        return sys._current_frames().get(self._thread.ident or 0)

    def _interrupt(self, found: BlockingBody, reason: str) -> None:
        import ctypes  # here: a process whose loop is never stuck does not pay for importing it

        # Checked again just before: the exception must land in the body, not in the loop's own code.
        again = _blocking_body(self._stack())
        if again is None or again.body is not found.body:
            return
        _REASONS[id(found.body)] = reason
        ident = ctypes.c_ulong(self._thread.ident or 0)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ident, ctypes.py_object(Interrupted))


def _blocking_body(frames: FrameType | None) -> BlockingBody | None:
    """The innermost body on the stack whose own frame is on it too (it is running, not awaiting)."""
    on_stack: set[int] = set()
    frame = frames
    while frame is not None:
        on_stack.add(id(frame))
        read = _RUNNERS.get(frame.f_code)
        if read is not None:
            found = read(frame.f_locals)
            body_frame = getattr(found.body, "cr_frame", None) if found is not None else None
            if found is not None and body_frame is not None and id(body_frame) in on_stack:
                return found
        frame = frame.f_back
    return None


def _innermost(frames: FrameType | None) -> str:
    if frames is None:
        return "an unknown place"
    return f"{frames.f_code.co_filename}:{frames.f_lineno} in {frames.f_code.co_name}"


_WATCH: LoopWatch | None = None


def watch(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> LoopWatch:
    """Start watching the runtime loop (once per loop)."""
    global _WATCH
    _WATCH = LoopWatch(loop, thread)
    return _WATCH


def current() -> LoopWatch | None:
    return _WATCH
