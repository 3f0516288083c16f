"""Handles on recorded actions (``flyte.remote.Action``): find them, follow them, read their logs,
abort them -- all through the run store."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from roost.errors import ActionNotFoundError, RuntimeUserError
from roost.runtime.runs.action_details import (
    ActionDetails,
    ActionInputs,
    ActionOutputs,
    RecordedAction,
    decode_inputs,
    decode_outputs,
)
from roost.runtime.runs.readers import RunReader, reader
from roost.runtime.syncify import dual, dual_classmethod
from roost.runtime.task_api.action_report import read_page, report_location
from roost.store import server_info, store_config
from roost.store.records import ActionPhase, ActionRecord, LogRecord
from roost.task import TaskTemplate


def console_page(store: RunReader, run_name: str) -> str | None:
    """The run's page in a console: of the server the store is read through, else of the server running
    for this ROOST_HOME; None when no server shows it."""
    run_url = getattr(store, "run_url", None)
    if run_url is not None:
        return run_url(run_name)  # type: ignore[no-any-return]
    return server_info.run_page_url(store_config.current().home, run_name)


# How often a waiting or watching handle reads the store again.
POLL_S = 0.1
WAIT_FOR = ("terminal", "running", "logs-ready")


def phase_values(in_phase: Any) -> tuple[str, ...]:
    """``in_phase`` as Flyte takes it (one phase, or a tuple of ActionPhase or names) as stored values."""
    if in_phase is None:
        return ()
    items = (in_phase,) if isinstance(in_phase, str) else tuple(in_phase)
    try:
        return tuple(ActionPhase(str(getattr(p, "value", p)).lower()).value for p in items)
    except ValueError:
        names = ", ".join(p.value for p in ActionPhase)
        raise ValueError(f"unknown phase in {in_phase!r}; phases: {names}") from None


def sorted_descending(sort_by: tuple[str, str] | None, default_desc: bool) -> bool:
    if sort_by is None:
        return default_desc
    key, order = sort_by
    if key != "created_at" or order not in ("asc", "desc"):
        raise ValueError(f"roost sorts by ('created_at', 'asc' | 'desc') only, not {sort_by!r}")
    return order == "desc"


def refuse_filters(**filters: Any) -> None:
    given = [name for name, value in filters.items() if value]
    if given:
        raise ValueError(f"roost records no {', '.join(given)} for local runs; leave out {', '.join(given)}")


def _wait_reached(details: ActionDetails, wait_for: str) -> bool:
    if wait_for not in WAIT_FOR:
        raise ValueError(f"wait_for must be one of {', '.join(WAIT_FOR)}, not {wait_for!r}")
    if details.done():
        return True
    if wait_for == "running":
        return details.is_running
    return wait_for == "logs-ready" and details.logs_available()


def format_log_line(line: LogRecord, show_ts: bool) -> str:
    if not show_ts:
        return line.line
    return f"{datetime.fromtimestamp(line.ts, tz=timezone.utc).isoformat()} {line.line}"


class Watch:
    """The successive details of an action until it ends (or reaches ``wait_for``), each time it
    changes: ``async for`` (as Flyte's ``watch`` is) or a plain ``for``."""

    def __init__(self, read: Callable[[], ActionDetails], wait_for: str, on_change: Callable[[ActionDetails], None]):
        self._read = read
        self._wait_for = wait_for
        self._on_change = on_change

    def _looks(self) -> Iterator[ActionDetails | None]:
        """Each look at the action: its details when they changed, None where the caller waits POLL_S
        before the next look (by sleeping or awaiting); ends once ``wait_for`` is reached."""
        last = None
        while True:
            details = self._read()
            r = details.record
            state = (r.phase, r.attempts, r.ended_at)
            self._on_change(details)
            if state != last:
                yield details
            last = state
            if _wait_reached(details, self._wait_for):
                return
            yield None

    def __iter__(self) -> Iterator[ActionDetails]:
        for details in self._looks():
            if details is None:
                time.sleep(POLL_S)
            else:
                yield details

    async def __aiter__(self) -> AsyncIterator[ActionDetails]:
        for details in self._looks():
            if details is None:
                await asyncio.sleep(POLL_S)
            else:
                yield details


class Action(RecordedAction):
    """A handle on one recorded action of a run (``flyte.remote.Action``)."""

    def __init__(self, store: RunReader, record: ActionRecord, task: TaskTemplate[Any] | None = None):
        self._store = store
        self._record = record
        # The task's code is known for the root action of a run this process started; other actions
        # are read back as plain values.
        self._task = task if record.parent_id is None else None

    # -- finding ---------------------------------------------------------------------------------
    @staticmethod
    def _get(
        cls: type[Action], uri: str | None = None, /, run_name: str | None = None, name: str | None = None
    ) -> Action:
        if uri is not None and (run_name is None or name is None):
            run_name, _, name = uri.rstrip("/").rpartition("/")
            run_name = run_name.rsplit("/", 1)[-1]
        if not run_name or not name:
            raise ValueError("Action.get needs run_name= and name= (or a 'RUN/ACTION' uri)")
        store = reader()
        record = store.get_action(run_name, name)
        if record is None:
            raise ActionNotFoundError(f"run {run_name!r} has no action {name!r} in {store.path}")
        return cls(store, record)

    @staticmethod
    async def _get_aio(cls: type[Action], uri: str | None = None, /, **kwargs: Any) -> Action:
        return Action._get(cls, uri, **kwargs)

    # The action ``name`` of run ``run_name`` (or of a "RUN/ACTION" ``uri``).
    get = dual_classmethod(_get, _get_aio)

    @staticmethod
    def _listall(
        cls: type[Action],
        for_run_name: str,
        in_phase: Any = None,
        parent_name: str | None = None,
        sort_by: tuple[str, str] | None = None,
        created_at: Any = None,
        updated_at: Any = None,
    ) -> Iterator[Action]:
        refuse_filters(created_at=created_at, updated_at=updated_at)
        desc = sorted_descending(sort_by, default_desc=False)
        store = reader()
        records = store.list_actions(for_run_name, phase_values(in_phase))
        if parent_name is not None:
            records = [r for r in records if r.parent_id == parent_name]
        return iter([cls(store, r) for r in (reversed(records) if desc else records)])

    @staticmethod
    async def _listall_aio(cls: type[Action], for_run_name: str, **kwargs: Any) -> AsyncIterator[Action]:
        for action in Action._listall(cls, for_run_name, **kwargs):
            yield action

    # The actions of run ``for_run_name`` in the order they were created; only those in ``in_phase``
    # (one phase or several), or the children of ``parent_name``, if given.
    listall = dual_classmethod(_listall, _listall_aio)  # type: ignore[arg-type]

    # -- what it is ------------------------------------------------------------------------------
    def _action_record(self) -> ActionRecord:
        return self._record

    action_id = RecordedAction.name

    @property
    def start_time(self) -> datetime | None:
        started = self._record.started_at
        return None if started is None else datetime.fromtimestamp(started, tz=timezone.utc)

    @property
    def url(self) -> str:
        """The run's page with this action selected (``/runs/RUN?action=ID``) in the console showing the
        run; without a server, the action's folder of files."""
        page = console_page(self._store, self.run_name)
        if page is not None:
            return f"{page}?action={urllib.parse.quote(self.name, safe='')}"
        run = self._store.get_run(self.run_name)
        base = json.loads(run.options or "{}").get("run_base_dir") if run is not None else None
        return f"{base.rstrip('/')}/{self.name}" if isinstance(base, str) and base else str(self._store.path)

    def _refresh(self) -> ActionDetails:
        record = self._store.get_action(self.run_name, self.name)
        if record is not None:
            self._record = record
        return ActionDetails(self._record, self._store.list_attempts(self.run_name, self.name), self._task)

    def sync(self) -> Action:
        """Read the action's current state from the store."""
        self._refresh()
        return self

    def details(self) -> ActionDetails:
        """The action's details as recorded now (also awaitable, as in Flyte)."""
        return self._refresh()

    def inputs(self) -> ActionInputs:
        return decode_inputs(self._task, self._record.inputs)

    def outputs(self) -> ActionOutputs:
        if self._record.phase not in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED):
            raise RuntimeUserError("ActionNotSucceeded", f"action {self.name} is {self._record.phase.value}")
        return decode_outputs(self._task, self._record.outputs)

    # -- following it ----------------------------------------------------------------------------
    def watch(self, cache_data_on_done: bool = False, wait_for: str = "terminal") -> Watch:
        """Its details each time they change, until it ends (or reaches ``wait_for``)."""
        _wait_reached(self._refresh(), wait_for)  # a bad wait_for fails here, not at the first step
        return Watch(self._refresh, wait_for, lambda details: None)

    def _wait(self, quiet: bool = False, wait_for: str = "terminal") -> None:
        for _ in self.watch(wait_for=wait_for):
            pass
        if not quiet:
            print(self._outcome())

    async def _wait_aio(self, quiet: bool = False, wait_for: str = "terminal") -> None:
        async for _ in self.watch(wait_for=wait_for):
            pass
        if not quiet:
            print(self._outcome())

    # Block until the action ends (or reaches ``wait_for``: "running", "logs-ready").
    wait = dual(_wait, _wait_aio)

    def _outcome(self) -> str:
        where = f"Action '{self.name}' in Run '{self.run_name}'"
        if not self.done():
            return f"{where} is {self.phase.value}"
        if self.phase in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED):
            return f"{where} completed successfully"
        error = self._record.error
        return f"{where} ended {self.phase.value}" + (f": {error.message}" if error else "")

    def _abort(self, reason: str = "Manually aborted from the SDK.") -> None:
        if self.done():
            return  # as Flyte: aborting what has ended does nothing
        if self._record.parent_id is None:
            self._store.request_abort(self.run_name)  # the root action is the run
        else:
            self._store.request_action_abort(self.run_name, self.name, reason)

    async def _abort_aio(self, reason: str = "Manually aborted from the SDK.") -> None:
        self._abort(reason)

    # Ask the run's controller to abort this action and what it started; its caller gets an
    # ActionAbortedError. Aborting the root action aborts the run.
    abort = dual(_abort, _abort_aio)

    # -- logs and report -------------------------------------------------------------------------
    def _log_records(self, attempt: int | None) -> list[LogRecord]:
        n = attempt or self._refresh().attempts
        return self._store.list_logs(self.run_name, self.name, max(n, 1) - 1)

    def _get_logs(
        self, attempt: int | None = None, filter_system: bool = False, show_ts: bool = False
    ) -> Iterator[str]:
        # roost records only the task's own output: there are no system lines to filter.
        return iter([format_log_line(line, show_ts) for line in self._log_records(attempt)])

    async def _get_logs_aio(
        self, attempt: int | None = None, filter_system: bool = False, show_ts: bool = False
    ) -> AsyncIterator[str]:
        for line in self._get_logs(attempt, filter_system, show_ts):
            yield line

    # The lines attempt ``attempt`` (1 for the first; the latest by default) wrote to stdout, stderr
    # and logging.
    get_logs = dual(_get_logs, _get_logs_aio)  # type: ignore[arg-type]

    def _show_logs(
        self,
        attempt: int | None = None,
        max_lines: int = 30,
        show_ts: bool = False,
        raw: bool = False,
        filter_system: bool = False,
    ) -> None:
        # Every line is printed: roost has no scrolling viewer for ``max_lines`` to size.
        for line in self._get_logs(attempt, filter_system, show_ts):
            print(line)

    async def _show_logs_aio(self, *args: Any, **kwargs: Any) -> None:
        self._show_logs(*args, **kwargs)

    show_logs = dual(_show_logs, _show_logs_aio)

    def report_location(self) -> str | None:
        """Where this action's ``report.html`` is (or would be) written; None if the run is unknown."""
        run = self._store.get_run(self.run_name)
        if run is None:
            return None
        base = json.loads(run.options or "{}").get("run_base_dir")
        return report_location(f"{base}/{self.name}") if base else None

    def _get_report(self, attempt: int | None = None) -> str | None:
        location = self.report_location()
        return read_page(location) if location is not None else None

    async def _get_report_aio(self, attempt: int | None = None) -> str | None:
        return await asyncio.to_thread(self._get_report, attempt)

    # The HTML of the action's report, or None when none was written. An action keeps one report: the
    # page last written by any of its attempts, so ``attempt`` (Flyte keeps one per attempt) is accepted
    # and does not select.
    get_report = dual(_get_report, _get_report_aio)

    def __repr__(self) -> str:
        return f"<Action {self.run_name}/{self.name} {self.task_name} {self.phase.value}>"
