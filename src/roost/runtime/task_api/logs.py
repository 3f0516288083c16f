"""Per-action capture of stdout, stderr and ``logging`` output.

``sys.stdout`` and ``sys.stderr`` are wrapped once by proxies that, while an action's code runs
(a context variable says which), hand every write to that action's sink as well as to the original
stream -- so output still shows where it always did, and is also stored with the action. A
``logging`` handler on the root logger does the same for log records.

``user_logger`` is ``flyte.logger``: as in Flyte, task code's own logger, INFO by default
(``$USER_LOG_LEVEL`` or ``init(user_log_level=...)`` change it), printed to stderr without going
through the root logger -- and, while an action runs, stored with that action's log.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TextIO

from roost.runtime import masking
from roost.store.records import LogRecord

# Set around the code of each running action: where its output goes.
current_sink: ContextVar[LogSink | None] = ContextVar("roost_log_sink", default=None)


class LogSink:
    """Collects one attempt's output, line by line, into the store."""

    __slots__ = ("_emit", "_partial", "action_id", "attempt", "run_name")

    def __init__(self, emit: Callable[[LogRecord], None], run_name: str, action_id: str, attempt: int):
        self._emit = emit
        self.run_name = run_name
        self.action_id = action_id
        self.attempt = attempt
        self._partial: dict[str, str] = {}

    def write(self, stream: str, text: str) -> None:
        if not text:
            return
        pending = self._partial.pop(stream, "") + text
        *lines, rest = pending.split("\n")
        now = time.time()
        # Whole lines are masked, so a secret printed in several writes is still found.
        for line in lines:
            self._emit(LogRecord(self.run_name, self.action_id, self.attempt, now, stream, masking.mask(line)))
        if rest:
            self._partial[stream] = rest

    def close(self) -> None:
        for stream, rest in self._partial.items():
            self._emit(LogRecord(self.run_name, self.action_id, self.attempt, time.time(), stream, masking.mask(rest)))
        self._partial.clear()


_HOLD_AT_MOST = 8192


class _StreamProxy(io.TextIOBase):
    def __init__(self, original: TextIO, name: str):
        self._original = original
        self._name = name
        self._pending = ""  # the unfinished line, held back while secrets are masked

    def write(self, s: str) -> int:
        sink = current_sink.get()
        if sink is not None:
            sink.write(self._name, s)
        if not masking.active() and not self._pending:
            return self._original.write(s)
        # In a process that holds secrets, shown a whole line at a time, masked: a value printed in
        # pieces is found too.
        text = self._pending + s
        cut = max(text.rfind("\n"), text.rfind("\r")) + 1
        if cut == 0 and len(text) < _HOLD_AT_MOST:
            self._pending = text
            return len(s)
        if cut == 0:
            cut = len(text)
        self._pending = text[cut:]
        self._original.write(masking.mask(text[:cut]))
        return len(s)

    def flush(self) -> None:
        if self._pending:
            text, self._pending = self._pending, ""
            self._original.write(masking.mask(text))
        self._original.flush()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _SinkHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sink = current_sink.get()
        if sink is not None:
            try:
                sink.write("log", self.format(record) + "\n")
            except Exception:
                self.handleError(record)
        # Being a handler of the root logger switches off logging's last-resort printing to stderr;
        # keep doing it when this is the only handler, so warnings do not silently vanish.
        last_resort = logging.lastResort
        if last_resort is not None and record.levelno >= last_resort.level:
            root = logging.getLogger()
            if all(h is self for h in root.handlers):
                # Shown on stderr but not captured from it: the record is stored once, above.
                token = current_sink.set(None)
                try:
                    last_resort.handle(record)
                finally:
                    current_sink.reset(token)


_HANDLER = _SinkHandler()
_HANDLER.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


def install() -> None:
    """Route output of running actions to their sinks (idempotent; re-wraps a replaced stream)."""
    if not isinstance(sys.stdout, _StreamProxy) and sys.stdout is not None:
        sys.stdout = _StreamProxy(sys.stdout, "stdout")  # type: ignore[assignment]
    if not isinstance(sys.stderr, _StreamProxy) and sys.stderr is not None:
        sys.stderr = _StreamProxy(sys.stderr, "stderr")  # type: ignore[assignment]
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)


USER_LOGGER_NAME = "roost.user"
_LEVELS = {"critical": 50, "error": 40, "warning": 30, "warn": 30, "info": 20, "debug": 10, "notset": 0}


def _env_level(var: str, default: int) -> int:
    value = os.environ.get(var, "").strip().lower()
    if value.isdigit():
        return int(value)
    return _LEVELS.get(value, default)


class _UserLogHandler(logging.Handler):
    """The one handler of ``flyte.logger``: each line to the running action's log and to stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            sink = current_sink.get()
            if sink is not None:
                sink.write("log", line)
            # The original stream: through the proxy the line would be stored a second time as stderr.
            stream = sys.stderr
            if isinstance(stream, _StreamProxy):
                stream = stream._original
            if stream is not None:
                stream.write(masking.mask(line))
                stream.flush()
        except Exception:
            self.handleError(record)


def _make_user_logger() -> logging.Logger:
    user = logging.getLogger(USER_LOGGER_NAME)
    user.setLevel(_env_level("USER_LOG_LEVEL", logging.INFO))
    # Not through the root logger: its handler would store the line again, and a program's own
    # root configuration would print it twice (Flyte's user logger does not propagate either).
    user.propagate = False
    if not any(isinstance(h, _UserLogHandler) for h in user.handlers):
        handler = _UserLogHandler()
        handler.setFormatter(_HANDLER.formatter)
        user.addHandler(handler)
    return user


user_logger = _make_user_logger()
