"""The pseudo-actions of a run's ``@flyte.trace`` calls, as its controller records them.

A traced call runs in the action that made it -- on the controller's loop or in a worker process --
and is recorded here as a child action of that action, isolation ``trace``: running when it starts,
succeeded or failed when it ends. In a recovered run, a call the old run finished is recorded as
recovered and answered with its old outputs instead (``tracing.py`` explains the calling side).
Safe from any thread: a sync task's traced calls come from the thread it runs on.
"""

from __future__ import annotations

import itertools
import time

from roost.runtime.engine.policies.recovery import Recovery
from roost.runtime.messages import TraceBegin, TraceEnd
from roost.store.records import ActionPhase, ActionRecord, ErrorInfo
from roost.store.run_store import RunStore

_REASON = "a @flyte.trace helper, run by the action that called it"


class TraceRecords:
    def __init__(self, store: RunStore, run_name: str, order: itertools.count[int], recovery: Recovery | None):
        self._store = store
        self._run_name = run_name
        self._order = order  # the controller's: records keep the order in which calls were made
        self._recovery = recovery
        self._open: dict[str, ActionRecord] = {}  # calls under way, by action id

    def begin(
        self,
        parent_id: str,
        action_id: str,
        name: str,
        short_name: str,
        group: str | None,
        inputs: bytes,
        inputs_hash: str,
        replay: bool = True,
    ) -> bytes | None:
        """Record a call as running -- or as recovered, returning the outputs its caller uses instead
        of running it again."""
        now = time.time()
        record = ActionRecord(
            run_name=self._run_name,
            action_id=action_id,
            parent_id=parent_id,
            task_name=name,
            short_name=short_name,
            group_name=group,
            seq=next(self._order),
            phase=ActionPhase.RUNNING,
            attempts=1,
            queued_at=now,
            started_at=now,
            inputs=inputs,
            inputs_hash=inputs_hash,
            isolation="trace",
            isolation_reason=_REASON,
        )
        previous = None
        if replay and self._recovery is not None:
            previous = self._recovery.previous(action_id, name, inputs_hash, inputs)
        if previous is not None:
            record.phase, record.outputs, record.ended_at = ActionPhase.RECOVERED, previous.outputs, now
            self._store.mark(record)
            return previous.outputs
        self._open[action_id] = record
        self._store.mark(record)
        return None

    def end(self, action_id: str, outputs: bytes | None, error: ErrorInfo | None) -> None:
        record = self._open.pop(action_id, None)
        if record is None:
            return
        record.ended_at = time.time()
        record.outputs, record.error = outputs, error
        record.phase = ActionPhase.SUCCEEDED if error is None else ActionPhase.FAILED
        self._store.mark(record)

    def note(self, note: TraceBegin | TraceEnd) -> None:
        """A traced call made away from the controller (a worker, a Ray task), as it told of it. A
        begin is recorded as replayed: the worker already answered a replay itself."""
        if isinstance(note, TraceBegin):
            self.begin(note.parent, note.action_id, note.name, note.short_name, note.group, note.inputs, note.hash)  # type: ignore[arg-type]
        else:
            e = note.error
            self.end(
                note.action_id,
                note.outputs,
                None if e is None else ErrorInfo(e.code, e.kind_name, e.message, e.traceback),
            )

    def replays(self, parent_id: str) -> dict[str, tuple[str, bytes]] | None:
        """The calls of ``parent_id`` that the recovered run finished -- id -> (name, outputs) -- sent
        with an action to a worker, which then answers them without asking; None when there are none."""
        if self._recovery is None:  # most runs: nothing to look up (and no dict made) per action
            return None
        return self._recovery.traces_under(parent_id) or None
