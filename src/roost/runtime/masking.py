"""Masking of secret values in what an action's process reports: output lines, errors, tracebacks.

A worker knows the secrets it was granted (``Setup.secrets``); it registers their values here when it
applies them, and from then on every captured output line (``logs.LogSink``) and every error that
leaves the process (``wire.error_to_wire``) has each value -- and its common encodings -- replaced by
``***``, as CI systems do. Masking where the values are known means they never reach the controller,
the store or a terminal through roost.

Not masked: values shorter than ``MIN_LENGTH`` characters (masking ``"on"`` or ``"1"`` would garble
every line without protecting anything), other transformations of a value (reversed, split, hashed,
hex-encoded...), and what a task returns or passes to another task as an input -- outputs are data,
stored as the task produced them.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 4

_lock = threading.Lock()
_values: dict[str, int] = {}  # value -> how many grants registered it
_pattern: re.Pattern[str] | None = None
_forms: frozenset[bytes] = frozenset()


def variants(value: str) -> set[str]:
    """The forms of ``value`` that are masked: itself, each of its lines, base64 (standard and URL-safe,
    with and without padding) and URL-encoding -- each only when at least ``MIN_LENGTH`` long."""
    forms = {value}
    forms.update(line for line in value.splitlines() if line.strip())
    raw = value.encode()
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode()
        forms.update((text, text.rstrip("=")))
    forms.update((quote(value, safe=""), quote_plus(value, safe="")))
    return {f for f in forms if len(f) >= MIN_LENGTH}


def _rebuild() -> None:
    global _pattern, _forms
    forms: set[str] = set()
    for value in _values:
        forms |= variants(value)
    _forms = frozenset(f.encode() for f in forms)
    # Longest first: a value that contains another is masked whole.
    ordered = sorted(forms, key=len, reverse=True)
    _pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None


def register(values: Iterable[str]) -> None:
    """Mask ``values`` in this process from now on (until ``unregister``)."""
    with _lock:
        for value in values:
            if value:
                _values[value] = _values.get(value, 0) + 1
        _rebuild()


def unregister(values: Iterable[str]) -> None:
    with _lock:
        for value in values:
            count = _values.get(value, 0) - 1
            if count > 0:
                _values[value] = count
            else:
                _values.pop(value, None)
        _rebuild()


def active() -> bool:
    return _pattern is not None


def mask(text: str) -> str:
    """``text`` with every registered secret value (and its encodings) replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def mask_optional(text: str | None) -> str | None:
    return None if text is None else mask(text)


def contains_secret(data: bytes) -> bool:
    """Whether ``data`` (a pickled exception, say) holds a registered value in any masked form."""
    return any(form in data for form in _forms)
