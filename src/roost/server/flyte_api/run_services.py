"""``RunService`` (what ``flyte run``, ``flyte get run`` and ``flyte.remote.Run`` call), ``QueueService`` and
``StateService`` (what a running action's controller calls to start and watch its children)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.actions import actions_service_pb2
from flyteidl2.actions.actions_service_connect import ActionsService
from flyteidl2.common import phase_pb2
from flyteidl2.workflow import queue_service_pb2, run_service_pb2, state_service_pb2
from flyteidl2.workflow.queue_service_connect import QueueService
from flyteidl2.workflow.run_service_connect import RunService
from flyteidl2.workflow.state_service_connect import StateService

from roost.runtime.ids import check_run_name, new_run_name
from roost.runtime.runs import condition_answers
from roost.server.flyte_api import proto_views
from roost.server.flyte_api.data_services import DataProxy, find_action
from roost.server.flyte_api.flyte_actions import TERMINAL, FlyteAction, FlyteRun, FlyteRuns
from roost.server.flyte_api.flyte_conditions import FlyteConditions
from roost.server.flyte_api.task_services import Tasks

DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


def find_run(runs: FlyteRuns, run_id: Any) -> FlyteRun:
    run = runs.get(run_id.name)
    if run is None:
        raise ConnectError(Code.NOT_FOUND, f"no run named {run_id.name!r}")
    return run


class Runs(RunService):
    def __init__(self, runs: FlyteRuns, data: DataProxy, tasks: Tasks):
        self.runs = runs
        self.data = data
        self.tasks = tasks

    async def create_run(self, request: Any, ctx: Any) -> Any:
        if request.HasField("task_spec"):
            spec = request.task_spec
        elif request.HasField("task_id"):
            spec = self.tasks.spec_of(request.task_id)
        else:
            raise ConnectError(Code.INVALID_ARGUMENT, "a run needs a task spec or the id of a deployed task")
        if request.HasField("run_id") and request.run_id.name:
            try:
                name = check_run_name(request.run_id.name)
            except ValueError as e:
                raise ConnectError(Code.INVALID_ARGUMENT, str(e)) from None
            org, project, domain = request.run_id.org, request.run_id.project, request.run_id.domain
        else:
            name = new_run_name()
            p = request.project_id
            org, project, domain = p.organization, p.name, p.domain
        if request.HasField("offloaded_input_data"):
            input_uri = request.offloaded_input_data.uri
        else:
            upload = await self.data.upload_inputs(_UploadAsk(request.inputs, org, project, domain), ctx)
            input_uri = upload.offloaded_input_data.uri
        try:
            run = self.runs.create_run(
                name,
                org or "default",
                project or "default",
                domain or "default",
                spec,
                input_uri,
                request.run_spec if request.HasField("run_spec") else None,
            )
        except FileExistsError as e:
            raise ConnectError(Code.ALREADY_EXISTS, str(e)) from None
        return run_service_pb2.CreateRunResponse(run=proto_views.run(run))

    async def abort_run(self, request: Any, ctx: Any) -> Any:
        run = find_run(self.runs, request.run_id)
        self.runs.abort_run(run, request.reason or "aborted by the Flyte client")
        return run_service_pb2.AbortRunResponse()

    async def abort_action(self, request: Any, ctx: Any) -> Any:
        action = find_action(self.runs, request.action_id)
        self.runs.abort_action(action, request.reason or "aborted by the Flyte client")
        return run_service_pb2.AbortActionResponse()

    async def get_run_details(self, request: Any, ctx: Any) -> Any:
        return run_service_pb2.GetRunDetailsResponse(
            details=proto_views.run_details(find_run(self.runs, request.run_id))
        )

    async def watch_run_details(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        run = find_run(self.runs, request.run_id)
        async for _ in _changes(run, run.root):
            yield run_service_pb2.WatchRunDetailsResponse(details=proto_views.run_details(run))

    async def get_action_details(self, request: Any, ctx: Any) -> Any:
        action = find_action(self.runs, request.action_id)
        return run_service_pb2.GetActionDetailsResponse(details=proto_views.action_details(action))

    async def watch_action_details(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        action = find_action(self.runs, request.action_id)
        async for _ in _changes(action.run, action):
            yield run_service_pb2.WatchActionDetailsResponse(details=proto_views.action_details(action))

    async def get_action_data(self, request: Any, ctx: Any) -> Any:
        data = await self.data.get_action_data(request, ctx)
        return run_service_pb2.GetActionDataResponse(inputs=data.inputs, outputs=data.outputs)

    async def get_action_data_u_r_is(self, request: Any, ctx: Any) -> Any:
        action = find_action(self.runs, request.action_id)
        return run_service_pb2.GetActionDataURIsResponse(
            inputs_uri=action.input_uri, outputs_uri=action.output_uri or ""
        )

    async def signal_event(self, request: Any, ctx: Any) -> Any:
        """The Flyte client answering a condition: as ``roost signal`` would."""
        action = find_action(self.runs, request.action_id)
        which = request.payload.WhichOneof("value")
        signal_condition(self.runs, action, getattr(request.payload, which) if which else None)
        return run_service_pb2.SignalEventResponse()

    async def list_runs(self, request: Any, ctx: Any) -> Any:
        p = request.project_id
        runs = self.runs.listed(p.name or None, p.domain or None)
        if request.HasField("task_name") and request.task_name.name:
            runs = [r for r in runs if r.root.task_name == request.task_name.name]
        runs = [r for r in runs if _matches(r.root, request.request.filters)]
        return _page(runs, request.request, proto_views.run, "runs", run_service_pb2.ListRunsResponse)

    async def list_actions(self, request: Any, ctx: Any) -> Any:
        run = find_run(self.runs, request.run_id)
        actions = [a for a in run.actions.values() if _matches(a, request.request.filters)]
        return _page(actions, request.request, proto_views.action, "actions", run_service_pb2.ListActionsResponse)

    async def watch_actions(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        from flyteidl2.workflow import run_definition_pb2

        run = find_run(self.runs, request.run_id)
        seen: dict[str, tuple[int, int]] = {}
        async for _ in _changes(run, run.root, until_children_end=True):
            changed = []
            for a in list(run.actions.values()):
                key = (a.phase, len(a.attempts))
                if seen.get(a.name) != key:
                    seen[a.name] = key
                    changed.append(run_definition_pb2.EnrichedAction(action=proto_views.action(a), meets_filter=True))
            if changed:
                yield run_service_pb2.WatchActionsResponse(enriched_actions=changed)


class _UploadAsk:
    """An ``UploadInputsRequest``'s fields, for inputs that came inline with ``CreateRun``."""

    def __init__(self, inputs: Any, org: str, project: str, domain: str):
        from flyteidl2.common import identifier_pb2

        self.inputs = inputs
        self.run_id = identifier_pb2.RunIdentifier(org=org, project=project, domain=domain)
        self.project_id = identifier_pb2.ProjectIdentifier(organization=org, name=project, domain=domain)


