"""The policies around executing an action, one small module each, composed into one pipeline.

A policy is an async callable ``policy(action, call_next)``: it may answer without calling the rest
(recovery, cache), bound it in time (deadline, runtime limit), repeat it (retries) or hold it back
(admission). ``compose`` chains them once per run.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from roost.runtime.engine.actions import ActionRun

Next = Callable[[ActionRun], Awaitable[Any]]


class Policy(Protocol):
    async def __call__(self, action: ActionRun, call_next: Next) -> Any: ...


def compose(policies: Sequence[Policy], terminal: Next) -> Next:
    """``policies[0]`` outermost, ``terminal`` innermost."""
    handler = terminal
    for policy in reversed(policies):
        handler = functools.partial(policy, call_next=handler)
    return handler
