"""Event loops that poll briefly for an answer before they sleep.

A call into a warm worker is a message there and a message back. When the receiving process sleeps
in ``epoll_wait``, waking it costs far more than the message itself: an inter-processor interrupt,
and on virtual machines an exit to the hypervisor -- measured at about 30 us each way on a small
cloud VM, against 4 us for the whole round trip when the receiver is awake. So a process that has
just sent a message which is answered quickly (a run request to a warm replica; the result that
frees the replica for the next request) keeps polling its sockets for a short window instead of
sleeping at once. The window is bounded per message, so an answer that takes long costs at most one
window of CPU; ``ROOST_POLL_US`` sets it (0 turns polling off).
"""

from __future__ import annotations

import asyncio
import os
import selectors
import time
from typing import Any

POLL_ENV = "ROOST_POLL_US"
DEFAULT_WINDOW_US = 250.0


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

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self.until and timeout != 0:
            now = time.perf_counter()
            end = self.until if timeout is None else min(self.until, now + timeout)
            while now < end:
                ready = super().select(0)
                if ready:
                    return ready
                now = time.perf_counter()
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
            self._poller.until = time.perf_counter() + self._window


def expect_answer(loop: Any) -> None:
    """``loop.expect_answer()`` when ``loop`` is a polling loop; nothing otherwise."""
    if type(loop) is PollingEventLoop:
        loop.expect_answer()
