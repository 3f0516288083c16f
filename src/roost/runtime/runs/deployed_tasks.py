"""``flyte.remote.Task.get`` and ``LazyEntity``: a deployed task by name, fetched from the roost server
when first needed (once, under a lock), and run there with ``flyte.run(lazy, **inputs)``.

The client has no code of a deployed task: its inputs go as plain values (msgpack of name -> value),
which the server's bundle host converts to the declared types -- a dict for a dataclass input, a
list for a list, as ``flyte.run`` accepts them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from roost.errors import InitializationError, RemoteTaskNotFoundError, RemoteTaskUsageError
from roost.runtime import messages, values
from roost.runtime.engine.run_controller import RunOptions
from roost.runtime.runs import server_client
from roost.runtime.runs.handles import Run
from roost.runtime.runs.remote_runs import SUBMITTED_OPTIONS
from roost.runtime.syncify import dual_classmethod
from roost.task import call_handler

AUTO_VERSIONS = ("latest", "current")


@dataclass(frozen=True)
class TaskDetails:
    """A deployed task as the server has it."""

    name: str
    version: str
    env_name: str
    bundle: str | None
    module: str
    inputs: dict[str, Any]
    deployed_at: float

    @property
    def required_args(self) -> list[str]:
        return [name for name, info in self.inputs.items() if not info.get("default")]


class LazyEntity:
    """A deployed task, fetched once when first needed (under a lock), then cached."""

    __roost_remote__ = True  # the runner refuses it in local mode, as Flyte does

    def __init__(self, name: str, version: str | None, overrides: dict[str, Any] | None = None):
        self.name = name
        self._version = version  # None: the newest
        self._overrides = dict(overrides or {})
        self._lock = threading.Lock()
        self._details: TaskDetails | None = None

    def fetch(self) -> TaskDetails:
        with self._lock:
            if self._details is None:
                client = server_client.configured()
                if client is None:
                    raise InitializationError(
                        "NoControlPlane", "user", f"fetching task {self.name!r} needs flyte.init(endpoint=...)"
                    )
                found = client.get_task(self.name, self._version)
                if found is None:
                    which = f"version {self._version!r} of " if self._version else ""
                    raise RemoteTaskNotFoundError(f"{which}task {self.name!r} is not deployed on {client.url}")
                known = TaskDetails.__dataclass_fields__
                self._details = TaskDetails(**{k: v for k, v in found.items() if k in known})
            return self._details

    def override(self, **kwargs: Any) -> LazyEntity:
        """A new LazyEntity with these overrides (applied when it runs)."""
        return LazyEntity(self.name, self._version, {**self._overrides, **kwargs})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Inside a task of a run on a roost server: the deployed task as a child action of the same run
        (``await lazy(x=1)``; keyword inputs only, as Flyte)."""
        handler = call_handler.get()
        if handler is None:
            raise RemoteTaskUsageError(
                f"the deployed task {self.name!r} cannot be called here: run it with flyte.run(task, ...) in "
                "remote mode, or call it from a task of a run on a roost server"
            )
        if args:
            raise TypeError(f"the deployed task {self.name!r} takes keyword inputs only, got {len(args)} positional")
        if self._overrides:
            raise ValueError("a deployed task runs as it was deployed: override() is not supported when calling it")
        return handler.call_deployed(self.name, self._version, kwargs)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"LazyEntity({self.name!r}, version={self._version or 'latest'!r})"


class Task:
    """Deployed tasks (``flyte.remote.Task``)."""

    @staticmethod
    def _get(
        cls: type[Task],
        name: str,
        project: str | None = None,
        domain: str | None = None,
        version: str | None = None,
        auto_version: str | None = None,
    ) -> LazyEntity:
        if version is None and auto_version is None:
            raise ValueError("Task.get needs version= or auto_version= ('latest' or 'current')")
        if auto_version is not None and auto_version not in AUTO_VERSIONS:
            raise ValueError(f"auto_version must be 'latest' or 'current', got {auto_version!r}")
        if version is None and auto_version == "current":
            from roost.runtime.task_api.task_context import current_action

            action = current_action.get()
            if action is None:
                raise ValueError("auto_version='current' takes the calling task's version: call it inside a task")
            version = action.task_context().version or None
        return LazyEntity(name, version)

    @staticmethod
    async def _get_aio(cls: type[Task], name: str, **kwargs: Any) -> LazyEntity:
        return Task._get(cls, name, **kwargs)

    # Nothing is fetched until the entity is run (or ``fetch()`` is called).
    get = dual_classmethod(_get, _get_aio)

    @staticmethod
    def _listall(cls: type[Task], name: str | None = None) -> list[TaskDetails]:
        client = server_client.configured()
        if client is None:
            raise InitializationError("NoControlPlane", "user", "listing deployed tasks needs flyte.init(endpoint=...)")
        known = TaskDetails.__dataclass_fields__
        return [TaskDetails(**{k: v for k, v in t.items() if k in known}) for t in client.list_tasks(name)]

    @staticmethod
    async def _listall_aio(cls: type[Task], name: str | None = None) -> list[TaskDetails]:
        return Task._listall(cls, name)

    listall = dual_classmethod(_listall, _listall_aio)


async def run_deployed(lazy: LazyEntity, name: str | None, options: RunOptions, inputs: dict[str, Any]) -> Run:
    """Run a deployed task on the server (its version's code bundle), with plain input values."""
    if lazy._overrides:
        raise ValueError("a deployed task runs as it was deployed: override() is not supported when running it")
    details = lazy.fetch()
    missing = [arg for arg in details.required_args if arg not in inputs]
    if missing:
        raise TypeError(f"{details.name} is missing inputs: {', '.join(missing)}")
    unknown = sorted(set(inputs) - set(details.inputs))
    if unknown:
        raise TypeError(f"{details.name} has no inputs named {', '.join(unknown)}")
    client = server_client.configured()
    assert client is not None  # fetch() needed it
    run_options = {field: getattr(options, field) for field in SUBMITTED_OPTIONS}
    accepted = client.submit(
        messages.SubmitRun(
            name=name,
            bundle=details.bundle,
            module=details.module,
            task=details.name,
            inputs=b"",
            inputs_hash="",
            options=run_options,
            version=details.version,
            values=values.pack_plain(inputs),
        )
    )
    return Run(client, accepted.name, None, options.preserve_original_types)  # type: ignore[arg-type]
