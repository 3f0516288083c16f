"""``flyte.new_condition`` and ``flyte.ConditionWebhook``: a task pauses until someone answers.

Inside a task, ``new_condition`` records the condition as a child action of the calling one (and
posts its webhook); ``await condition.wait.aio()`` (or ``condition.wait()`` in sync code) returns the
answer converted to ``data_type``, or raises ``ConditionTimedoutError`` / ``ConditionFailedError``.
The run's controller does the recording and the waiting (``engine/condition_waits.py``), for code
inline or in a worker process alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import msgpack

from roost.runtime.ids import child_action_id
from roost.runtime.messages import CallRequest, TaskRef
from roost.runtime.task_api.task_context import current_action, current_group
from roost.task import call_handler

PromptType = Literal["text", "markdown"]
DATA_TYPES: dict[type, str] = {bool: "bool", int: "int", float: "float", str: "str"}


@dataclass
class ConditionWebhook:
    """Where to POST when the condition is created. Any string of ``payload`` may hold
    ``{callback_uri}``, replaced by what answers the condition (the server's endpoint for it, or a
    ``roost signal`` command line without a server)."""

    url: str
    payload: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise ValueError(f"ConditionWebhook url must be an http:// or https:// URL, got {self.url!r}")
        if self.payload is not None and not isinstance(self.payload, dict):
            raise TypeError(f"ConditionWebhook payload must be a dict, got {type(self.payload).__name__}")


@dataclass
class Condition:
    """A condition an action can wait on (what ``flyte.new_condition`` returns)."""

    name: str
    prompt: str = "Approve?"
    prompt_type: PromptType = "text"
    data_type: type = bool
    description: str = ""
    timeout: timedelta | int | float | None = None
    webhook: ConditionWebhook | None = None
    _action_id: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ValueError(f"a condition's name is a non-empty string without '/', got {self.name!r}")
        if self.data_type not in DATA_TYPES:
            raise TypeError(f"Invalid data_type {self.data_type!r}. Must be one of (bool, int, float, str).")
        if self.prompt_type not in ("text", "markdown"):
            raise ValueError(f"prompt_type must be 'text' or 'markdown', got {self.prompt_type!r}")
        if self.timeout is not None and self.timeout_seconds <= 0:  # type: ignore[operator]
            raise ValueError("timeout must be positive")
        if self.webhook is not None and not isinstance(self.webhook, ConditionWebhook):
            raise TypeError("webhook must be a flyte.ConditionWebhook")

    @property
    def timeout_seconds(self) -> float | None:
        if self.timeout is None:
            return None
        if isinstance(self.timeout, timedelta):
            return self.timeout.total_seconds()
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)):
            raise TypeError(f"timeout must be a timedelta or a number of seconds, got {type(self.timeout).__name__}")
        return float(self.timeout)

    def spec(self) -> dict[str, Any]:
        """What the controller records of it."""
        hook = {"url": self.webhook.url, "payload": self.webhook.payload} if self.webhook else None
        return {
            "name": self.name,
            "prompt": str(self.prompt),
            "prompt_type": self.prompt_type,
            "data_type": DATA_TYPES[self.data_type],
            "description": str(self.description),
            "timeout": self.timeout_seconds,
            "webhook": hook,
        }

    def _handler(self) -> Any:
        handler = call_handler.get()
        if handler is None or current_action.get() is None or self._action_id is None:
            raise RuntimeError("Conditions can only be awaited within a task context.")
        return handler

    def _wait(self) -> Any:
        handler = self._handler()
        if threading.get_ident() == handler._loop_thread:
            raise RuntimeError("condition.wait() would block the run's event loop: use `await condition.wait.aio()`")
        return asyncio.run_coroutine_threadsafe(handler.wait_condition(self), handler.loop).result()

    async def _wait_aio(self) -> Any:
        handler = self._handler()
        if threading.get_ident() == handler._loop_thread:
            return await handler.wait_condition(self)
        # Awaited on another thread's loop (a sync task that ran asyncio.run): the wait is the run's.
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(handler.wait_condition(self), handler.loop))

    @property
    def wait(self) -> _Wait:
        """``condition.wait()`` (sync code) / ``await condition.wait.aio()`` (async code)."""
        return _Wait(self)


class _Wait:
    def __init__(self, condition: Condition):
        self._condition = condition

    def __call__(self) -> Any:
        return self._condition._wait()

    def aio(self) -> Any:
        return self._condition._wait_aio()


def coerce(value: Any, data_type: str) -> Any:
    """An answer as the condition's type; a ValueError naming what is expected otherwise. Text (from a
    command line) is read: ``true``/``false``/``yes``/``no``/``1``/``0`` for bool."""
    if data_type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "y", "1"):
            return True
        if text in ("false", "no", "n", "0"):
            return False
        raise ValueError(f"expected true or false, got {value!r}")
    if data_type == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected a whole number, got {value!r}")
        try:
            return int(value) if not isinstance(value, str) else int(value.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
    if data_type == "float":
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {value!r}") from None
    if data_type == "str":
        return value if isinstance(value, str) else str(value)
    raise ValueError(f"unknown condition type {data_type!r}")


def _new_condition(condition: Condition) -> Condition:
    handler, parent = call_handler.get(), current_action.get()
    if handler is None or parent is None:
        return condition  # outside a task: nothing to record (as Flyte)
    spec = condition.spec()
    data = msgpack.packb(spec, use_bin_type=True)
    digest = hashlib.sha256(data).hexdigest()
    group = current_group.get()
    key = f"condition:{condition.name}"
    seq = parent.next_seq(key, digest, group)  # type: ignore[attr-defined]
    condition._action_id = child_action_id(parent.id, digest, key, seq, group)  # type: ignore[attr-defined]
    handler.register_condition(condition, parent, data, group)  # type: ignore[attr-defined]
    return condition


def condition_message(
    condition: Condition, parent_id: str, kind: str, data: bytes, group: str | None, call: Any
) -> CallRequest:
    """A condition's registration (``kind`` "condition") or wait ("condition_wait") as it travels to the
    controller from a worker process."""
    ref = TaskRef(name=condition.name, role=kind)
    return CallRequest(call, parent_id, condition._action_id or "", ref, data, "", group, {})


class _NewCondition:
    """``flyte.new_condition(name, prompt=..., ...)`` and its awaitable form ``.aio(...)``."""

    def __call__(
        self,
        name: str,
        /,
        prompt: str = "Approve?",
        prompt_type: PromptType = "text",
        data_type: type = bool,
        description: str = "",
        timeout: timedelta | int | float | None = None,
        webhook: ConditionWebhook | None = None,
    ) -> Condition:
        return _new_condition(Condition(name, prompt, prompt_type, data_type, description, timeout, webhook))

    async def aio(self, name: str, /, **kwargs: Any) -> Condition:
        return self(name, **kwargs)


new_condition = _NewCondition()
