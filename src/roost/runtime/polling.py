"""Event loops that poll briefly for an answer before they sleep.

A call into a warm worker is a message there and a message back. When the receiving process sleeps
in ``epoll_wait``, waking it costs far more than the message itself: an inter-processor interrupt,
and on virtual machines an exit to the hypervisor -- measured at about 30 us each way on a small
cloud VM, against 4 us for the whole round trip when the receiver is awake. So a process that has
just sent a message which is answered quickly (a run request to a warm replica; the result that
frees the replica for the next request) keeps polling its sockets for a short window instead of
sleeping at once. The window is bounded per message, so an answer that takes long costs at most one
window of CPU; ``ROOST_POLL_US`` sets it (0 turns polling off).

Polling pays only when the answer comes within the window; when it does not (a long task, a nested
call whose answer needs other processes), the spinning core is taken from the processes doing the
work -- on a 2-core machine that costs more than the wakeup it saves. So after ``MISS_LIMIT`` windows
in a row that ended with nothing, a loop polls only once every ``PROBE_EVERY`` messages, until a
window catches its answer again.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import time
from typing import Any

POLL_ENV = "ROOST_POLL_US"
DEFAULT_WINDOW_US = 250.0
MISS_LIMIT = 2
PROBE_EVERY = 16


def poll_window() -> float:
    """The polling window in seconds, from ``ROOST_POLL_US`` (microseconds)."""
    raw = os.environ.get(POLL_ENV)
    if not raw:
        return DEFAULT_WINDOW_US / 1e6
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{POLL_ENV} must be a number of microseconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{POLL_ENV} must not be negative, got {raw!r}")
    return value / 1e6


class PollingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """A selector that, until ``until``, polls without blocking before it would block."""

    def __init__(self) -> None:
        super().__init__()
        self.until = 0.0
        self.misses = 0  # windows in a row that ended with nothing to read
        self._skipped = 0

    def arm(self, window: float) -> None:
        """Poll for ``window`` seconds before blocking -- unless recent windows were wasted."""
        if self.misses >= MISS_LIMIT:
            self._skipped += 1
            if self._skipped < PROBE_EVERY:
                return
            self._skipped = 0
        self.until = time.perf_counter() + window

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self.until and timeout != 0:
            now = time.perf_counter()
            end = self.until if timeout is None else min(self.until, now + timeout)
            while now < end:
                ready = super().select(0)
                if ready:
                    self.misses = 0
                    return ready
                now = time.perf_counter()
            if end == self.until:
                self.misses += 1
            self.until = 0.0
        return super().select(timeout)  # type: ignore[no-any-return]


class PollingEventLoop(asyncio.SelectorEventLoop):
    """An event loop whose owner says when an answer is expected soon (``expect_answer``)."""

    def __init__(self, window: float | None = None) -> None:
        self._poller = PollingSelector()
        self._window = poll_window() if window is None else window
        super().__init__(self._poller)

    def expect_answer(self) -> None:
        """A message that is usually answered quickly was just sent: poll for one window."""
        if self._window:
            self._poller.arm(self._window)


def expect_answer(loop: Any) -> None:
    """``loop.expect_answer()`` when ``loop`` is a polling loop; nothing otherwise."""
    if type(loop) is PollingEventLoop:
        loop.expect_answer()
