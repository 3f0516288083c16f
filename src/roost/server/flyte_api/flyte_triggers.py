"""Triggers the Flyte client deploys (``flyte deploy`` of a task with ``triggers=``, ``flyte.remote.Trigger``):
kept beside the deployed tasks, fired by this server, and ``TriggerService``.

A schedule fires by the rules of roost's own triggers (``server/schedules.py``): a ``FixedRate`` one
interval after activation, a ``Cron`` at its wall times; a time missed while the server was down fires
once when it is back, never in a burst; each firing is a run named after the task, the trigger and the
time (``scheduler.fire_run_name``), so a time fires at most once. The run is the deployed version's
task with the trigger's inputs and run settings, its start time the scheduled time -- the Flyte runtime
binds a ``TriggerTime`` input from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import identifier_pb2
from flyteidl2.task import common_pb2, task_definition_pb2
from flyteidl2.trigger import trigger_definition_pb2 as trigger_pb2
from flyteidl2.trigger import trigger_service_pb2
from flyteidl2.trigger.trigger_service_connect import TriggerService

from roost.server.flyte_api.flyte_actions import FlyteRuns
from roost.server.flyte_api.flyte_tables import SqliteTable
from roost.server.flyte_api.proto_views import timestamp
from roost.server.flyte_api.task_services import FlyteTaskTable
from roost.server.scheduler import MAX_SLEEP_S, fire_run_name
from roost.server.schedules import Clock, last_time, next_time

logger = logging.getLogger("roost.server")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS flyte_triggers (
    org TEXT NOT NULL, project TEXT NOT NULL, domain TEXT NOT NULL, task TEXT NOT NULL, name TEXT NOT NULL,
    version TEXT NOT NULL, spec BLOB NOT NULL, automation BLOB NOT NULL, active INTEGER NOT NULL,
    deployed_at REAL NOT NULL, updated_at REAL NOT NULL, since REAL NOT NULL, last_fired REAL,
    PRIMARY KEY (org, project, domain, task, name)
)
"""
_UNITS = {
    common_pb2.FIXED_RATE_UNIT_MINUTE: 1,
    common_pb2.FIXED_RATE_UNIT_HOUR: 60,
    common_pb2.FIXED_RATE_UNIT_DAY: 24 * 60,
}


@dataclass
class FlyteTrigger:
    org: str
    project: str
    domain: str
    task: str
    name: str
    version: str
    spec: trigger_pb2.TriggerSpec
    automation: common_pb2.TriggerAutomationSpec
    active: bool
    deployed_at: float
    updated_at: float
    since: float
    last_fired: float | None

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.org, self.project, self.domain, self.task, self.name)

    def schedule(self) -> dict[str, Any] | None:
        """The schedule as ``schedules.py`` reads it (None: fired on demand only)."""
        if not self.automation.HasField("schedule"):
            return None
        s = self.automation.schedule
        if s.HasField("rate"):
            minutes = s.rate.value * _UNITS.get(s.rate.unit, 1)
            start = s.rate.start_time.ToNanoseconds() / 1e9 if s.rate.HasField("start_time") else None
            return {"kind": "fixed_rate", "interval_minutes": minutes, "start_time": start, "anchor": self.since}
        if s.HasField("cron"):
            return {"kind": "cron", "expression": s.cron.expression, "timezone": s.cron.timezone or "UTC"}
        if s.cron_expression:
            return {"kind": "cron", "expression": s.cron_expression, "timezone": "UTC"}
        return None

    def trigger_id(self) -> identifier_pb2.TriggerIdentifier:
        name = identifier_pb2.TriggerName(
            org=self.org, project=self.project, domain=self.domain, name=self.name, task_name=self.task
        )
        return identifier_pb2.TriggerIdentifier(name=name, revision=1)

    def status(self) -> trigger_pb2.TriggerStatus:
        status = trigger_pb2.TriggerStatus()
        status.deployed_at.CopyFrom(timestamp(self.deployed_at))
        status.updated_at.CopyFrom(timestamp(self.updated_at))
        if self.last_fired is not None:
            status.triggered_at.CopyFrom(timestamp(self.last_fired))
        return status


