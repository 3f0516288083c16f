"""Where ``flyte.remote``'s handles read runs from: the run store of ROOST_HOME, or -- after
``init(endpoint=...)`` -- a roost server's API, which answers the same calls."""

from __future__ import annotations

from typing import Any, Protocol

from roost.runtime.runs import server_client
from roost.store.open_stores import get_store
from roost.store.records import ActionRecord, AttemptRecord, LogRecord, RunRecord


class RunReader(Protocol):
    """The reads (and abort requests) of ``Run`` / ``Action`` handles: a ``RunStore`` or a
    ``ServerClient``. ``path`` names where they come from, in messages."""

    @property
    def path(self) -> Any: ...

    def get_run(self, name: str) -> RunRecord | None: ...

    def list_runs(self, limit: int = 50, phase: str | None = None, task_name: str | None = None) -> list[RunRecord]: ...

    def get_action(self, run_name: str, action_id: str) -> ActionRecord | None: ...

    def list_actions(self, run_name: str, phases: tuple[str, ...] = ()) -> list[ActionRecord]: ...

    def list_attempts(self, run_name: str, action_id: str) -> list[AttemptRecord]: ...

    def list_logs(self, run_name: str, action_id: str | None = None, attempt: int | None = None) -> list[LogRecord]: ...

    def request_abort(self, run_name: str) -> bool: ...

    def request_action_abort(self, run_name: str, action_id: str, reason: str) -> None: ...


def reader() -> RunReader:
    """The configured server's API when there is one, else the local run store."""
    client = server_client.configured()
    return client if client is not None else get_store()
