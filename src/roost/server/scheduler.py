"""The server's trigger scheduler: it fires each active schedule trigger at its times, and backfills.

Each firing is a run named after the trigger and its scheduled time (``fire_run_name``), so a time
fires at most once whatever happens: a firing whose run exists already is not started again, and
the trigger's ``last_fired`` is written only after its run was started.

Missed times (the server was stopped, or the machine slept): the latest missed time fires once when
the server is back, the earlier ones never -- a schedule never fires in a burst. ``backfill`` runs the
missed times on request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re

import msgpack

from roost.runtime import messages
from roost.runtime.ids import RUN_NAME_MAX
from roost.server.hosts import Hosts
from roost.server.registry import TaskRegistry
from roost.server.schedules import Clock, is_schedule, last_time, next_time, times_between, utc
from roost.server.submissions import Refused, Submissions
from roost.server.trigger_table import DeployedTrigger, TriggerTable
from roost.store.run_store import RunStore

logger = logging.getLogger("roost.server")

# The scheduler looks again at least this often (real seconds), whatever it expects.
MAX_SLEEP_S = 30.0
MAX_BACKFILL = 1000
# The settings of a trigger that its runs take, as with_runcontext gives them.
RUN_OPTIONS = ("env_vars", "overwrite_cache", "max_action_concurrency", "custom_context")


def fire_run_name(task: str, trigger: str, at: float) -> str:
    """The run of ``trigger`` of ``task`` for the scheduled time ``at``: one name per firing."""
    stamp = utc(at).strftime("%Y%m%dt%H%M%Sz")
    base = re.sub(r"[^a-z0-9._-]+", "-", f"{task}-{trigger}".lower()).strip("-._") or "trigger"
    room = RUN_NAME_MAX - len(stamp) - 1
    if len(base) > room:  # long names keep a digest of the whole so that two never meet
        digest = hashlib.sha256(f"{task}/{trigger}".encode()).hexdigest()[:8]
        base = f"{base[: room - 9].rstrip('-._')}-{digest}"
    return f"{base}-{stamp}"


class Scheduler:
    def __init__(
        self,
        triggers: TriggerTable,
        registry: TaskRegistry,
        store: RunStore,
        submissions: Submissions,
        hosts: Hosts,
        clock: Clock | None = None,
    ):
        self.triggers = triggers
        self.registry = registry
        self.store = store
        self.submissions = submissions
        self.hosts = hosts
        self.clock = clock or Clock()
        self._changed = asyncio.Event()
        self._backfills: set[asyncio.Task[None]] = set()

    def changed(self) -> None:
        """Triggers were deployed, activated or deleted: look again now."""
        self._changed.set()

    async def run(self) -> None:
        while True:
            try:
                wait = await self.tick()
            except Exception:
                logger.exception("the trigger scheduler failed; trying again in %.0f s", MAX_SLEEP_S)
                wait = MAX_SLEEP_S
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait)
            self._changed.clear()

    async def tick(self) -> float:
        """Fire what is due; how many real seconds until something may be due next."""
        wait = MAX_SLEEP_S
        for trigger in await asyncio.to_thread(self.triggers.list, active_only=True):
            automation = trigger.automation
            if not is_schedule(automation):
                continue
            now = self.clock.now()
            due = last_time(automation, now)
            if due is not None and due > trigger.since:
                await self.fire(trigger, due)
            upcoming = next_time(automation, max(trigger.since, now))
            if upcoming is not None:
                wait = min(wait, self.clock.real_seconds(upcoming - self.clock.now()))
        return max(wait, 0.01)

    async def fire(self, trigger: DeployedTrigger, at: float, record: bool = True) -> str:
        """Start the run of ``trigger`` for the time ``at`` unless it exists; its name."""
        name = fire_run_name(trigger.task, trigger.name, at)
        error = None
        if await asyncio.to_thread(self.store.get_run, name) is None:
            try:
                await self.submissions.start(self.hosts, self.submission(trigger, name, at))
                logger.info("trigger %s/%s fired for %s: run %s", trigger.task, trigger.name, utc(at), name)
            except Refused as e:
                if e.status != 409:  # 409: its run exists already, it fired
                    error = str(e)
                    logger.error("trigger %s/%s could not start run %s: %s", trigger.task, trigger.name, name, e)
        if record:
            await asyncio.to_thread(self.triggers.fired, trigger.task, trigger.name, at, error)
        return name

    def submission(self, trigger: DeployedTrigger, name: str, at: float) -> messages.SubmitRun:
        task = self.registry.get(trigger.task, trigger.version)
        if task is None:
            raise Refused(f"version {trigger.version} of task {trigger.task} is not deployed here", 404)
        inputs = trigger.inputs()
        if trigger.spec.get("time_input"):
            inputs[trigger.spec["time_input"]] = utc(at)
        options = {k: v for k, v in trigger.spec.get("options", {}).items() if k in RUN_OPTIONS}
        return messages.SubmitRun(
            name=name,
            bundle=task.bundle,
            module=task.module,
            task=task.name,
            inputs=b"",
            inputs_hash="",
            options=options,
            version=task.version,
            values=msgpack.packb(inputs, use_bin_type=True, datetime=True),
            trigger=f"{trigger.task}/{trigger.name}",
        )

    def plan_backfill(self, trigger: DeployedTrigger, start: float, end: float) -> dict[str, list[tuple[str, float]]]:
        """The times of ``trigger``'s schedule in ``(start, end]``: ``missing`` (no run yet) and
        ``existing``, each as ``(run name, time)``."""
        if not is_schedule(trigger.automation):
            raise ValueError(f"trigger {trigger.name} of {trigger.task} is not a schedule: it has no times to backfill")
        times = list(times_between(trigger.automation, start, end, MAX_BACKFILL + 1))
        if len(times) > MAX_BACKFILL:
            raise ValueError(f"that is more than {MAX_BACKFILL} runs: backfill a shorter period at a time")
        planned: dict[str, list[tuple[str, float]]] = {"missing": [], "existing": []}
        for at in times:
            name = fire_run_name(trigger.task, trigger.name, at)
            planned["existing" if self.store.get_run(name) is not None else "missing"].append((name, at))
        return planned

    def start_backfill(
        self, trigger: DeployedTrigger, planned: dict[str, list[tuple[str, float]]], concurrency: int
    ) -> None:
        """Start the missing runs of a plan in the background, at most ``concurrency`` running at once."""
        if planned["missing"]:
            # Kept until it ends (the loop keeps only weak references to tasks); it drops itself.
            self._backfills.add(asyncio.ensure_future(self._backfill(trigger, planned["missing"], concurrency)))

    async def _backfill(self, trigger: DeployedTrigger, missing: list[tuple[str, float]], concurrency: int) -> None:
        slots = asyncio.Semaphore(concurrency)

        async def one(at: float) -> None:
            async with slots:
                name = await self.fire(trigger, at, record=False)
                await self._ended(name)

        try:
            await asyncio.gather(*(one(at) for _, at in missing), return_exceptions=True)
            logger.info("backfill of %s/%s: %d runs done", trigger.task, trigger.name, len(missing))
        finally:
            self._backfills.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _ended(self, name: str) -> None:
        ending = self.hosts.ending(name)
        while True:
            record = await asyncio.to_thread(self.store.get_run, name)
            if record is None or record.phase.is_terminal:
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ending.wait(), 1.0)
