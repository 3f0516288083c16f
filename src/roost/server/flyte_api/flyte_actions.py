"""The runs the unmodified Flyte client creates on this server, and their actions, as they go.

A run starts with its root action ``a0`` (``RunService.CreateRun``); a running action's own controller
adds children (``QueueService.EnqueueAction``) and watches them (``StateService.Watch``). Each action runs
as attempts (``action_launch.py``) until one succeeds, the template's retries are spent, or it is
aborted; its phase, attempts and log lines are recorded in roost's run store as they change, so
``roost get``, the console and run URLs show these runs like any other (their ``mode`` is ``flyte``).
What the Flyte protocol needs beyond the store -- the task specs, where inputs and outputs live, the
errors as the runtime wrote them -- is kept here, in memory, for the server's lifetime.

Data lives under the server's blob root (``file://``): each action's attempt writes its outputs (or
``error.pb``) under ``<run base>/<action>/<attempt>``, the layout the Flyte runtime reads its children's
errors from.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flyteidl2.common import phase_pb2
from flyteidl2.core import execution_pb2
from flyteidl2.task import run_pb2, task_definition_pb2

from roost.runtime.ids import ROOT_ACTION
from roost.server.flyte_api.action_launch import (
    AttemptPlan,
    AttemptProcess,
    LaunchError,
    container_limits,
    entry_point,
    fill,
    runtime_variables,
)
from roost.server.flyte_api.flyte_run_table import FlyteRunTable, attempts_of, error_of, spec_of
from roost.server.flyte_api.flyte_runtimes import FlyteRuntimes
from roost.store.records import ActionPhase, ActionRecord, AttemptRecord, ErrorInfo, LogRecord, RunRecord
from roost.store.secret_store import SecretStore

logger = logging.getLogger("roost.server")

QUEUED = phase_pb2.ACTION_PHASE_QUEUED
INITIALIZING = phase_pb2.ACTION_PHASE_INITIALIZING
RUNNING = phase_pb2.ACTION_PHASE_RUNNING
SUCCEEDED = phase_pb2.ACTION_PHASE_SUCCEEDED
FAILED = phase_pb2.ACTION_PHASE_FAILED
ABORTED = phase_pb2.ACTION_PHASE_ABORTED
TIMED_OUT = phase_pb2.ACTION_PHASE_TIMED_OUT
PAUSED = phase_pb2.ACTION_PHASE_PAUSED
TERMINAL = frozenset({SUCCEEDED, FAILED, ABORTED, TIMED_OUT})
STORE_PHASE = {
    QUEUED: ActionPhase.QUEUED,
    INITIALIZING: ActionPhase.INITIALIZING,
    RUNNING: ActionPhase.RUNNING,
    SUCCEEDED: ActionPhase.SUCCEEDED,
    FAILED: ActionPhase.FAILED,
    ABORTED: ActionPhase.ABORTED,
    TIMED_OUT: ActionPhase.TIMED_OUT,
    PAUSED: ActionPhase.PAUSED,
}
# How many of an attempt's last log lines a failure without error.pb quotes.
TAIL_LINES = 20
MODE = "flyte"


def local_path(uri: str) -> Path:
    """The file a ``file://`` URI of the blob root names."""
    if not uri.startswith("file://"):
        raise ValueError(f"only file:// data is served here, got {uri[:80]!r}")
    return Path(uri[len("file://") :])


def execution_error(code: str, message: str, user: bool) -> execution_pb2.ExecutionError:
    kind = execution_pb2.ExecutionError.USER if user else execution_pb2.ExecutionError.SYSTEM
    return execution_pb2.ExecutionError(code=code, message=message, kind=kind)


@dataclass
class AttemptInfo:
    attempt: int  # from 1
    phase: int
    started_at: float
    ended_at: float | None = None
    error: execution_pb2.ExecutionError | None = None


