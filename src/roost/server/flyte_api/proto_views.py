"""Flyte's protocol messages for the runs and actions of ``flyte_actions.py``: what the client reads back."""

from __future__ import annotations

from typing import Any

from flyteidl2.common import identifier_pb2
from flyteidl2.core import execution_pb2
from flyteidl2.workflow import run_definition_pb2
from google.protobuf import timestamp_pb2

from roost.server.flyte_api.flyte_actions import TERMINAL, FlyteAction, FlyteRun


def timestamp(seconds: float | None) -> timestamp_pb2.Timestamp | None:
    if seconds is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def run_id(run: FlyteRun) -> identifier_pb2.RunIdentifier:
    return identifier_pb2.RunIdentifier(org=run.org, project=run.project, domain=run.domain, name=run.name)


def action_id(action: FlyteAction) -> identifier_pb2.ActionIdentifier:
    return identifier_pb2.ActionIdentifier(run=run_id(action.run), name=action.name)


def error_info(error: execution_pb2.ExecutionError | None) -> run_definition_pb2.ErrorInfo | None:
    if error is None:
        return None
    kind = (
        run_definition_pb2.ErrorInfo.KIND_USER
        if error.kind == execution_pb2.ExecutionError.USER
        else run_definition_pb2.ErrorInfo.KIND_SYSTEM
    )
    return run_definition_pb2.ErrorInfo(message=error.message, kind=kind, code=error.code)


def status(action: FlyteAction) -> run_definition_pb2.ActionStatus:
    s = run_definition_pb2.ActionStatus(phase=action.phase, attempts=len(action.attempts))
    if action.started_at is not None:
        s.start_time.CopyFrom(timestamp(action.started_at))
    if action.ended_at is not None and action.phase in TERMINAL:
        s.end_time.CopyFrom(timestamp(action.ended_at))
        if action.started_at is not None:
            s.duration_ms = int((action.ended_at - action.started_at) * 1000)
    return s


def metadata(action: FlyteAction) -> run_definition_pb2.ActionMetadata:
    template = action.template
    if action.kind == "condition":
        m = run_definition_pb2.ActionMetadata(
            action_type=run_definition_pb2.ACTION_TYPE_CONDITION,
            condition=run_definition_pb2.ConditionActionMetadata(name=action.call_name or ""),
        )
        if action.condition_spec is not None:
            m.condition.type.CopyFrom(action.condition_spec.type)
        m.parent = action.parent or ""
        return m
    if action.kind == "trace":
        m = run_definition_pb2.ActionMetadata(
            action_type=run_definition_pb2.ACTION_TYPE_TRACE,
            trace=run_definition_pb2.TraceActionMetadata(name=action.call_name),
        )
        m.parent = action.parent or ""
        if action.group:
            m.group = action.group
        return m
    m = run_definition_pb2.ActionMetadata(
        action_type=run_definition_pb2.ACTION_TYPE_TASK,
        task=run_definition_pb2.TaskActionMetadata(
            id=_task_id(template.id), task_type=template.type, short_name=action.short_name
        ),
        environment_name=action.spec.environment.name,
    )
    if action.parent:
        m.parent = action.parent
    if action.group:
        m.group = action.group
    return m


def _task_id(template_id: Any) -> Any:
    from flyteidl2.task import task_definition_pb2

    return task_definition_pb2.TaskIdentifier(
        org=template_id.org,
        project=template_id.project,
        domain=template_id.domain,
        name=template_id.name,
        version=template_id.version,
    )


def action(a: FlyteAction) -> run_definition_pb2.Action:
    return run_definition_pb2.Action(id=action_id(a), metadata=metadata(a), status=status(a))


def action_details(a: FlyteAction) -> run_definition_pb2.ActionDetails:
    d = run_definition_pb2.ActionDetails(id=action_id(a), metadata=metadata(a), status=status(a))
    if a.kind == "task":
        d.task.CopyFrom(a.spec)
    elif a.condition_spec is not None:
        d.condition.CopyFrom(a.condition_spec)
    info = error_info(a.error)
    if info is not None:
        d.error_info.CopyFrom(info)
    if a.abort_reason is not None:
        d.abort_info.CopyFrom(run_definition_pb2.AbortInfo(reason=a.abort_reason))
    for info_ in a.attempts:
        attempt = run_definition_pb2.ActionAttempt(phase=info_.phase, attempt=info_.attempt, logs_available=True)
        attempt.start_time.CopyFrom(timestamp(info_.started_at))
        if info_.ended_at is not None:
            attempt.end_time.CopyFrom(timestamp(info_.ended_at))
        e = error_info(info_.error)
        if e is not None:
            attempt.error_info.CopyFrom(e)
        d.attempts.append(attempt)
    return d


def run(r: FlyteRun) -> run_definition_pb2.Run:
    return run_definition_pb2.Run(action=action(r.root))


def run_details(r: FlyteRun) -> run_definition_pb2.RunDetails:
    d = run_definition_pb2.RunDetails(action=action_details(r.root))
    if r.run_spec is not None:
        d.run_spec.CopyFrom(r.run_spec)
    return d
