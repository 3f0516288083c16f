"""Answering conditions from outside the run: ``roost signal``, the server's API and
``flyte.remote.Condition`` -- found by run and name (or action id), the value read as the condition's
type, written to the store where the waiting action (or the run, once resumed) finds it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from roost.errors import ConditionNotFoundError
from roost.runtime.runs import server_client
from roost.runtime.syncify import dual, dual_classmethod
from roost.runtime.task_api.conditions import coerce
from roost.store.open_stores import get_store
from roost.store.records import ConditionRecord
from roost.store.run_store import RunStore


class AlreadyAnswered(ValueError):
    """The condition has its answer: the first one stands."""


def find(store: RunStore, run_name: str, condition: str) -> ConditionRecord:
    """The condition ``condition`` (a name, or an action id) of the run: the one waiting when several
    share the name; ConditionNotFoundError, or a ValueError when several wait under that name."""
    by_id = store.get_condition(run_name, condition)
    if by_id is not None:
        return by_id
    named = store.list_conditions(run_name, condition)
    if not named and store.get_run(run_name) is None:
        raise ConditionNotFoundError(f"no run named {run_name!r}")
    if not named:
        known = sorted({c.name for c in store.list_conditions(run_name)})
        listed = f"; it has {', '.join(known)}" if known else "; it has none"
        raise ConditionNotFoundError(f"run {run_name!r} has no condition {condition!r}{listed}")
    waiting = [c for c in named if c.state == "waiting"]
    if len(waiting) > 1:
        ids = ", ".join(c.action_id for c in waiting)
        raise ValueError(
            f"{len(waiting)} conditions named {condition!r} wait in run {run_name!r}: give one's id ({ids})"
        )
    return waiting[0] if waiting else named[0]


def answer(
    store: RunStore,
    run_name: str,
    condition: str,
    value: Any = None,
    fail: str | None = None,
    by: str = "local",
) -> ConditionRecord:
    """Signal the condition with ``value`` (read as its type), or fail it with the reason ``fail``."""
    found = find(store, run_name, condition)
    if fail is not None:
        state, text, reason = "failed", None, str(fail)[:1000] or "failed"
    else:
        if value is None:
            raise ValueError(f"condition {found.name!r} needs a value ({found.data_type})")
        try:
            typed = coerce(value, found.data_type)
        except ValueError as e:
            article = "an" if found.data_type == "int" else "a"
            raise ValueError(f"condition {found.name!r} takes {article} {found.data_type}: {e}") from None
        state, text, reason = "signalled", json.dumps(typed), None
    if not store.answer_condition(run_name, found.action_id, state, text, reason, by):
        now = store.get_condition(run_name, found.action_id) or found
        raise AlreadyAnswered(f"condition {found.name!r} of run {run_name!r} is {now.state} already")
    return store.get_condition(run_name, found.action_id) or found


def to_wire(record: ConditionRecord) -> dict[str, Any]:
    wire = dict(record.__dict__)
    wire["value"] = json.loads(record.value) if record.value is not None else None
    wire["webhook"] = json.loads(record.webhook) if record.webhook else None
    return wire


@dataclass
class Condition:
    """A condition of a run (``flyte.remote.Condition``): read from the store of ROOST_HOME, or from the
    roost server after ``flyte.init(endpoint=...)``."""

    name: str
    run_name: str
    action_name: str
    parent_action: str
    prompt: str
    prompt_type: str
    data_type: str
    description: str
    state: str
    value: Any = None
    reason: str | None = None
    signalled_by: str | None = None

    @classmethod
    def _from(cls, wire: dict[str, Any]) -> Condition:
        return cls(wire["name"], wire["run_name"], wire["action_id"], wire["parent_id"], wire["prompt"],
                   wire["prompt_type"], wire["data_type"], wire["description"], wire["state"], wire.get("value"),
                   wire.get("reason"), wire.get("signalled_by"))  # fmt: skip

    @property
    def phase(self) -> str:
        return {"waiting": "paused", "signalled": "succeeded"}.get(self.state, self.state)

    @property
    def expected_type(self) -> type:
        return {"bool": bool, "int": int, "float": float, "str": str}[self.data_type]

    @staticmethod
    def _listall(
        cls: type[Condition], run_name: str | None = None, action_name: str | None = None, limit: int = 100
    ) -> list[Condition]:
        """The conditions of a run (of every run when none is named), newest first; ``action_name``:
        only those made by that action."""
        client = server_client.configured()
        if client is not None:
            found = [cls._from(c) for c in client.list_conditions(run_name)]
        else:
            found = [cls._from(to_wire(c)) for c in get_store().list_conditions(run_name, limit=limit)]
        return [c for c in found if action_name is None or c.parent_action == action_name][:limit]

    @staticmethod
    async def _listall_aio(cls: type[Condition], *args: Any, **kwargs: Any) -> list[Condition]:
        return Condition._listall(cls, *args, **kwargs)

    listall = dual_classmethod(_listall, _listall_aio)

    @staticmethod
    def _get(cls: type[Condition], name: str, run_name: str, action_name: str | None = None) -> Condition | None:
        """The condition ``name`` of the run (the waiting one when several share it), or None."""
        named = [c for c in Condition._listall(cls, run_name, action_name, 10_000) if c.name == name]
        waiting = [c for c in named if c.state == "waiting"]
        return (waiting or named or [None])[0]

    @staticmethod
    async def _get_aio(cls: type[Condition], *args: Any, **kwargs: Any) -> Condition | None:
        return Condition._get(cls, *args, **kwargs)

    get = dual_classmethod(_get, _get_aio)

    def _signal(self, payload: Any) -> None:
        """Answer it with ``payload`` (a bool, int, float or str, read as the condition's type)."""
        self._answer(payload, None)

    async def _signal_aio(self, payload: Any) -> None:
        self._signal(payload)

    signal = dual(_signal, _signal_aio)

    def fail(self, reason: str) -> None:
        """Fail it: its ``wait()`` raises ConditionFailedError with ``reason``."""
        self._answer(None, reason)

    def _answer(self, payload: Any, fail: str | None) -> None:
        client = server_client.configured()
        if client is not None:
            after = client.signal_condition(self.run_name, self.action_name, payload, fail)
        else:
            after = to_wire(answer(get_store(), self.run_name, self.action_name, payload, fail))
        self.state, self.value, self.reason = after["state"], after.get("value"), after.get("reason")
