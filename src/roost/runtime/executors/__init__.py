"""Executors: where an attempt's code runs (inline in the controller; later processes, pools, Ray).

An executor gets an action whose inputs are ready and returns the Python value the task returned,
or raises what it raised; it enforces ``max_runtime`` the way its isolation allows.
"""

from __future__ import annotations

from typing import Any, Protocol

from roost.runtime.actions import ActionRun


class Executor(Protocol):
    name: str

    async def run(self, action: ActionRun) -> Any: ...
