"""Conditions a task waits on under the Flyte client (``flyte.new_condition`` in a remote run): recorded as
roost conditions, so that whatever answers roost's own answers these -- ``roost signal RUN NAME VALUE``,
the web console, the server's endpoint (a webhook's ``{callback_uri}``), and the Flyte client itself
(``RunService.SignalEvent``).

The task's runtime enqueues a condition action (``EnqueueAction`` with a condition) and watches it like
any child; the action is paused until the answer is in the store, then succeeds with the answer as its
value (a literal of the condition's type), or fails, or times out.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from flyteidl2.core import literals_pb2, types_pb2
from flyteidl2.workflow import run_definition_pb2

from roost.runtime.engine.condition_waits import post_webhook, substitute
from roost.server.flyte_api.flyte_actions import (
    ABORTED,
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    FlyteAction,
    FlyteRun,
    FlyteRuns,
    execution_error,
)
from roost.store.records import ConditionRecord, LogRecord

POLL_S = 0.25
DATA_TYPES = {
    types_pb2.BOOLEAN: "bool",
    types_pb2.INTEGER: "int",
    types_pb2.FLOAT: "float",
    types_pb2.STRING: "str",
}


def literal(value: Any, data_type: str) -> literals_pb2.Literal:
    """An answer (as coerced and stored: JSON) as the literal the Flyte runtime reads."""
    primitive = {
        "bool": lambda v: literals_pb2.Primitive(boolean=bool(v)),
        "int": lambda v: literals_pb2.Primitive(integer=int(v)),
        "float": lambda v: literals_pb2.Primitive(float_value=float(v)),
        "str": lambda v: literals_pb2.Primitive(string_value=str(v)),
    }[data_type](value)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


class FlyteConditions:
    def __init__(self, runs: FlyteRuns, url: str):
        self.runs = runs
        self.url = url.rstrip("/")

    def add(
        self,
        run: FlyteRun,
        name: str,
        parent: str,
        condition: run_definition_pb2.ConditionAction,
        input_uri: str,
        output_base: str,
        group: str | None,
    ) -> FlyteAction:
        existing = run.actions.get(name)
        if existing is not None:
            return existing
        data_type = DATA_TYPES.get(condition.type.simple)
        if data_type is None:
            raise ValueError(f"condition {condition.name!r} has a type roost does not answer (bool, int, float, str)")
        now = time.time()
        timeout = condition.timeout.seconds + condition.timeout.nanos / 1e9 if condition.HasField("timeout") else 0
        webhook = None
        if condition.HasField("webhook") and condition.webhook.url:
            payload = (
                json.loads(_struct_json(condition.webhook.payload)) if condition.webhook.HasField("payload") else {}
            )
            webhook = {"url": condition.webhook.url, "payload": payload}
        action = self.runs.record_waiting(run, name, parent, input_uri, output_base, group, condition.name)
        action.condition_type, action.condition_spec = data_type, condition
        markdown = condition.prompt_type == run_definition_pb2.CONDITION_PROMPT_TYPE_MARKDOWN
        self.runs.store.put_condition(
            ConditionRecord(
                run_name=run.name,
                action_id=name,
                parent_id=parent,
                name=condition.name,
                prompt=condition.prompt,
                prompt_type="markdown" if markdown else "text",
                data_type=data_type,
                description=condition.description,
                created_at=now,
                timeout_at=now + timeout if timeout else None,
                webhook=json.dumps(webhook) if webhook else None,
            )
        )
        action.task = asyncio.ensure_future(self._wait(action, now + timeout if timeout else None, webhook))
        return action

    async def _wait(self, action: FlyteAction, timeout_at: float | None, webhook: dict[str, Any] | None) -> None:
        store, run = self.runs.store, action.run
        if webhook is not None:
            uri = f"{self.url}/api/v1/runs/{run.name}/conditions/{action.call_name}/signal"
            body = json.dumps(substitute(webhook.get("payload") or {}, uri)).encode()
            action.background = asyncio.ensure_future(asyncio.to_thread(self._post, action, webhook["url"], body))
        try:
            while True:
                record = store.get_condition(run.name, action.name)
                if record is not None and record.state != "waiting":
                    break
                if timeout_at is not None and time.time() >= timeout_at:
                    store.answer_condition(run.name, action.name, "timed_out", None, "not answered in time", None)
                    record = store.get_condition(run.name, action.name)
                    break
                await asyncio.sleep(POLL_S)
        except asyncio.CancelledError:
            store.answer_condition(run.name, action.name, "failed", None, "aborted", None)
            raise
        assert record is not None
        if record.state == "signalled" and record.value is not None:
            action.condition_value = literal(json.loads(record.value), action.condition_type or "str")
            self.runs.finish_waiting(action, SUCCEEDED, None)
        elif record.state == "timed_out":
            message = f"condition {action.call_name!r} was not answered in time"
            self.runs.finish_waiting(action, TIMED_OUT, execution_error("ConditionTimedOut", message, True))
        else:
            phase = ABORTED if record.reason == "aborted" else FAILED
            message = record.reason or "failed"
            self.runs.finish_waiting(action, phase, execution_error("ConditionFailed", message, True))

    def _post(self, action: FlyteAction, url: str, body: bytes) -> None:
        post_webhook(url, body, lambda line, stream: self._note(action, line, stream))

    def _note(self, action: FlyteAction, line: str, stream: str) -> None:
        self.runs.store.log(LogRecord(action.run.name, action.name, 0, time.time(), stream, line))


def _struct_json(struct: Any) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(struct)