async def _changes(run: FlyteRun, action: FlyteAction, until_children_end: bool = False) -> AsyncIterator[None]:
    """Yield now and after every change of the run, until ``action`` has ended (and, when asked, every
    action of the run)."""
    while True:
        tick = run.tick
        yield None
        done = action.phase in TERMINAL
        if until_children_end:
            done = done and all(a.phase in TERMINAL for a in run.actions.values())
        if done:
            return
        await tick.wait()


def _matches(action: FlyteAction, filters: Any) -> bool:
    """The filters the client sends that roost understands (phase and name); others match everything."""
    from flyteidl2.common import list_pb2

    for f in filters:
        field = f.field.lower()
        if field in ("phase", "action_phase") and f.values:
            names = {v.upper().removeprefix("ACTION_PHASE_") for v in f.values}
            phase = phase_pb2.ActionPhase.Name(action.phase).removeprefix("ACTION_PHASE_")
            hit = phase in names
            if f.function in (list_pb2.Filter.NOT_EQUAL, list_pb2.Filter.VALUE_NOT_IN):
                hit = not hit
            if not hit:
                return False
        elif field in ("name", "run_name") and f.values:
            if f.function in (list_pb2.Filter.CONTAINS, list_pb2.Filter.CONTAINS_CASE_INSENSITIVE):
                if not any(v.lower() in action.run.name.lower() for v in f.values):
                    return False
            elif action.run.name not in f.values:
                return False
    return True


def _page(items: list[Any], request: Any, view: Any, field: str, response_type: Any) -> Any:
    """One page of ``items``; the token is the offset of the next page."""
    limit = request.limit or DEFAULT_LIST_LIMIT
    limit = min(limit, MAX_LIST_LIMIT)
    try:
        start = int(request.token or 0)
    except ValueError:
        raise ConnectError(
            Code.INVALID_ARGUMENT, f"{request.token[:40]!r} is not a page token of this server"
        ) from None
    page = items[start : start + limit]
    token = str(start + limit) if start + limit < len(items) else ""
    return response_type(**{field: [view(i) for i in page]}, token=token)


def enqueue_child(runs: FlyteRuns, conditions: FlyteConditions, action: Any) -> None:
    """A running action's child (``QueueService.EnqueueAction``'s request or ``ActionsService``'s
    action: the same fields): a task to run, a trace its parent ran, or a condition to wait on."""
    run = find_run(runs, action.action_id.run)
    if run.root.phase in TERMINAL:
        raise ConnectError(Code.FAILED_PRECONDITION, f"run {run.name!r} has ended")
    parent = action.parent_action_name or None
    if parent is not None and parent not in run.actions:
        raise ConnectError(Code.NOT_FOUND, f"no parent action {parent!r} in run {run.name!r}")
    name, output_base, group = action.action_id.name, action.run_output_base or run.base, action.group or None
    if action.HasField("trace") and parent is not None:
        runs.record_trace(run, name, parent, action.trace, action.input_uri, output_base, group)
    elif action.HasField("condition") and parent is not None:
        try:
            conditions.add(run, name, parent, action.condition, action.input_uri, output_base, group)
        except ValueError as e:
            raise ConnectError(Code.INVALID_ARGUMENT, str(e)) from None
    elif action.HasField("task"):
        runs.enqueue(run, name, parent, action.task.spec, action.input_uri, output_base, group)
    else:
        # The QueueService of flyte 2.12.1 sends a condition's action without the condition: its
        # runtimes here use the ActionsService (_U_USE_ACTIONS=1), which sends it whole.
        raise ConnectError(Code.INVALID_ARGUMENT, "an action needs a task, a trace or a condition (and a parent)")


