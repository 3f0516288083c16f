"""``flyte.remote.Trigger``: the triggers deployed on a roost server -- get, list, activate or
deactivate (``update``), delete, and ``create`` one for a task deployed already.

A trigger is named within its task (``name`` + ``task_name``), as Flyte names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from roost.errors import DeploymentError, InitializationError
from roost.runtime.runs import server_client
from roost.runtime.runs.deployed_tasks import Task as DeployedTask
from roost.runtime.runs.deployments import trigger_wire
from roost.runtime.syncify import dual_classmethod
from roost.spec.triggers import Trigger as TriggerSpec


def _client() -> server_client.ServerClient:
    client = server_client.configured()
    if client is None:
        raise InitializationError("NoControlPlane", "user", "triggers live on a roost server: flyte.init(endpoint=...)")
    return client


def _time(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, timezone.utc) if value is not None else None


@dataclass(frozen=True)
class TriggerDetails:
    """A deployed trigger as the server has it: its automation, the version of its task it runs,
    whether it is active, and when it fired last and fires next."""

    __roost_trigger__ = True  # flyte.run(trigger) fires it now

    name: str
    task_name: str
    task_version: str
    is_active: bool
    automation_spec: dict[str, Any]
    description: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    time_input: str | None = None
    last_fired: datetime | None = None
    next_fire: datetime | None = None
    last_error: str | None = None

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> TriggerDetails:
        return cls(
            name=wire["name"],
            task_name=wire["task"],
            task_version=wire["version"],
            is_active=bool(wire["active"]),
            automation_spec=wire["automation"],
            description=wire.get("description") or "",
            inputs=wire.get("inputs") or {},
            time_input=wire.get("time_input"),
            last_fired=_time(wire.get("last_fired")),
            next_fire=_time(wire.get("next_fire")),
            last_error=wire.get("last_error"),
        )

    @property
    def id(self) -> str:
        return f"{self.task_name}/{self.name}"


def fire(trigger: TriggerDetails) -> str:
    """Fire ``trigger`` now (``flyte.run(trigger)``), with its own inputs; its run's name."""
    return _client().fire_trigger(trigger.task_name, trigger.name)


class Trigger:
    """Deployed triggers (``flyte.remote.Trigger``)."""

    @staticmethod
    def _get(cls: type[Trigger], *, name: str, task_name: str) -> TriggerDetails:
        found = _client().get_trigger(task_name, name)
        if found is None:
            raise ValueError(f"task {task_name!r} has no trigger {name!r} on {_client().url}")
        return TriggerDetails.from_wire(found)

    @staticmethod
    async def _get_aio(cls: type[Trigger], *, name: str, task_name: str) -> TriggerDetails:
        return Trigger._get(cls, name=name, task_name=task_name)

    get = dual_classmethod(_get, _get_aio)

    @staticmethod
    def _listall(
        cls: type[Trigger], task_name: str | None = None, task_version: str | None = None, limit: int = 100
    ) -> list[TriggerDetails]:
        found = [TriggerDetails.from_wire(t) for t in _client().list_triggers(task_name)]
        return [t for t in found if task_version is None or t.task_version == task_version][:limit]

    @staticmethod
    async def _listall_aio(cls: type[Trigger], *args: Any, **kwargs: Any) -> list[TriggerDetails]:
        return Trigger._listall(cls, *args, **kwargs)

    listall = dual_classmethod(_listall, _listall_aio)

    @staticmethod
    def _update(cls: type[Trigger], name: str, task_name: str, active: bool) -> None:
        """Activate (``active=True``) or deactivate the trigger."""
        _client().set_trigger_active(task_name, name, active)

    @staticmethod
    async def _update_aio(cls: type[Trigger], name: str, task_name: str, active: bool) -> None:
        Trigger._update(cls, name, task_name, active)

    update = dual_classmethod(_update, _update_aio)

    @staticmethod
    def _delete(
        cls: type[Trigger], name: str, task_name: str, project: str | None = None, domain: str | None = None
    ) -> None:
        _client().delete_trigger(task_name, name)

    @staticmethod
    async def _delete_aio(cls: type[Trigger], name: str, task_name: str, **kwargs: Any) -> None:
        Trigger._delete(cls, name, task_name, **kwargs)

    delete = dual_classmethod(_delete, _delete_aio)

    @staticmethod
    def _create(
        cls: type[Trigger], trigger: TriggerSpec, task_name: str, task_version: str | None = None
    ) -> TriggerDetails:
        """Add ``trigger`` to the deployed task ``task_name`` (its newest version unless given)."""
        lazy = (
            DeployedTask.get(task_name, version=task_version)
            if task_version
            else DeployedTask.get(task_name, auto_version="latest")
        )
        details = lazy.fetch()
        declared = {name: bool(info.get("default")) for name, info in details.inputs.items()}
        try:
            wire = trigger_wire(trigger, details.name, declared)
        except ValueError as e:
            raise DeploymentError(str(e)) from None
        return TriggerDetails.from_wire(_client().create_trigger(wire, details.version))

    @staticmethod
    async def _create_aio(cls: type[Trigger], *args: Any, **kwargs: Any) -> TriggerDetails:
        return Trigger._create(cls, *args, **kwargs)

    create = dual_classmethod(_create, _create_aio)