@dataclass
class FlyteAction:
    run: FlyteRun
    name: str
    parent: str | None
    spec: task_definition_pb2.TaskSpec
    input_uri: str
    output_base: str
    group: str | None
    seq: int
    phase: int = QUEUED
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    error: execution_pb2.ExecutionError | None = None
    output_uri: str | None = None
    abort_reason: str | None = None
    attempts: list[AttemptInfo] = field(default_factory=list)
    logs: list[tuple[float, int, str, str]] = field(default_factory=list)  # (ts, attempt, stream, line)
    process: AttemptProcess | None = None
    # "task" (run here), "trace" (a @flyte.trace call, recorded as its parent ran it) or "condition" (paused
    # until answered); the last two are named by their call.
    kind: str = "task"
    call_name: str | None = None
    condition_type: str | None = None  # bool, int, float or str
    condition_value: Any = None  # the answer, as a literal
    condition_spec: Any = None  # what the runtime asked (ConditionAction), for the clients that answer
    task: asyncio.Task[None] | None = None
    stopping: asyncio.Future[None] | None = None
    background: asyncio.Future[Any] | None = None  # work of its own beside it (a condition's webhook)

    @property
    def template(self) -> Any:
        return self.spec.task_template

    @property
    def task_name(self) -> str:
        return self.call_name or self.template.id.name

    @property
    def short_name(self) -> str:
        return self.spec.short_name or self.task_name.rsplit(".", 1)[-1]


@dataclass
class FlyteRun:
    name: str
    org: str
    project: str
    domain: str
    run_spec: Any
    base: str  # file:// URI: this run's data
    created_at: float = field(default_factory=time.time)
    start_time: float | None = None  # what the runtime is told the run started at (a trigger: its time)
    actions: dict[str, FlyteAction] = field(default_factory=dict)
    tick: asyncio.Event = field(default_factory=asyncio.Event)
    record: RunRecord | None = None
    read_back: bool = False  # a run of an earlier life of the server: its log lines are in the store

    @property
    def root(self) -> FlyteAction:
        return self.actions[ROOT_ACTION]

    def changed(self) -> None:
        """Wake whoever watches this run (each watcher then waits on the new event)."""
        tick, self.tick = self.tick, asyncio.Event()
        tick.set()


