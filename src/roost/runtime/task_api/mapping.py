"""``flyte.map``: one task over many inputs, results in input order."""

from __future__ import annotations

import asyncio
import functools
import inspect
import warnings
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator
from typing import Any

from roost.runtime.task_api.task_context import group
from roost.task import TaskTemplate, call_handler


def _unwrap(func: Any) -> tuple[TaskTemplate[Any], tuple[Any, ...], dict[str, Any], str]:
    """The task, its bound arguments, and the one parameter the mapped items fill."""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    task = func
    if isinstance(func, functools.partial):
        task, args, kwargs = func.func, func.args, dict(func.keywords)
    if not isinstance(task, TaskTemplate):
        raise TypeError(f"map() needs a task or a functools.partial of one, got {type(task).__name__}")
    names = list(task.interface.inputs)
    positional = names[: len(args)]
    both = set(positional) & set(kwargs)
    if both:
        raise TypeError(f"map(): {', '.join(sorted(both))} bound both positionally and by keyword")
    # The mapped items are passed positionally after the partial's own arguments: a keyword naming
    # that next parameter would receive two values in every call, so it is refused here, once (SDK).
    slot = names[len(args)] if len(args) < len(names) else None
    if kwargs and slot in kwargs:
        raise TypeError(
            f"map(): parameter {slot!r} of {task.name} is bound by keyword in the partial, but the mapped "
            "items fill it positionally; bind the parameters before it, or map over it instead"
        )
    free = [n for n in names if n not in positional and n not in kwargs]
    if len(free) != 1 if isinstance(func, functools.partial) else not free:
        raise TypeError(
            f"map() needs a partial of {task.name} leaving exactly one input unbound, "
            f"but {len(free)} are unbound ({', '.join(free) or 'none'})"
        )
    return task, args, kwargs, free[0] if free else ""


def _calls(func: Any, iterables: tuple[Iterable[Any], ...]) -> tuple[TaskTemplate[Any], list[Call]]:
    task, args, kwargs, _ = _unwrap(func)
    return task, [((*args, *items), dict(kwargs)) for items in zip(*iterables)]


Call = tuple[tuple[Any, ...], dict[str, Any]]


def _group_name(task: TaskTemplate[Any], group_name: str | None) -> str:
    return f"{task.name}_{group_name or 'map'}"


async def _gather_in_order(
    starts: list[Awaitable[Any]], concurrency: int, return_exceptions: bool
) -> AsyncIterator[Any]:
    """Await the calls (at most ``concurrency`` at once; 0 = all), yielding results in input order."""
    limit = asyncio.Semaphore(concurrency) if concurrency > 0 else None

    async def one(awaitable: Awaitable[Any]) -> Any:
        if limit is None:
            return await awaitable
        async with limit:
            return await awaitable

    pending = [asyncio.ensure_future(one(a)) for a in starts]
    try:
        for future in pending:
            try:
                yield await future
            except Exception as e:
                if not return_exceptions:
                    raise
                yield e
    finally:
        for future in pending:
            future.cancel()


class _Map:
    """``flyte.map(func, *iterables, group_name=None, concurrency=0, return_exceptions=True)``.

    Inside a run the items run concurrently (``concurrency`` bounds how many; 0 = no bound) as
    actions of a group named ``"<task>_<group_name or 'map'>"``; results come in input order. With
    ``return_exceptions=True`` a failed item yields its error instead of a result.
    """

    def __call__(
        self,
        func: Any,
        *iterables: Iterable[Any],
        group_name: str | None = None,
        concurrency: int = 0,
        return_exceptions: bool = True,
    ) -> Iterator[Any]:
        task, calls = _calls(func, iterables)
        controller: Any = call_handler.get()
        if controller is None:
            warnings.warn("map() outside a run calls the task once per item, in order", UserWarning, stacklevel=2)
            return self._sequential(task, calls, return_exceptions)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "map() would block the event loop of this async task; use `async for r in flyte.map.aio(...)`"
            )
        # A sync task's thread: the actions are created here (their ids follow the input order), run
        # on the run's loop, and collected here.
        with group(_group_name(task, group_name)):
            actions = [controller.prepare(task, args, kwargs) for args, kwargs in calls]

        async def collect() -> list[Any]:
            starts = [controller.start(a) for a in actions]
            return [r async for r in _gather_in_order(starts, concurrency, return_exceptions)]

        return iter(asyncio.run_coroutine_threadsafe(collect(), controller.loop).result())

    @staticmethod
    def _sequential(task: TaskTemplate[Any], calls: list[Call], return_exceptions: bool) -> Iterator[Any]:
        for args, kwargs in calls:
            try:
                yield task(*args, **kwargs)
            except Exception as e:
                if not return_exceptions:
                    raise
                yield e

    async def aio(
        self,
        func: Any,
        *iterables: Iterable[Any],
        group_name: str | None = None,
        concurrency: int = 0,
        return_exceptions: bool = True,
    ) -> AsyncIterator[Any]:
        task, calls = _calls(func, iterables)
        if call_handler.get() is None:
            for args, kwargs in calls:
                try:
                    result = task(*args, **kwargs)
                    yield (await result) if inspect.isawaitable(result) else result
                except Exception as e:
                    if not return_exceptions:
                        raise
                    yield e
            return
        controller: Any = call_handler.get()
        with group(_group_name(task, group_name)):
            # Prepared now, in order, inside the group: their ids follow the input order.
            starts = [controller.acall(task, args, kwargs) for args, kwargs in calls]
        async for result in _gather_in_order(starts, concurrency, return_exceptions):
            yield result


map = _Map()
