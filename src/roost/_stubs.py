"""Run-time names whose engine has not landed yet.

Those with a meaning outside a run (``ctx``, ``group``, ``map``, ``trace``, ``custom_context``)
already behave as they do outside a run; the rest raise NotImplementedError with a clear message.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def _not_yet(name: str) -> Callable[..., Any]:
    def stub(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"roost.{name}() is not available yet: the run engine has not landed")

    async def aio(*args: Any, **kwargs: Any) -> Any:
        return stub(*args, **kwargs)

    stub.__name__ = stub.__qualname__ = name
    stub.aio = aio  # type: ignore[attr-defined]
    return stub


init = _not_yet("init")
init_from_config = _not_yet("init_from_config")
init_from_api_key = _not_yet("init_from_api_key")
init_in_cluster = _not_yet("init_in_cluster")
init_passthrough = _not_yet("init_passthrough")
run = _not_yet("run")
with_runcontext = _not_yet("with_runcontext")
rerun = _not_yet("rerun")
deploy = _not_yet("deploy")
build = _not_yet("build")
build_images = _not_yet("build_images")
serve = _not_yet("serve")
with_servecontext = _not_yet("with_servecontext")


class _NullContext:
    """What ``ctx()`` returns outside a task: falsy, every field ``None``."""

    def __bool__(self) -> bool:
        return False

    def __getattr__(self, name: str) -> None:
        return None


_NULL = _NullContext()


def ctx() -> Any:
    return _NULL


@contextlib.contextmanager
def group(name: str) -> Iterator[None]:
    yield


@contextlib.contextmanager
def custom_context(**kv: str) -> Iterator[None]:
    yield


def get_custom_context() -> dict[str, str]:
    return {}


def trace(func: Callable[..., Any]) -> Callable[..., Any]:
    return func


def map(
    func: Any,
    *iterables: Iterable[Any],
    group_name: str | None = None,
    concurrency: int = 0,
    return_exceptions: bool = True,
) -> Iterator[Any]:
    warnings.warn("roost.map outside a run calls the task once per item, in order", UserWarning, stacklevel=2)
    for args in zip(*iterables):
        try:
            yield func(*args)
        except Exception as e:
            if not return_exceptions:
                raise
            yield e