class FlyteTriggerTable(SqliteTable):
    SCHEMA = _SCHEMA

    def put(self, trigger: FlyteTrigger) -> None:
        """Deploy a trigger; one deployed before keeps its last firing (and its activation time while it
        stays active)."""
        with self._locked() as db:
            row = db.execute(
                "SELECT active, since, last_fired, deployed_at FROM flyte_triggers "
                "WHERE org=? AND project=? AND domain=? AND task=? AND name=?",
                trigger.key,
            ).fetchone()
            if row is not None:
                trigger.last_fired = row[2]
                trigger.deployed_at = row[3]
                if bool(row[0]) and trigger.active:
                    trigger.since = row[1]
            db.execute(
                "INSERT OR REPLACE INTO flyte_triggers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *trigger.key,
                    trigger.version,
                    trigger.spec.SerializeToString(deterministic=True),
                    trigger.automation.SerializeToString(deterministic=True),
                    int(trigger.active),
                    trigger.deployed_at,
                    trigger.updated_at,
                    trigger.since,
                    trigger.last_fired,
                ),
            )

    def all(self) -> list[FlyteTrigger]:
        with self._locked() as db:
            rows = db.execute("SELECT * FROM flyte_triggers ORDER BY task, name").fetchall()
        return [_trigger(r) for r in rows]

    def get(self, name: Any) -> FlyteTrigger | None:
        for t in self.all():
            if (t.project, t.domain, t.name) == (name.project, name.domain, name.name) and (
                not name.task_name or t.task == name.task_name
            ):
                return t
        return None

    def set_active(self, trigger: FlyteTrigger, active: bool, now: float) -> None:
        with self._locked() as db:
            db.execute(
                "UPDATE flyte_triggers SET active=?, updated_at=?, since=CASE WHEN ? THEN ? ELSE since END "
                "WHERE org=? AND project=? AND domain=? AND task=? AND name=?",
                (int(active), now, int(active and not trigger.active), now, *trigger.key),
            )

    def fired(self, trigger: FlyteTrigger, at: float) -> None:
        with self._locked() as db:
            db.execute(
                "UPDATE flyte_triggers SET last_fired=? WHERE org=? AND project=? AND domain=? AND task=? AND name=?",
                (at, *trigger.key),
            )

    def delete(self, trigger: FlyteTrigger) -> None:
        with self._locked() as db:
            db.execute(
                "DELETE FROM flyte_triggers WHERE org=? AND project=? AND domain=? AND task=? AND name=?", trigger.key
            )


def _trigger(row: tuple[Any, ...]) -> FlyteTrigger:
    spec = trigger_pb2.TriggerSpec()
    spec.ParseFromString(row[6])
    automation = common_pb2.TriggerAutomationSpec()
    automation.ParseFromString(row[7])
    return FlyteTrigger(*row[:6], spec, automation, bool(row[8]), row[9], row[10], row[11], row[12])


class FlyteScheduler:
    """Fires the active schedule triggers of ``table`` as Flyte runs."""

    def __init__(self, table: FlyteTriggerTable, tasks: FlyteTaskTable, runs: FlyteRuns, clock: Clock | None = None):
        self.table = table
        self.tasks = tasks
        self.runs = runs
        self.clock = clock or Clock()
        self._wake = asyncio.Event()

    def changed(self) -> None:
        self._wake.set()

    def deploy(self, task_id: Any, triggers: list[Any]) -> None:
        """The triggers a ``DeployTask`` carries, registered for that version of the task."""
        now = self.clock.now()
        for t in triggers:
            spec = trigger_pb2.TriggerSpec(active=t.spec.active, task_version=task_id.version)
            if t.spec.HasField("inputs"):
                spec.inputs.CopyFrom(t.spec.inputs)
            if t.spec.HasField("offloaded_input_data"):  # the client uploaded them (UploadInputs)
                spec.offloaded_input_data.CopyFrom(t.spec.offloaded_input_data)
            if t.spec.HasField("run_spec"):
                spec.run_spec.CopyFrom(t.spec.run_spec)
            spec.description = t.spec.description
            trigger = FlyteTrigger(
                task_id.org, task_id.project, task_id.domain, task_id.name, t.name, task_id.version,
                spec, t.automation_spec, t.spec.active, now, now, now, None,
            )  # fmt: skip
            self.table.put(trigger)
        self.changed()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            wait = MAX_SLEEP_S
            now = self.clock.now()
            for trigger in self.table.all():
                schedule = trigger.schedule() if trigger.active else None
                if schedule is None:
                    continue
                try:
                    due = next_time(schedule, trigger.last_fired or trigger.since)
                    if due is not None and due <= now:
                        at = last_time(schedule, now)  # missed times fire once, as the latest
                        if at is not None:
                            self.fire(trigger, at)
                            due = next_time(schedule, at)
                    if due is not None:
                        wait = min(wait, self.clock.real_seconds(max(due - self.clock.now(), 0.0)) + 0.01)
                except Exception:  # one bad trigger must not stop the others
                    logger.exception("flyte trigger %s of %s could not fire", trigger.name, trigger.task)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def fire(self, trigger: FlyteTrigger, at: float) -> str:
        """Start the run of ``trigger`` for the time ``at`` (none if it exists); its name."""
        name = fire_run_name(trigger.task, trigger.name, at)
        self.table.fired(trigger, at)
        if self.runs.get(name) is not None or self.runs.store.get_run(name) is not None:
            return name
        task_id = task_definition_pb2.TaskIdentifier(
            org=trigger.org, project=trigger.project, domain=trigger.domain, name=trigger.task, version=trigger.version
        )
        found = self.tasks.get(task_id)
        if found is None:
            raise LookupError(f"task {trigger.task} version {trigger.version} is not deployed")
        spec = task_definition_pb2.TaskSpec()
        spec.ParseFromString(found[0])
        run_spec = trigger.spec.run_spec if trigger.spec.HasField("run_spec") else None
        self.runs.create_run(
            name, trigger.org, trigger.project, trigger.domain, spec, self._inputs(trigger), run_spec,
            start_time=at, trigger=f"{trigger.task}/{trigger.name}",
        )  # fmt: skip
        logger.info("flyte trigger %s of %s fired: run %s", trigger.name, trigger.task, name)
        return name

    def _inputs(self, trigger: FlyteTrigger) -> str:
        """Where the trigger's inputs are: uploaded by the client, or written here from the spec."""
        if trigger.spec.HasField("offloaded_input_data") and trigger.spec.offloaded_input_data.uri:
            return trigger.spec.offloaded_input_data.uri
        data = trigger.spec.inputs.SerializeToString(deterministic=True)
        digest = hashlib.sha256(data).hexdigest()
        folder = self.runs.data_root / trigger.org / trigger.project / trigger.domain / "_inputs" / digest
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "inputs.pb").write_bytes(data)
        return f"file://{folder / 'inputs.pb'}"