class FlyteRuns:
    """The Flyte runs of this server: started, watched, aborted, recorded."""

    def __init__(self, store: Any, home: Path, endpoint: str, flyte_python: str | None):
        self.store = store
        self.home = home
        self.data_root = home / "flyte" / "data"
        self.endpoint = endpoint  # host:port the runtime calls back
        self.runtimes = FlyteRuntimes(home, flyte_python)
        self.runs: dict[str, FlyteRun] = {}  # those of this server's life, and those read back
        self.table = FlyteRunTable(home / "flyte" / "tasks.sqlite")

    def get(self, name: str) -> FlyteRun | None:
        """A run of this server, now or before a restart."""
        run = self.runs.get(name)
        if run is None:
            run = self._load(name)
        return run

    def listed(self, project: str | None, domain: str | None) -> list[FlyteRun]:
        """The runs of a project and domain, newest first."""
        found = (self.get(name) for name in self.table.run_names(project, domain))
        return [run for run in found if run is not None]

    def logs_of(self, action: FlyteAction) -> list[tuple[float, int, str, str]]:
        """The action's log lines: (time, attempt from 1, stream, line)."""
        if action.run.read_back and not action.logs:
            lines = self.store.list_logs(action.run.name, action.name)
            action.logs = [(x.ts, x.attempt + 1, x.stream, x.line) for x in lines]
        return action.logs

    def _load(self, name: str) -> FlyteRun | None:
        """A run the server ran before a restart, as it ended; one the restart cut short is ended now."""
        row = self.table.run_row(name)
        if row is None:
            return None
        _, org, project, domain, created_at, start_time, run_spec_data, base = row
        run_spec = None
        if run_spec_data is not None:
            run_spec = run_pb2.RunSpec()
            run_spec.ParseFromString(run_spec_data)
        run = FlyteRun(name, org, project, domain, run_spec, base, created_at=created_at, start_time=start_time)
        run.record = self.store.get_run(name)
        run.read_back = True
        for r in self.table.action_rows(name):
            (_, action_name, parent, spec, input_uri, output_base, group, seq, call_name, kind, phase, queued_at,
             started_at, ended_at, error, output_uri, abort_reason, attempts) = r  # fmt: skip
            action = FlyteAction(run, action_name, parent, spec_of(spec), input_uri, output_base, group, seq)
            action.call_name, action.kind, action.phase, action.queued_at = call_name, kind, phase, queued_at
            action.started_at, action.ended_at, action.error = started_at, ended_at, error_of(error)
            action.output_uri, action.abort_reason = output_uri, abort_reason
            action.attempts = [AttemptInfo(n, p, s, e, err) for n, p, s, e, err in attempts_of(attempts)]
            run.actions[action_name] = action
        if ROOT_ACTION not in run.actions:
            return None
        self.runs[name] = run
        for action in run.actions.values():
            if action.phase not in TERMINAL:
                self._end(action, FAILED, execution_error("ServerStopped", "the server stopped while it ran", False))
        return run

    # -- starting ---------------------------------------------------------------------------------

    def run_base(self, org: str, project: str, domain: str, run: str) -> str:
        return f"file://{self.data_root / org / project / domain / run}"

    def create_run(
        self,
        name: str,
        org: str,
        project: str,
        domain: str,
        spec: Any,
        input_uri: str,
        run_spec: Any,
        start_time: float | None = None,
        trigger: str | None = None,
    ) -> FlyteRun:
        if self.get(name) is not None or self.store.get_run(name) is not None:
            raise FileExistsError(f"a run named {name!r} exists already")
        run = FlyteRun(name, org, project, domain, run_spec, self.run_base(org, project, domain, name))
        run.start_time = start_time
        options = {"project": project, "domain": domain, "org": org, "client": "flyte"}
        if trigger is not None:
            options["trigger"] = trigger
        self.runs[name] = run
        run.record = RunRecord(
            name=name,
            task_name=spec.task_template.id.name,
            phase=ActionPhase.QUEUED,
            mode=MODE,
            created_at=run.created_at,
            options=json.dumps(options),
        )
        self.store.put_run(run.record)
        self.table.put_run(run)
        self.enqueue(run, ROOT_ACTION, None, spec, input_uri, run.base, None)
        return run

    def enqueue(
        self,
        run: FlyteRun,
        name: str,
        parent: str | None,
        spec: Any,
        input_uri: str,
        output_base: str,
        group: str | None,
    ) -> FlyteAction:
        """Start an action; one already there (the parent's controller asks again after a retry) is
        left as it is."""
        existing = run.actions.get(name)
        if existing is not None:
            return existing
        action = FlyteAction(run, name, parent, spec, input_uri, output_base, group or None, len(run.actions))
        run.actions[name] = action
        self.table.put_action(action, with_spec=True)
        self._record(action)
        action.task = asyncio.ensure_future(self._execute(action))
        run.changed()
        return action

    def record_trace(
        self, run: FlyteRun, name: str, parent: str, trace: Any, input_uri: str, output_base: str, group: str | None
    ) -> FlyteAction:
        """A ``@flyte.trace`` call its parent ran: recorded ended, as the parent reports it (its outputs
        where the parent wrote them), so that a replay of the parent finds it."""
        existing = run.actions.get(name)
        if existing is not None:
            return existing
        action = FlyteAction(
            run, name, parent, task_definition_pb2.TaskSpec(), input_uri, output_base, group or None, len(run.actions)
        )
        action.call_name, action.kind = trace.name, "trace"
        action.phase = trace.phase if trace.phase in TERMINAL else SUCCEEDED
        action.started_at = trace.start_time.ToNanoseconds() / 1e9 if trace.HasField("start_time") else time.time()
        action.ended_at = trace.end_time.ToNanoseconds() / 1e9 if trace.HasField("end_time") else time.time()
        action.output_uri = trace.outputs.output_uri or None
        if action.phase == FAILED:
            action.error = execution_error("TraceFailed", f"the traced call {trace.name} failed", user=True)
        run.actions[name] = action
        self.table.put_action(action, with_spec=True)
        self._record(action)
        run.changed()
        return action

    def record_waiting(
        self, run: FlyteRun, name: str, parent: str, input_uri: str, output_base: str, group: str | None, call: str
    ) -> FlyteAction:
        """A condition's action: paused from now until ``finish_waiting`` (``flyte_conditions.py``)."""
        spec = task_definition_pb2.TaskSpec()
        action = FlyteAction(run, name, parent, spec, input_uri, output_base, group or None, len(run.actions))
        action.kind, action.call_name, action.phase = "condition", call, PAUSED
        action.started_at = time.time()
        run.actions[name] = action
        self.table.put_action(action, with_spec=True)
        self._record(action)
        run.changed()
        return action

    def finish_waiting(self, action: FlyteAction, phase: int, error: execution_pb2.ExecutionError | None) -> None:
        if action.phase not in TERMINAL:
            self._end(action, phase, error)

    # -- running ----------------------------------------------------------------------------------

    def _plan(self, action: FlyteAction, attempt: int, python: str) -> AttemptPlan:
        run = action.run
        template = action.template
        prefix = f"{action.output_base}/{action.name}/{attempt}"
        values = {
            "input": action.input_uri,
            "outputPrefix": prefix,
            "rawOutputDataPrefix": f"{action.output_base}/raw/{action.name}/{attempt}",
            "checkpointOutputPrefix": f"{prefix}/_flytecheckpoints",
            "prevCheckpointPrefix": f"{action.output_base}/{action.name}/{attempt - 1}/_flytecheckpoints"
            if attempt > 1
            else "",
            "runName": run.name,
            "actionName": action.name,
            "runStartTime": datetime.fromtimestamp(run.start_time or run.created_at, timezone.utc).isoformat(),
        }
        container = template.container
        args = entry_point(python, fill(list(container.args), values))
        env = {
            **runtime_variables(python, self.endpoint, run.org, run.project, run.domain),
            "ACTION_NAME": action.name,
            "RUN_NAME": run.name,
            "_U_RUN_BASE": action.output_base,
        }
        for kv in container.env:
            env[kv.key] = kv.value
        if run.run_spec is not None:
            for kv in run.run_spec.envs.values:
                env[kv.key] = kv.value
        env.update(self.secrets_for(list(template.security_context.secrets)))
        memory, cpu = container_limits(container)
        timeout = template.metadata.timeout
        timeout_s = timeout.seconds + timeout.nanos / 1e9 if template.metadata.HasField("timeout") else None
        return AttemptPlan(args, env, memory, cpu, timeout_s or None, f"{run.name}/{action.name}")

    def secrets_for(self, wanted: list[Any]) -> dict[str, str]:
        """The variables that give the secrets a template asks for (from roost's secret store)."""
        if not wanted:
            return {}
        store = SecretStore(home=self.home)
        env: dict[str, str] = {}
        for s in wanted:
            value = store.get(s.key, s.group or None)
            if value is None:
                named = f"{s.group}/{s.key}" if s.group else s.key
                raise LaunchError(
                    f"secret {named!r} is not set on this server (roost secret create / flyte create secret)"
                )
            name = s.env_var or (f"{s.group}_{s.key}" if s.group else s.key).replace("-", "_").upper()
            env[name] = value
        return env

    async def _execute(self, action: FlyteAction) -> None:
        try:
            await self._attempts(action)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a defect here must end the action, not leave it running forever
            logger.exception("flyte action %s/%s failed in the server", action.run.name, action.name)
            if action.phase not in TERMINAL:
                message = f"the server failed running this action ({type(e).__name__}); see the server log"
                self._end(action, FAILED, execution_error("ServerError", message, user=False))

    async def _attempts(self, action: FlyteAction) -> None:
        retries = action.template.metadata.retries.retries
        attempt = 0
        template = action.template
        while True:
            attempt += 1
            try:
                if not template.HasField("container"):
                    raise LaunchError(f"task type {template.type!r} has no container to run; roost runs containers")
                python = self.runtimes.ready(template.metadata.runtime.version)
                if python is None:  # built for this version first, the action initializing meanwhile
                    action.phase = INITIALIZING
                    self._record(action)
                    action.run.changed()
                    python = await self.runtimes.python_for(
                        template.metadata.runtime.version,
                        lambda line, a=attempt: self._log(action, a, "stderr", line),
                    )
                plan = self._plan(action, attempt, python)
            except (LaunchError, ValueError) as e:
                self._end(action, FAILED, execution_error("LaunchFailed", str(e), user=True))
                return
            info = AttemptInfo(attempt, RUNNING, time.time())
            action.attempts.append(info)
            if action.started_at is None:
                action.started_at = info.started_at
            action.phase = RUNNING
            self._record(action)
            action.run.changed()
            action.process = AttemptProcess(plan, lambda stream, line, a=attempt: self._log(action, a, stream, line))
            try:
                end = await action.process.run()
            except LaunchError as e:
                phase, error, recoverable = FAILED, execution_error("LaunchFailed", str(e), user=False), False
            else:
                phase, error, recoverable = self._outcome(action, attempt, plan, end)
            finally:
                action.process = None
            info.phase, info.ended_at, info.error = phase, time.time(), error
            if action.abort_reason is not None:
                self._end(action, ABORTED, execution_error("Aborted", action.abort_reason, user=True))
                return
            if phase == FAILED and recoverable and attempt <= retries:
                self._record_attempt(action, info)
                continue
            if phase == SUCCEEDED:
                action.output_uri = f"{action.output_base}/{action.name}/{attempt}"
            self._end(action, phase, error)
            return

    def _outcome(
        self, action: FlyteAction, attempt: int, plan: AttemptPlan, end: Any
    ) -> tuple[int, execution_pb2.ExecutionError | None, bool]:
        """The attempt's phase, its error, and whether another attempt may follow."""
        prefix = local_path(f"{action.output_base}/{action.name}/{attempt}")
        if end.killed_for == "timeout":
            message = f"the action ran past its timeout of {plan.timeout_s:g}s"
            return TIMED_OUT, execution_error("Timeout", message, True), False
        if end.killed_for == "memory":
            limit = plan.memory or 0
            message = f"the action used more than its memory limit ({limit} bytes)"
            return FAILED, execution_error("OOMKilled", message, True), True
        error_file = prefix / "error.pb"
        if error_file.exists():
            doc = execution_pb2.ErrorDocument()
            doc.ParseFromString(error_file.read_bytes())
            e = doc.error
            user = e.origin != execution_pb2.ExecutionError.SYSTEM
            err = execution_pb2.ExecutionError(
                code=e.code,
                message=e.message,
                kind=execution_pb2.ExecutionError.USER if user else execution_pb2.ExecutionError.SYSTEM,
                error_uri=f"file://{error_file}",
            )
            return FAILED, err, e.kind != execution_pb2.ContainerError.NON_RECOVERABLE
        if end.status == 0 and (prefix / "outputs.pb").exists():
            return SUCCEEDED, None, False
        if end.status == 0 and not len(action.template.interface.outputs.variables):
            return SUCCEEDED, None, False
        tail = [line for _, a, _, line in action.logs if a == attempt][-TAIL_LINES:]
        detail = "; last lines:\n" + "\n".join(tail) if tail else ""
        message = f"the Flyte runtime exited with status {end.status}{detail}"
        return FAILED, execution_error("RuntimeFailed", message, False), True

    def _log(self, action: FlyteAction, attempt: int, stream: str, line: str) -> None:
        ts = time.time()
        action.logs.append((ts, attempt, stream, line))
        self.store.log(LogRecord(action.run.name, action.name, attempt - 1, ts, stream, line))
        action.run.changed()

    def _end(self, action: FlyteAction, phase: int, error: execution_pb2.ExecutionError | None) -> None:
        action.phase, action.error, action.ended_at = phase, error, time.time()
        if action.attempts:
            last = action.attempts[-1]
            last.phase = phase if last.ended_at is None or phase == ABORTED else last.phase
            last.ended_at = last.ended_at or action.ended_at
            self._record_attempt(action, last)
        self._record(action)
        if action.name == ROOT_ACTION:
            self._record_run(action)
            # A run whose root ended leaves nothing running under it.
            for child in action.run.actions.values():
                if child.phase not in TERMINAL:
                    self.abort_action(child, "its run ended")
        action.run.changed()

    # -- aborting ---------------------------------------------------------------------------------

    def abort_action(self, action: FlyteAction, reason: str) -> None:
        if action.phase in TERMINAL or action.abort_reason is not None:
            return
        action.abort_reason = reason or "aborted"
        for child in action.run.actions.values():
            if child.parent == action.name:
                self.abort_action(child, reason)
        if action.process is not None:
            action.stopping = asyncio.ensure_future(action.process.stop("abort"))
        elif action.task is not None and not action.attempts:
            action.task.cancel()
            self._end(action, ABORTED, execution_error("Aborted", action.abort_reason, user=True))

    def abort_run(self, run: FlyteRun, reason: str) -> None:
        self.abort_action(run.root, reason)

    async def close(self) -> None:
        for run in self.runs.values():
            if run.root.phase not in TERMINAL:
                self.abort_run(run, "the server stopped")
        tasks = [a.task for r in self.runs.values() for a in r.actions.values() if a.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        self.table.close()

    # -- recording --------------------------------------------------------------------------------

    def _record(self, action: FlyteAction) -> None:
        self.table.put_action(action, with_spec=False)
        error = None
        if action.error is not None:
            error = ErrorInfo(action.error.code or "Error", _kind(action.error), action.error.message)
        self.store.mark(
            ActionRecord(
                run_name=action.run.name,
                action_id=action.name,
                parent_id=action.parent,
                task_name=action.task_name,
                short_name=action.short_name,
                group_name=action.group,
                seq=action.seq,
                phase=STORE_PHASE.get(action.phase, ActionPhase.QUEUED),
                attempts=len(action.attempts),
                queued_at=action.queued_at,
                started_at=action.started_at,
                ended_at=action.ended_at,
                error=error,
                isolation="process" if action.kind == "task" else "inline",
                isolation_reason=_WHERE[action.kind],
                node=os.uname().nodename,
            )
        )
        if action.name == ROOT_ACTION and action.phase == RUNNING and len(action.attempts) == 1:
            self._record_run(action)

    def _record_attempt(self, action: FlyteAction, info: AttemptInfo) -> None:
        error = None
        if info.error is not None:
            error = ErrorInfo(info.error.code or "Error", _kind(info.error), info.error.message)
        self.store.mark(
            AttemptRecord(
                action.run.name,
                action.name,
                info.attempt - 1,
                STORE_PHASE.get(info.phase, ActionPhase.FAILED),
                info.started_at,
                info.ended_at,
                error,
            )
        )

    def _record_run(self, root: FlyteAction) -> None:
        record = root.run.record
        if record is None:
            return
        record.phase = STORE_PHASE.get(root.phase, ActionPhase.QUEUED)
        record.started_at = root.started_at
        record.ended_at = root.ended_at if root.phase in TERMINAL else None
        if root.error is not None:
            record.error = ErrorInfo(root.error.code or "Error", _kind(root.error), root.error.message)
        self.store.mark(record)


_WHERE = {
    "task": "a Flyte action runs its template's container args (the Flyte runtime)",
    "trace": "a @flyte.trace call, run inside its parent",
    "condition": "a condition: it waits for an answer (roost signal, the console, the Flyte client)",
}


def _kind(error: execution_pb2.ExecutionError) -> str:
    return "user" if error.kind == execution_pb2.ExecutionError.USER else "system"