async def watch_children(runs: FlyteRuns, parent_id: Any) -> AsyncIterator[tuple[Any, bool]]:
    """Every child of the parent as it is now (``(update, False)`` each), then ``(None, True)`` once (the
    backlog is sent), then each child's changes, until the parent ends (its controller stops watching
    first, as a rule)."""
    parent = find_action(runs, parent_id)
    run = parent.run
    sent: dict[str, int] = {}
    backlog = True
    while True:
        tick = run.tick
        for child in [a for a in run.actions.values() if a.parent == parent.name]:
            if sent.get(child.name) == child.phase:
                continue
            sent[child.name] = child.phase
            yield _update(child), False
        if backlog:
            backlog = False
            yield None, True
        if parent.phase in TERMINAL:
            return
        await tick.wait()


class Queue(QueueService):
    def __init__(self, runs: FlyteRuns, conditions: FlyteConditions):
        self.runs = runs
        self.conditions = conditions

    async def enqueue_action(self, request: Any, ctx: Any) -> Any:
        enqueue_child(self.runs, self.conditions, request)
        return queue_service_pb2.EnqueueActionResponse()

    async def abort_queued_action(self, request: Any, ctx: Any) -> Any:
        action = find_action(self.runs, request.action_id)
        self.runs.abort_action(action, request.reason or "aborted by its parent")
        return queue_service_pb2.AbortQueuedActionResponse()

    async def abort_queued_run(self, request: Any, ctx: Any) -> Any:
        run = find_run(self.runs, request.run_id)
        self.runs.abort_run(run, request.reason or "aborted")
        return queue_service_pb2.AbortQueuedRunResponse()


class State(StateService):
    def __init__(self, runs: FlyteRuns):
        self.runs = runs

    async def watch(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        async for update, sentinel in watch_children(self.runs, request.parent_action_id):
            if sentinel:
                yield state_service_pb2.WatchResponse(control_message=state_service_pb2.ControlMessage(sentinel=True))
            else:
                yield state_service_pb2.WatchResponse(action_update=update)


class Actions(ActionsService):
    """What a running action's controller calls with ``_U_USE_ACTIONS=1`` (set here for every action):
    the QueueService and StateService in one, conditions included."""

    def __init__(self, runs: FlyteRuns, conditions: FlyteConditions):
        self.runs = runs
        self.conditions = conditions

    async def enqueue(self, request: Any, ctx: Any) -> Any:
        enqueue_child(self.runs, self.conditions, request.action)
        return actions_service_pb2.EnqueueResponse()

    async def watch_for_updates(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        async for update, sentinel in watch_children(self.runs, request.parent_action_id):
            if sentinel:
                control = state_service_pb2.ControlMessage(sentinel=True)
                yield actions_service_pb2.WatchForUpdatesResponse(control_message=control)
            else:
                yield actions_service_pb2.WatchForUpdatesResponse(action_update=update)

    async def abort(self, request: Any, ctx: Any) -> Any:
        action = find_action(self.runs, request.action_id)
        self.runs.abort_action(action, request.reason or "aborted by its parent")
        return actions_service_pb2.AbortResponse()

    async def signal(self, request: Any, ctx: Any) -> Any:
        action = find_action(self.runs, request.action_id)
        primitive = request.value.scalar.primitive
        which = primitive.WhichOneof("value")
        value = getattr(primitive, which) if which else None
        signal_condition(self.runs, action, value)
        return actions_service_pb2.SignalResponse()


def signal_condition(runs: FlyteRuns, action: FlyteAction, value: Any) -> None:
    """Answer a condition's action with ``value``, as ``roost signal`` would."""
    if action.kind != "condition":
        raise ConnectError(Code.INVALID_ARGUMENT, f"action {action.name!r} is not a condition")
    if value is None:
        raise ConnectError(Code.INVALID_ARGUMENT, "a signal needs a value")
    try:
        condition_answers.answer(runs.store, action.run.name, action.name, value, by="flyte client")
    except condition_answers.AlreadyAnswered as e:
        raise ConnectError(Code.FAILED_PRECONDITION, str(e)) from None
    except (ValueError, LookupError) as e:
        raise ConnectError(Code.INVALID_ARGUMENT, str(e)) from None


def _update(action: FlyteAction) -> Any:
    update = state_service_pb2.ActionUpdate(action_id=proto_views.action_id(action), phase=action.phase)
    if action.error is not None:
        update.error.CopyFrom(action.error)
    if action.output_uri:
        update.output_uri = action.output_uri
    if action.condition_value is not None:
        update.value.CopyFrom(action.condition_value)
    return update
