"""Where roost keeps data, and whether the program said so (``init()``).

One process-wide ``StoreConfig``, replaced by ``configure()`` (the runtime calls it from ``init()`` and
when a run starts) and, for the code of one running action, by ``task_scope()`` (a context variable, so
concurrent actions in one process each see their own). Nothing here touches the disk.

APIs that SPEC marks "requires init()" (``File.from_local``, ``File.new_remote``, ...) call
``require_initialized()``: they work after ``configure()`` or inside a task, and raise
``InitializationError`` otherwise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from roost.errors import InitializationError, StoreError

HOME_ENV = "ROOST_HOME"


def default_home() -> Path:
    """``$ROOST_HOME``, or ``~/.roost`` where it is not set.

    Set but empty is refused rather than read as "not set": ``ROOST_HOME=$UNSET_VAR`` is a mistake, and
    quietly using ``~/.roost`` would mix its runs into another store.
    """
    env = os.environ.get(HOME_ENV)
    if env is None:
        return Path.home() / ".roost"
    if not env.strip():
        raise StoreError(
            f"{HOME_ENV} is set but empty: set it to the folder roost keeps its runs in, or unset it to use ~/.roost"
        )
    return Path(env).expanduser().resolve()


@dataclass(frozen=True)
class StoreConfig:
    """``home``: roost's state folder. ``raw_data_url``: the fsspec URL blobs are stored under.

    ``initialized`` is true once ``configure()`` ran; ``action_path`` (``"<run>/<action>"``) is set only
    while an action's code runs, and names the folder of ``File.named_remote``.
    """

    home: Path
    raw_data_url: str
    initialized: bool = False
    action_path: str = ""

    @classmethod
    def default(cls, home: Path | str | None = None) -> StoreConfig:
        root = Path(home).expanduser().resolve() if home is not None else default_home()
        return cls(home=root, raw_data_url=(root / "blobs").as_uri())

    @property
    def in_task(self) -> bool:
        return bool(self.action_path)


_configured: StoreConfig | None = None
# While an action's code runs: (the run's configuration, "<run>/<action>"). A pair rather than a
# StoreConfig so that entering an action costs one context-variable set, not a dataclass copy.
action_scope: ContextVar[tuple[StoreConfig, str] | None] = ContextVar("roost_store_scope", default=None)


def current() -> StoreConfig:
    """The configuration in force here: the running action's, else the process's, else the defaults."""
    scoped = action_scope.get()
    if scoped is not None:
        base, action_path = scoped
        return dataclasses.replace(base, initialized=True, action_path=action_path)
    if _configured is not None:
        return _configured
    # Not cached: ROOST_HOME may change (tests, a CLI flag) until configure() pins it.
    return StoreConfig.default()


def configure(*, home: Path | str | None = None, raw_data_url: str | None = None) -> StoreConfig:
    """Set the process-wide configuration and mark roost initialized. Returns the new configuration."""
    global _configured
    config = StoreConfig.default(home)
    if raw_data_url is not None:
        config = dataclasses.replace(config, raw_data_url=as_url(raw_data_url))
    _configured = dataclasses.replace(config, initialized=True)
    return _configured


def reset() -> None:
    """Forget ``configure()``: back to the defaults, not initialized (tests, ``roost`` shutdown)."""
    global _configured
    _configured = None


@contextlib.contextmanager
def task_scope(action_path: str, *, raw_data_url: str | None = None) -> Iterator[StoreConfig]:
    """The configuration seen by one action's code: initialized, with its ``action_path``."""
    base = current()
    if raw_data_url:
        base = dataclasses.replace(base, raw_data_url=as_url(raw_data_url))
    token = action_scope.set((base, action_path.strip("/")))
    try:
        yield current()
    finally:
        action_scope.reset(token)


def require_initialized(api: str) -> StoreConfig:
    """The current configuration, or InitializationError when neither ``init()`` ran nor a task runs."""
    config = current()
    if not (config.initialized or config.in_task):
        raise InitializationError(
            "NotInitialized",
            "user",
            f"{api} requires initialization: call roost.init() first (or use it inside a task)",
        )
    return config


def as_url(location: str) -> str:
    """A bare local path becomes a file:// URL; URLs pass through."""
    if "://" in location:
        return location.rstrip("/")
    return Path(location).expanduser().resolve().as_uri()
