"""The polling event loop: a bounded window of polling after a message that expects a quick answer."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from roost.runtime.polling import MISS_LIMIT, POLL_ENV, PROBE_EVERY, PollingEventLoop, PollingSelector, poll_window


def test_window_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(POLL_ENV, "120")
    assert poll_window() == pytest.approx(120e-6)
    monkeypatch.setenv(POLL_ENV, "0")
    assert poll_window() == 0.0
    monkeypatch.delenv(POLL_ENV)
    assert poll_window() > 0


@pytest.mark.parametrize("raw", ["fast", "-5"])
def test_a_bad_window_is_refused_with_the_variable_named(monkeypatch, raw):
    monkeypatch.setenv(POLL_ENV, raw)
    with pytest.raises(ValueError, match=POLL_ENV):
        poll_window()


def test_polling_off_never_polls():
    loop = PollingEventLoop(window=0.0)
    try:
        loop.expect_answer()
        assert loop._poller.until == 0.0
    finally:
        loop.close()


def test_the_window_ends_when_nothing_arrives():
    selector = PollingSelector()
    a, b = socket.socketpair()
    try:
        selector.register(a, 1)
        selector.until = time.perf_counter() + 0.02
        assert selector.select(0.05) == []
        assert selector.until == 0.0  # polled once, for that window only
        # What arrives while polling is returned at once.
        selector.until = time.perf_counter() + 5.0
        sender = threading.Timer(0.01, lambda: b.send(b"x"))
        sender.start()
        ready = selector.select(None)
        assert [key.fileobj for key, _ in ready] == [a]
        sender.join()
    finally:
        selector.close()
        a.close()
        b.close()


def test_a_polling_loop_runs_coroutines_and_timers_as_any_loop():
    loop = PollingEventLoop(window=0.001)

    async def main() -> int:
        loop.expect_answer()
        await asyncio.sleep(0.01)  # the window ends first; the loop then sleeps until the timer
        reader, _writer = await asyncio.open_unix_connection(sock=left)
        loop.expect_answer()
        right.send(b"ping")
        return len(await reader.readexactly(4))

    left, right = socket.socketpair()
    try:
        assert loop.run_until_complete(main()) == 4
    finally:
        loop.close()
        right.close()


def test_wasted_windows_turn_polling_down_until_one_catches_an_answer():
    selector = PollingSelector()
    a, b = socket.socketpair()
    try:
        selector.register(a, 1)
        for _ in range(MISS_LIMIT):
            selector.arm(0.001)
            assert selector.select(0.01) == []
        assert selector.misses == MISS_LIMIT
        # Now only one message in PROBE_EVERY gets a window.
        armed = 0
        for _ in range(PROBE_EVERY * 2):
            selector.arm(0.001)
            armed += selector.until > 0
            selector.until = 0.0
        assert armed == 2
        # A probe that catches its answer turns polling fully on again.
        while not selector.until:
            selector.arm(5.0)
        b.send(b"x")
        assert [key.fileobj for key, _ in selector.select(None)] == [a]
        assert selector.misses == 0
        selector.arm(0.001)
        assert selector.until > 0
    finally:
        selector.close()
        a.close()
        b.close()
