"""Run and Action handles (``flyte.remote``): what ``flyte.run`` returns, and what ``Run.get`` /
``Action.get`` find, read back from the run store."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from roost.errors import ActionNotFoundError, RuntimeUserError, error_class_for
from roost.runtime.runs.action_details import ActionDetails, ActionInputs, ActionOutputs, decode_inputs, decode_outputs
from roost.runtime.runs.action_handle import (
    POLL_S,
    WAIT_FOR,
    Action,
    Watch,
    console_page,
    phase_values,
    refuse_filters,
    sorted_descending,
)
from roost.runtime.runs.readers import RunReader, reader
from roost.runtime.runs.server_client import ServerUnreachable
from roost.runtime.syncify import dual, dual_classmethod, syncify
from roost.store.records import ActionPhase, ErrorInfo, RunRecord
from roost.task import TaskTemplate

logger = logging.getLogger("roost")

__all__ = ["Action", "ActionDetails", "ActionInputs", "ActionOutputs", "Run", "RunDetails"]


def raise_error(error: ErrorInfo) -> None:
    """Re-raise a recorded failure as the exception a caller of the task would have seen."""
    cls = error_class_for(error.code, error.kind)  # type: ignore[arg-type]
    try:
        err = cls(error.code, error.message)  # type: ignore[call-arg]
    except TypeError:
        err = cls(error.message)  # type: ignore[call-arg]
    err.traceback_text = error.traceback  # type: ignore[attr-defined]
    raise err


class Run:
    """A handle on a run: its name and phase, its inputs and outputs, and its action tree.

    Unlike Flyte's local-mode Run, every member works: the run is recorded in the run store.
    """

    def __init__(
        self,
        store: RunReader,
        name: str,
        task: TaskTemplate[Any] | None = None,
        preserve_original_types: bool = True,
    ):
        self._store = store
        self.name = name
        self._task = task
        # False (with_runcontext's default outside mode="local"): DataFrame outputs as flyte.io.DataFrame.
        self._preserve_original_types = preserve_original_types

    @staticmethod
    def _get(cls: type[Run], name: str) -> Run:
        run = cls(reader(), name)
        run._record()
        return run

    @staticmethod
    async def _get_aio(cls: type[Run], name: str) -> Run:
        return Run._get(cls, name)

    # The run named ``name`` from the run store of ROOST_HOME.
    get = dual_classmethod(_get, _get_aio)

    @staticmethod
    def _listall(
        cls: type[Run],
        in_phase: Any = None,
        task_name: str | None = None,
        task_version: str | None = None,
        created_by_subject: str | None = None,
        sort_by: tuple[str, str] | None = None,
        limit: int = 100,
        project: str | None = None,
        domain: str | None = None,
        created_at: Any = None,
        updated_at: Any = None,
        with_labels: dict[str, str] | None = None,
        with_label_keys: list[str] | None = None,
        paused_actions_only: bool = False,
    ) -> Iterator[Run]:
        refuse_filters(
            task_version=task_version,
            created_by_subject=created_by_subject,
            created_at=created_at,
            updated_at=updated_at,
            with_labels=with_labels,
            with_label_keys=with_label_keys,
        )
        # project and domain name nothing locally, and no local run pauses: both are accepted as given.
        desc = sorted_descending(sort_by, default_desc=True)
        store = reader()
        phases = phase_values(in_phase)
        records: Iterable[RunRecord]
        if len(phases) <= 1:
            records = store.list_runs(limit=limit, phase=phases[0] if phases else None, task_name=task_name)
        else:
            every = [store.list_runs(limit=limit, phase=p, task_name=task_name) for p in phases]
            records = sorted((r for rs in every for r in rs), key=lambda r: r.created_at, reverse=True)[:limit]
        if paused_actions_only:
            records = []
        ordered = list(records) if desc else sorted(records, key=lambda r: r.created_at)
        return iter([cls(store, r.name) for r in ordered])

    @staticmethod
    async def _listall_aio(cls: type[Run], *args: Any, **kwargs: Any) -> AsyncIterator[Run]:
        for run in Run._listall(cls, *args, **kwargs):
            yield run

    # The runs of ROOST_HOME, newest first (at most ``limit``); only those in ``in_phase`` or of
    # ``task_name`` if given.
    listall = dual_classmethod(_listall, _listall_aio)  # type: ignore[arg-type]

    def _record(self) -> RunRecord:
        record = self._store.get_run(self.name)
        if record is None:
            raise ActionNotFoundError(f"no run named {self.name!r} in {self._store.path}")
        return record

    @property
    def phase(self) -> ActionPhase:
        return self._record().phase

    raw_phase = phase

    @property
    def url(self) -> str:
        """The run's page on the server it runs on; a local run's page in the console of the server
        running for its ROOST_HOME, or without one its folder of files."""
        # Read through a server: its page there, at the address this client reaches the server by.
        page = console_page(self._store, self.name)
        if page is not None:
            return page
        options = json.loads(self._record().options or "{}")
        return options.get("run_base_dir", str(self._store.path))

    @property
    def action(self) -> Action:
        return self.get_action("a0")

    def get_action(self, action_id: str) -> Action:
        record = self._store.get_action(self.name, action_id)
        if record is None:
            raise ActionNotFoundError(f"run {self.name!r} has no action {action_id!r}")
        return Action(self._store, record, self._task)

    def actions(self) -> list[Action]:
        return [Action(self._store, r, self._task) for r in self._store.list_actions(self.name)]

    def done(self) -> bool:
        return self.phase.is_terminal

    def sync(self) -> Run:
        return self

    @syncify
    async def wait(self, quiet: bool = False, wait_for: str = "terminal", poll: float = POLL_S) -> Run:
        """Block until the run ends (or reaches ``wait_for``: "running", "logs-ready")."""
        if wait_for not in WAIT_FOR:
            raise ValueError(f"wait_for must be one of {', '.join(WAIT_FOR)}, not {wait_for!r}")
        wait_run = getattr(self._store, "wait_run", None) if wait_for == "terminal" else None
        while True:
            try:
                if wait_run is not None:  # a server: it answers when the run ends (one request, no polling)
                    # Short waits: a wait given up (Ctrl-C) leaves its thread at most this long.
                    record = await asyncio.to_thread(wait_run, self.name, 2.0)
                    if record is None:
                        raise ActionNotFoundError(f"no run named {self.name!r} on {self._store.path}")
                    if record.phase.is_terminal:
                        return self
                    continue
                phase = self.phase
            except ServerUnreachable as e:
                # A server restarting (or killed and started again) loses no run: keep asking.
                if not quiet:
                    logger.warning("%s; retrying", e.message)
                    quiet = True
                await asyncio.sleep(max(poll, 0.25))
                continue
            if phase.is_terminal or (wait_for != "terminal" and phase is not ActionPhase.QUEUED):
                return self
            await asyncio.sleep(poll)

    def watch(self, cache_data_on_done: bool = False) -> Watch:
        """The root action's details each time they change, until the run ends."""
        return self.action.watch(cache_data_on_done)

    @syncify
    async def outputs(self) -> ActionOutputs:
        record = self._record()
        if record.phase not in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED):
            if record.error is not None:
                raise_error(record.error)
            raise RuntimeUserError("RunNotDoneError", f"run {self.name} is {record.phase.value}")
        return decode_outputs(self._task, record.outputs, self._preserve_original_types)

    def _inputs(self) -> ActionInputs:
        return decode_inputs(self._task, self._record().inputs)

    async def _inputs_aio(self) -> ActionInputs:
        return self._inputs()

    inputs = dual(_inputs, _inputs_aio)

    def _details(self) -> RunDetails:
        return RunDetails(self._record(), self.actions(), self.action.details())

    async def _details_aio(self) -> RunDetails:
        return self._details()

    details = dual(_details, _details_aio)

    def first_failure(self) -> Action | None:
        failed = [a for a in self.actions() if a.phase in (ActionPhase.FAILED, ActionPhase.TIMED_OUT)]
        return max(failed, key=lambda a: a._record.seq) if failed else None

    def raise_for_status(self) -> None:
        record = self._record()
        if not record.phase.is_terminal:
            raise RuntimeUserError("RunNotDoneError", f"run {self.name} is still {record.phase.value}")
        if record.error is not None:
            raise_error(record.error)

    def _abort(self, reason: str = "Manually aborted from the SDK api.") -> None:
        self._store.request_abort(self.name)

    async def _abort_aio(self, reason: str = "Manually aborted from the SDK api.") -> None:
        self._abort(reason)

    abort = dual(_abort, _abort_aio)

    # The root action's log lines, as ``Action.get_logs`` / ``Action.show_logs`` give them.
    def _get_logs(
        self, attempt: int | None = None, filter_system: bool = False, show_ts: bool = False
    ) -> Iterator[str]:
        return self.action.get_logs(attempt, filter_system, show_ts)  # type: ignore[no-any-return]

    def _get_logs_aio(
        self, attempt: int | None = None, filter_system: bool = False, show_ts: bool = False
    ) -> AsyncIterator[str]:
        return self.action.get_logs.aio(attempt, filter_system, show_ts)  # type: ignore[no-any-return]

    get_logs = dual(_get_logs, _get_logs_aio)  # type: ignore[arg-type]

    def _show_logs(
        self,
        attempt: int | None = None,
        max_lines: int = 100,
        show_ts: bool = False,
        raw: bool = False,
        filter_system: bool = False,
    ) -> None:
        self.action.show_logs(attempt, max_lines, show_ts, raw, filter_system)

    async def _show_logs_aio(self, *args: Any, **kwargs: Any) -> None:
        self._show_logs(*args, **kwargs)

    show_logs = dual(_show_logs, _show_logs_aio)

    def _get_report(self, attempt: int | None = None) -> str | None:
        return self.action.get_report(attempt)  # type: ignore[no-any-return]

    async def _get_report_aio(self, attempt: int | None = None) -> str | None:
        return await self.action.get_report.aio(attempt)  # type: ignore[no-any-return]

    # The HTML of the root action's report, or None (see ``Action.get_report``).
    get_report = dual(_get_report, _get_report_aio)

    def __repr__(self) -> str:
        return f"<Run {self.name} {self.phase.value}>"


@dataclass
class RunDetails:
    """A run as recorded, with its actions and its root action's details."""

    record: RunRecord
    action_list: list[Action]
    action_details: ActionDetails

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def task_name(self) -> str:
        return self.record.task_name

    @property
    def phase(self) -> ActionPhase:
        return self.record.phase

    def done(self) -> bool:
        return self.record.phase.is_terminal

    async def inputs(self) -> ActionInputs:
        return await self.action_details.inputs()

    async def outputs(self) -> ActionOutputs:
        return await self.action_details.outputs()

    def __iter__(self) -> Iterator[Action]:
        return iter(self.action_list)
