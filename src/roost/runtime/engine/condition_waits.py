"""Conditions (``flyte.new_condition``): an action pauses until someone answers.

A condition is recorded twice: as a child action of the action that made it (isolation
``condition``, phase ``paused`` while it waits -- it runs nothing, so it holds no worker process, no
concurrency slot and no share of the machine), and as a row of the store's ``conditions`` table
holding what it asks and how it was answered. Whoever can reach the store answers it (``roost
signal``, ``flyte.remote.Condition.signal``, the server's API); the waiting action reads the answer
from there, so an answer given while the run's process is down is found when the run is resumed --
and a recovered run (``rerun --recover``) reuses the answer its first run got, without asking again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import msgpack

from roost.errors import ConditionFailedError, ConditionTimedoutError
from roost.interface import NativeInterface
from roost.runtime import values
from roost.runtime.task_api.tracing import TracedFunction
from roost.store.records import ActionPhase, ActionRecord, ConditionRecord, ErrorInfo, LogRecord
from roost.store.run_store import RunStore

logger = logging.getLogger("roost")

# The server a run is on (set for its bundle hosts): where a webhook's callback signals the condition.
SERVER_URL_ENV = "ROOST_SERVER_URL"
DATA_TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}
POLL_S = 0.25  # how often a waiting action looks for its answer
WEBHOOK_TRIES = 3
WEBHOOK_TIMEOUT_S = 10.0


def callback_uri(run_name: str, name: str) -> str:
    """What signals the condition: the server's endpoint for it, or the command line without one."""
    server = os.environ.get(SERVER_URL_ENV)
    if server:
        return f"{server.rstrip('/')}/api/v1/runs/{run_name}/conditions/{name}/signal"
    return f"roost signal {run_name} {name} VALUE"


def substitute(payload: Any, uri: str) -> Any:
    """The webhook's payload with ``{callback_uri}`` replaced in every string it holds."""
    if isinstance(payload, str):
        return payload.replace("{callback_uri}", uri)
    if isinstance(payload, dict):
        return {k: substitute(v, uri) for k, v in payload.items()}
    if isinstance(payload, list):
        return [substitute(v, uri) for v in payload]
    return payload


def post_webhook(url: str, body: bytes, note: Callable[[str, str], None]) -> None:
    """POST a condition's webhook payload, a few tries; what came of it goes to ``note(line, stream)``.
    A failure never fails the condition (someone can still answer)."""
    import urllib.request  # only a run with a webhook pays for it (and the email package it pulls in)

    problem = ""
    for attempt in range(WEBHOOK_TRIES):
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
                note(f"webhook {url} answered {response.status}", "stdout")
                return
        except Exception as e:  # any failure of someone else's endpoint is only noted
            problem = f"{type(e).__name__}: {e}"
        time.sleep(min(2**attempt, 5))
    note(f"webhook {url} failed after {WEBHOOK_TRIES} tries: {problem}", "stderr")


