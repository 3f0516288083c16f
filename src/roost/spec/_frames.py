"""Finding the user's code on the stack, so warnings and records point at it rather than at roost."""

from __future__ import annotations

import sys

# The roost package directory: frames from files under it are roost's own, not the user's.
_PACKAGE_DIR = __file__.rsplit("spec", 1)[0]


def _is_roost(filename: str) -> bool:
    # "<string>" frames are the __init__ methods that dataclasses generate for roost's classes.
    return filename.startswith(_PACKAGE_DIR) or filename.startswith("<")


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` that points at the first frame outside roost."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and _is_roost(frame.f_code.co_filename):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def caller_file() -> str | None:
    """The first source file on the stack outside roost (where a declaration was written)."""
    frame = sys._getframe(1)
    while frame is not None:
        if not _is_roost(frame.f_code.co_filename):
            return frame.f_code.co_filename
        frame = frame.f_back  # type: ignore[assignment]
    return None
