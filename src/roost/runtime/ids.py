"""Deterministic action identity, and run names (generated, and the rule a given one must follow).

A child action's id is derived from its parent's id, the hash of its inputs, the task name and the
call's position among the parent's identical calls, so re-running a run finds the same ids again:
that is what lets a recovered run reuse the outputs of actions that already succeeded.
"""

from __future__ import annotations

import hashlib
import re
import secrets

ROOT_ACTION = "a0"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
# Two base-36 digits at a time: half the divisions (ids are made for every action).
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def base36(number: int) -> str:
    if number == 0:
        return "0"
    pairs = []
    while number:
        number, rem = divmod(number, 1296)
        pairs.append(_PAIRS[rem])
    return "".join(reversed(pairs)).lstrip("0")


def child_action_id(parent_id: str, inputs_hash: str, task_name: str, seq: int, group: str | None = None) -> str:
    """MD5 of ``"{parent}-{inputs_hash}-{task}-{seq}[-{group}]"``, written in base 36."""
    key = f"{parent_id}-{inputs_hash}-{task_name}-{seq}"
    if group:
        key += f"-{group}"
    return base36(int.from_bytes(hashlib.md5(key.encode()).digest(), "big"))


def new_run_name() -> str:
    """A short random run name: ``r`` and 11 base-36 characters (about 57 bits)."""
    return "r" + base36(secrets.randbits(57)).rjust(11, "0")


# A run name becomes a folder name (ROOST_HOME/runs/<name>, secret mounts, reports, checkpoints), so it
# may hold no path separator and cannot be "." or "..". SPEC states no rule for run names; this one
# admits every name roost generates (``r…``, ``<name>-r<n>``).
RUN_NAME_MAX = 100
RUN_NAME_RULE = (
    f"lowercase letters, digits, '-', '_' and '.', starting with a letter or a digit, at most {RUN_NAME_MAX} characters"
)
_RUN_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


def check_run_name(name: object) -> str:
    """``name`` when it is a valid run name; ValueError stating the rule otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"a run name must be a string ({RUN_NAME_RULE}), got {type(name).__name__}")
    if len(name) > RUN_NAME_MAX or not _RUN_NAME.fullmatch(name):
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise ValueError(f"invalid run name {shown!r}: a run name has {RUN_NAME_RULE}")
    return name