class ConditionWaits:
    """The conditions of one run, for its controller."""

    def __init__(self, store: RunStore, run_name: str, recovered_from: str | None):
        self.store = store
        self.run_name = run_name
        self.recovered_from = recovered_from
        self._records: dict[str, ActionRecord] = {}

    def register(
        self, parent_id: str, action_id: str, spec: dict[str, Any], seq: int, group: str | None
    ) -> ConditionRecord:
        """Record the condition (once: a resumed run registering it again keeps what it has) and post
        its webhook."""
        now = time.time()
        name = spec["name"]
        record = ActionRecord(
            run_name=self.run_name,
            action_id=action_id,
            parent_id=parent_id,
            task_name=f"condition:{name}",
            short_name=name,
            group_name=group,
            seq=seq,
            phase=ActionPhase.PAUSED,
            queued_at=now,
            started_at=now,
            inputs=msgpack.packb(spec, use_bin_type=True),
            isolation="condition",
            isolation_reason=f"waits for an answer: {callback_uri(self.run_name, name)}",
        )
        timeout = spec.get("timeout")
        webhook = spec.get("webhook")
        condition = ConditionRecord(
            run_name=self.run_name,
            action_id=action_id,
            parent_id=parent_id,
            name=name,
            prompt=spec["prompt"],
            prompt_type=spec["prompt_type"],
            data_type=spec["data_type"],
            description=spec["description"],
            created_at=now,
            timeout_at=now + timeout if timeout else None,
            webhook=json.dumps(webhook) if webhook else None,
        )
        if not self.store.put_condition(condition):  # registered by the run before it was resumed
            return self.store.get_condition(self.run_name, action_id) or condition
        self._records[action_id] = record
        self.store.mark(record)
        if webhook:
            threading.Thread(target=self._post, args=(record, webhook, name), daemon=True).start()
        return condition

    async def wait(self, action_id: str) -> bytes:
        """The answer (packed as the condition's type), once given; ConditionTimedoutError /
        ConditionFailedError when it times out or is failed."""
        answered = await asyncio.to_thread(self._answer_from_recovered_run, action_id)
        while True:
            condition = answered or await asyncio.to_thread(self.store.get_condition, self.run_name, action_id)
            answered = None
            if condition is None:
                raise ConditionFailedError(f"condition {action_id} of run {self.run_name} is not recorded")
            if (
                condition.state == "waiting"
                and condition.timeout_at is not None
                and time.time() >= condition.timeout_at
            ):
                why = f"condition {condition.name!r} was not answered within its timeout"
                await asyncio.to_thread(
                    self.store.answer_condition, self.run_name, action_id, "timed_out", None, why, None
                )
                continue  # read back: a signal may have come first
            if condition.state == "signalled":
                data = self._packed(condition)
                self._finish(action_id, ActionPhase.SUCCEEDED, outputs=data)
                return data
            if condition.state == "timed_out":
                self._finish(
                    action_id,
                    ActionPhase.TIMED_OUT,
                    ErrorInfo("ConditionTimedoutError", "user", condition.reason or ""),
                )
                raise ConditionTimedoutError(condition.reason or f"condition {condition.name!r} timed out")
            if condition.state == "failed":
                reason = f"condition {condition.name!r} was failed: {condition.reason or 'no reason given'}"
                self._finish(action_id, ActionPhase.FAILED, ErrorInfo("ConditionFailedError", "user", reason))
                raise ConditionFailedError(reason)
            await asyncio.sleep(POLL_S)

    def _answer_from_recovered_run(self, action_id: str) -> ConditionRecord | None:
        """A recovered run asks nothing its first run had an answer to: the answer is copied over."""
        if not self.recovered_from:
            return None
        before = self.store.get_condition(self.recovered_from, action_id)
        if before is None or before.state == "waiting":
            return None
        self.store.answer_condition(
            self.run_name, action_id, before.state, before.value, before.reason, before.signalled_by
        )
        return self.store.get_condition(self.run_name, action_id)

    def _packed(self, condition: ConditionRecord) -> bytes:
        data_type = DATA_TYPES[condition.data_type]
        value = json.loads(condition.value) if condition.value is not None else None
        shape = TracedFunction(condition.name, condition.name, NativeInterface({}, {"o0": data_type}, data_type))
        return values.encode_outputs(shape, data_type(value)).data  # type: ignore[arg-type]

    def _finish(
        self, action_id: str, phase: ActionPhase, error: ErrorInfo | None = None, outputs: bytes | None = None
    ) -> None:
        record = self._records.get(action_id) or self.store.get_action(self.run_name, action_id)
        if record is None:
            return
        record.phase, record.ended_at, record.error, record.outputs = phase, time.time(), error, outputs
        record.attempts = 1
        self.store.mark(record)

    def _post(self, record: ActionRecord, webhook: dict[str, Any], name: str) -> None:
        body = json.dumps(substitute(webhook.get("payload") or {}, callback_uri(self.run_name, name))).encode()
        post_webhook(webhook["url"], body, lambda line, stream: self._note(record, line, stream))

    def _note(self, record: ActionRecord, line: str, stream: str = "stdout") -> None:
        self.store.log(LogRecord(self.run_name, record.action_id, 0, time.time(), stream, line))
        if stream == "stderr":
            logger.warning("run %s: %s", self.run_name, line)
