"""``flyte.trace``: helpers whose calls inside a task are recorded as pseudo-actions.

A traced call runs in its caller, like any function call, but the run records it as a child action
of the calling action (isolation ``trace``): its inputs, its outputs or its error, its times. Its id
is made as a task call's is (parent, inputs hash, name, call position, group), so a recovered run
(``rerun(NAME, recover=True)``) finds the call again and answers it from the recorded outputs
instead of running the helper a second time -- the point of tracing an expensive or non-idempotent
step (an API call, a model query) inside a task.

Inputs and outputs are converted by the type engine from the helper's annotations (unannotated
ones are pickled); a value that cannot be converted is not recorded (a warning says so, once per
helper), and the helper still runs and returns as it would untraced. Calling a task from inside a
traced helper is a TraceDoesNotAllowNestedTasksError. Outside a task a traced helper is a plain
call. Generators are recorded (inputs, phase, times) but not replayed: what they yield is consumed
as it comes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from roost.errors import TraceDoesNotAllowNestedTasksError
from roost.interface import NativeInterface
from roost.runtime import values
from roost.runtime.ids import child_action_id
from roost.runtime.messages import TraceBegin, TraceEnd
from roost.runtime.task_api.task_context import current_action, current_group
from roost.runtime.wire import error_to_wire
from roost.task import TaskTemplate, call_handler
from roost.types.task_io import MAX_INLINE_IO_BYTES

logger = logging.getLogger("roost")


@dataclass(frozen=True)
class TracedFunction:
    """What the recording needs of a traced helper: what ``values`` asks of a task."""

    name: str
    short_name: str
    interface: NativeInterface
    max_inline_io_bytes: int = MAX_INLINE_IO_BYTES


@dataclass(slots=True)
class TraceCall:
    """One call of a traced helper, as its caller's handler records it."""

    traced: TracedFunction
    parent: Any
    action_id: str
    encoded: values.EncodedInputs
    group: str | None


def describe(func: Callable[..., Any]) -> TracedFunction:
    interface = NativeInterface.from_callable(func)
    if interface.return_type is None and not inspect.isgeneratorfunction(func):
        # An unannotated helper still returns something worth replaying: keep it, pickled.
        interface = dataclasses.replace(interface, outputs={"o0": Any}, return_type=Any)
    name = f"{func.__module__}.{func.__qualname__}"
    return TracedFunction(name=name, short_name=func.__name__, interface=interface)


def _begin_call(traced: TracedFunction, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, TraceCall] | None:
    """The caller's handler and the call it records (its deterministic id given now, in the caller);
    None when the call is not recorded (see ``_recording``) or its arguments cannot be -- the helper is
    then called as a plain function, so a wrong call fails as Python would say, and tracing never
    breaks code that works untraced."""
    handler = call_handler.get()
    if not _recording(handler):
        return None
    parent = current_action.get()
    try:
        bound = traced.interface.bind(args, kwargs, traced.name)
        encoded = values.encode_inputs(traced, bound)  # type: ignore[arg-type]
    except Exception as e:
        _warn_once(traced, "inputs", e)
        return None
    group = current_group.get()
    seq = parent.next_seq(traced.name, encoded.hash, group)  # type: ignore[union-attr]
    action_id = child_action_id(parent.id, encoded.hash, traced.name, seq, group)  # type: ignore[union-attr]
    return handler, TraceCall(traced, parent, action_id, encoded, group)


_WARNED: set[tuple[str, str]] = set()


def _warn_once(traced: TracedFunction, what: str, error: Exception) -> None:
    if (traced.name, what) not in _WARNED:
        _WARNED.add((traced.name, what))
        consequence = "its calls run unrecorded" if what == "inputs" else "its calls are recorded without outputs"
        logger.warning("@flyte.trace %s: its %s cannot be recorded (%s): %s", traced.name, what, error, consequence)


# -- what a worker or a Ray task tells its controller about a traced call -----------------------------
def begin_note(call: TraceCall) -> TraceBegin:
    """A traced call starting, as a message to the controller (``TraceRecords.begin``'s arguments)."""
    return TraceBegin(
        call.parent.id,
        call.action_id,
        call.traced.name,
        call.traced.short_name,
        call.group,
        call.encoded.data,
        call.encoded.hash,
    )


def end_note(call: TraceCall, outputs: bytes | None, error: BaseException | None) -> TraceEnd:
    """A traced call ending: its packed outputs, or its error as it travels."""
    return TraceEnd(call.parent.id, call.action_id, outputs, None if error is None else error_to_wire(error))


