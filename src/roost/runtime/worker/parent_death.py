"""A child process that ends with the process that started it."""

from __future__ import annotations

import contextlib
import ctypes
import signal


def die_with_parent() -> None:
    """In a child, before it starts (``preexec_fn``): SIGTERM when its parent ends, even a killed one
    (Linux); elsewhere the SIGTERM sent on stop is all there is."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
