"""Calls of deployed tasks made by a run's actions on a roost server: the controller hands each to the
server (``CallDeployed``), which runs it in the bundle host of the task's code as a child action of the
same run, and hears how it ended (``DeployedCallEnded``).

The bundle host sets the channel to the server; elsewhere (a local run) there is none, and such a call
is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from roost.runtime.messages import CallDeployed, DeployedCallEnded

_send: Callable[[CallDeployed], None] | None = None
_waiting: dict[tuple[str, str], asyncio.Future[DeployedCallEnded]] = {}


def set_channel(send: Callable[[CallDeployed], None]) -> None:
    global _send
    _send = send


def available() -> bool:
    return _send is not None


async def call(request: CallDeployed) -> DeployedCallEnded:
    """Send ``request``; how its action ended. Runs on the runtime loop."""
    assert _send is not None
    future: asyncio.Future[DeployedCallEnded] = asyncio.get_running_loop().create_future()
    _waiting[(request.run, request.action_id)] = future
    try:
        _send(request)
        return await future
    finally:
        _waiting.pop((request.run, request.action_id), None)


def deliver(reply: DeployedCallEnded) -> None:
    """The server's answer to a call (on the runtime loop)."""
    future = _waiting.get((reply.run, reply.action_id))
    if future is not None and not future.done():
        future.set_result(reply)