def replayed(call: TraceCall, replay: bool) -> bytes | None:
    """The outputs a recovered run sent along with the calling action for this call, if any."""
    answer = call.parent.replay.get(call.action_id) if replay else None
    return answer[1] if answer is not None and answer[0] == call.traced.name else None  # type: ignore[no-any-return]


def _recording(handler: Any) -> bool:
    """Whether the current code runs in an action whose handler records traces (not inside another
    traced helper, where calls are plain, and not where the executor does not record them)."""
    return current_action.get() is not None and getattr(handler, "records_traces", False)


def _outputs(call: TraceCall, result: Any) -> bytes | None:
    """The result as recorded; None (not replayable) when it cannot be converted."""
    try:
        return values.encode_outputs(call.traced, result).data  # type: ignore[arg-type]
    except Exception as e:
        _warn_once(call.traced, "outputs", e)
        return None


@contextlib.contextmanager
def _failure_recorded(handler: Any, call: TraceCall) -> Iterator[None]:
    """Around a traced call's body: an exception that ends it is recorded as its end, then raised on."""
    try:
        yield
    except BaseException as e:
        handler.trace_end(call, None, e)
        raise


def _replayed(call: TraceCall, outputs: bytes) -> Any:
    return values.decode_outputs(call.traced, outputs)  # type: ignore[arg-type]


def trace(func: Callable[..., Any]) -> Callable[..., Any]:
    """Record each call of ``func`` made inside a task as a pseudo-action of the calling action."""
    traced = describe(func)
    if inspect.isasyncgenfunction(func):
        return _trace_async_generator(func, traced)
    if inspect.isgeneratorfunction(func):
        return _trace_generator(func, traced)
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            begun = _begin_call(traced, args, kwargs)
            if begun is None:
                with _no_tasks():
                    return await func(*args, **kwargs)
            handler, call = begun
            recorded = await handler.trace_begin(call)
            if recorded is not None:
                return _replayed(call, recorded)
            with _failure_recorded(handler, call), _no_tasks():
                result = await func(*args, **kwargs)
            handler.trace_end(call, _outputs(call, result), None)
            return result

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        begun = _begin_call(traced, args, kwargs)
        if begun is None:
            with _no_tasks():
                return func(*args, **kwargs)
        handler, call = begun
        recorded = handler.trace_begin_blocking(call)
        if recorded is not None:
            return _replayed(call, recorded)
        with _failure_recorded(handler, call), _no_tasks():
            result = func(*args, **kwargs)
        handler.trace_end(call, _outputs(call, result), None)
        return result

    return wrapper


def _trace_generator(func: Callable[..., Any], traced: TracedFunction) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        begun = _begin_call(traced, args, kwargs)
        if begun is None:
            yield from _steps(func(*args, **kwargs))
            return
        handler, call = begun
        handler.trace_begin_blocking(call, replay=False)
        with _failure_recorded(handler, call):
            yield from _steps(func(*args, **kwargs))
        handler.trace_end(call, None, None)

    return wrapper


def _trace_async_generator(func: Callable[..., Any], traced: TracedFunction) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        begun = _begin_call(traced, args, kwargs)
        if begun is None:
            async for item in _async_steps(func(*args, **kwargs)):
                yield item
            return
        handler, call = begun
        await handler.trace_begin(call, replay=False)
        with _failure_recorded(handler, call):
            async for item in _async_steps(func(*args, **kwargs)):
                yield item
        handler.trace_end(call, None, None)

    return wrapper


def _steps(generator: Any) -> Any:
    """Each step of a traced generator refuses task calls; the caller's code between steps does not."""
    while True:
        with _no_tasks():
            try:
                item = next(generator)
            except StopIteration:
                return
        yield item


async def _async_steps(generator: Any) -> Any:
    while True:
        with _no_tasks():
            try:
                item = await generator.__anext__()
            except StopAsyncIteration:
                return
        yield item


class _no_tasks:
    """Inside a traced helper (in a task), task calls are refused; outside any task, nothing changes."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = call_handler.set(_NO_TASKS if current_action.get() is not None else None)

    def __exit__(self, *exc: object) -> None:
        call_handler.reset(self._token)


class _NoTasks:
    """The call handler inside a traced function: it refuses task calls (and records no traces)."""

    records_traces = False

    def call(self, task: TaskTemplate[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        raise TraceDoesNotAllowNestedTasksError(
            f"{task.name} was called inside a @trace function; tasks cannot be called there"
        )

    acall = call


_NO_TASKS = _NoTasks()