class Triggers(TriggerService):
    def __init__(self, scheduler: FlyteScheduler):
        self.scheduler = scheduler
        self.table = scheduler.table

    def _find(self, name: Any) -> FlyteTrigger:
        trigger = self.table.get(name)
        if trigger is None:
            raise ConnectError(Code.NOT_FOUND, f"no trigger {name.name!r} of task {name.task_name!r}")
        return trigger

    def _details(self, t: FlyteTrigger) -> trigger_pb2.TriggerDetails:
        spec = trigger_pb2.TriggerSpec()
        spec.CopyFrom(t.spec)
        spec.active = t.active
        return trigger_pb2.TriggerDetails(
            id=t.trigger_id(), spec=spec, status=t.status(), automation_spec=t.automation, description=spec.description
        )

    async def get_trigger_details(self, request: Any, ctx: Any) -> Any:
        return trigger_service_pb2.GetTriggerDetailsResponse(trigger=self._details(self._find(request.name)))

    async def deploy_trigger(self, request: Any, ctx: Any) -> Any:
        n = request.name
        task_id = task_definition_pb2.TaskIdentifier(
            org=n.org, project=n.project, domain=n.domain, name=n.task_name, version=request.spec.task_version
        )
        if not n.task_name or self.scheduler.tasks.get(task_id) is None:
            raise ConnectError(Code.NOT_FOUND, f"task {n.task_name!r} version {task_id.version!r} is not deployed")
        task_trigger = task_definition_pb2.TaskTrigger(name=n.name, automation_spec=request.automation_spec)
        task_trigger.spec.active = request.spec.active
        task_trigger.spec.inputs.CopyFrom(request.spec.inputs)
        task_trigger.spec.offloaded_input_data.CopyFrom(request.spec.offloaded_input_data)
        task_trigger.spec.run_spec.CopyFrom(request.spec.run_spec)
        task_trigger.spec.description = request.spec.description
        self.scheduler.deploy(task_id, [task_trigger])
        return trigger_service_pb2.DeployTriggerResponse(trigger=self._details(self._find(n)))

    async def list_triggers(self, request: Any, ctx: Any) -> Any:
        p = request.project_id
        found = [
            t
            for t in self.table.all()
            if (not p.name or t.project == p.name) and (not p.domain or t.domain == p.domain)
        ]
        if request.HasField("task_name") and request.task_name.name:
            found = [t for t in found if t.task == request.task_name.name]
        triggers = [
            trigger_pb2.Trigger(id=t.trigger_id(), status=t.status(), active=t.active, automation_spec=t.automation)
            for t in found
        ]
        return trigger_service_pb2.ListTriggersResponse(triggers=triggers)

    async def update_triggers(self, request: Any, ctx: Any) -> Any:
        found = [self._find(n) for n in request.names]
        for t in found:
            self.table.set_active(t, request.active, self.scheduler.clock.now())
        self.scheduler.changed()
        return trigger_service_pb2.UpdateTriggersResponse()

    async def delete_triggers(self, request: Any, ctx: Any) -> Any:
        for t in [self._find(n) for n in request.names]:
            self.table.delete(t)
        self.scheduler.changed()
        return trigger_service_pb2.DeleteTriggersResponse()
