"""TaskTemplate: a decorated function with its resolved settings.

Called outside a run, a task is its plain function. Inside a run, the run's controller installs a
call handler (a context variable) and every call becomes a child action; this module only knows the
handler's two-method protocol, so definitions never import the execution layer.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import sys
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from roost._loading import load_module, module_location
from roost.errors import user_error_from
from roost.interface import NativeInterface
from roost.spec.cache import Cache, CacheRequest, normalize_cache
from roost.spec.docs import Documentation
from roost.spec.image import Image
from roost.spec.plugins import TaskPluginRegistry
from roost.spec.pod_template import PodTemplate
from roost.spec.resources import Resources
from roost.spec.retries import RetryStrategy, normalize_retries
from roost.spec.reuse import ReusePolicy
from roost.spec.secrets import SecretRequest
from roost.spec.timeouts import TimeoutType

if TYPE_CHECKING:
    # The base class: task_environment.py builds tasks, so naming TaskEnvironment here would be a circle.
    from roost.spec.environment import Environment

logger = logging.getLogger("roost")

MAX_INLINE_IO_BYTES = 10 * 1024 * 1024

R = TypeVar("R")


class CallHandler(Protocol):
    """What a running controller offers to task calls made inside a run."""

    def call(self, task: TaskTemplate, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any: ...

    def acall(self, task: TaskTemplate, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Awaitable[Any]: ...


# Set by the controller for the code of a running action; None in plain Python.
call_handler: ContextVar[CallHandler | None] = ContextVar("roost_call_handler", default=None)

_NOT_OVERRIDABLE = ("name", "image", "docs", "interface")
_OVERRIDE_FALSY_KEEPS = (
    "short_name",
    "resources",
    "cache",
    "retries",
    "timeout",
    "env_vars",
    "secrets",
    "service_account",
    "max_inline_io_bytes",
    "pod_template",
    "queue",
    "links",
)
_OVERRIDE_NONE_KEEPS = ("interruptible", "entrypoint", "produces_artifacts")


def _normalize_image(image: object) -> Image | None:
    if image == "auto":
        return Image.from_debian_base()
    if isinstance(image, str):
        return Image.from_base(image)
    return image  # type: ignore[return-value]


@dataclass(kw_only=True, eq=False)
class TaskTemplate(Generic[R]):
    """The settings of one task, after the environment, decorator and overrides are merged.

    Tasks compare and hash by identity: two decorations of one function are two tasks.
    """

    name: str
    interface: NativeInterface
    short_name: str = ""
    task_type: str = "python"
    task_type_version: int = 0
    image: str | Image | None = "auto"
    resources: Resources | None = None
    cache: CacheRequest = "disable"
    interruptible: bool = False
    retries: int | RetryStrategy = 0
    reusable: ReusePolicy | None = None
    docs: Documentation | None = None
    env_vars: dict[str, str] | None = None
    secrets: SecretRequest | None = None
    service_account: str | None = None
    timeout: TimeoutType | None = None
    pod_template: str | PodTemplate | None = None
    report: bool = False
    queue: str | None = None
    debuggable: bool = False
    entrypoint: bool = False
    produces_artifacts: bool = False
    parent_env: weakref.ref[Environment] | None = None
    parent_env_name: str | None = None
    max_inline_io_bytes: int = MAX_INLINE_IO_BYTES
    triggers: tuple[Any, ...] = ()
    links: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        self.image = _normalize_image(self.image)
        self.cache = normalize_cache(self.cache)
        self.retries = normalize_retries(self.retries)
        if not self.short_name:
            self.short_name = self.name
        if self.service_account is not None and not isinstance(self.service_account, str):
            raise TypeError(f"Expected service_account to be of type str, got {type(self.service_account).__name__}")
        if not isinstance(self.triggers, tuple):
            self.triggers = tuple(self.triggers) if isinstance(self.triggers, list) else (self.triggers,)
        if not isinstance(self.links, tuple):
            self.links = tuple(self.links) if isinstance(self.links, list) else (self.links,)
        self._compiled: Any = None

    # -- identity -------------------------------------------------------------------------------
    @property
    def native_interface(self) -> NativeInterface:
        return self.interface

    @property
    def env(self) -> Environment | None:
        """The environment this task was declared in, while it is alive."""
        return self.parent_env() if self.parent_env is not None else None

    @property
    def cache_policy(self) -> Cache:
        return self.cache  # type: ignore[return-value]

    @property
    def retry_strategy(self) -> RetryStrategy:
        return self.retries  # type: ignore[return-value]

    @property
    def json_schema(self) -> dict[str, Any]:
        from roost.types.schema import interface_schema

        return interface_schema(self.interface)

    def __getstate__(self) -> dict[str, Any]:
        # A weak reference cannot be pickled; the environment is found again by name if needed.
        state = dict(self.__dict__)
        state["parent_env"] = None
        state["_compiled"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # -- calling --------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the body directly, with no run, action, type conversion, cache or retries."""
        raise NotImplementedError(f"{type(self).__name__} has no Python body to call")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        handler = call_handler.get()
        if handler is not None:
            return handler.call(self, args, kwargs)
        return self._call_outside_run(args, kwargs)

    def _call_outside_run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.forward(*args, **kwargs)

    async def aio(self, *args: Any, **kwargs: Any) -> Any:
        """The awaitable form of a call: ``await task.aio(...)`` works for sync and async tasks."""
        handler = call_handler.get()
        if handler is not None:
            return await handler.acall(self, args, kwargs)
        logger.warning(
            "%s.aio() called outside a run: calling the function directly (no action is recorded)", self.name
        )
        return self.forward(*args, **kwargs)

    # -- overrides ------------------------------------------------------------------------------
    def override(
        self,
        *,
        short_name: str | None = None,
        resources: Resources | None = None,
        cache: CacheRequest | None = None,
        retries: int | RetryStrategy = 0,
        timeout: TimeoutType | None = None,
        reusable: ReusePolicy | str | None = None,
        env_vars: dict[str, str] | None = None,
        secrets: SecretRequest | None = None,
        service_account: str | None = None,
        max_inline_io_bytes: int | None = None,
        pod_template: str | PodTemplate | None = None,
        queue: str | None = None,
        interruptible: bool | None = None,
        entrypoint: bool | None = None,
        produces_artifacts: bool | None = None,
        links: tuple[Any, ...] | list[Any] | None = None,
        plugin_config: Any = None,
        **kwargs: Any,
    ) -> TaskTemplate[R]:
        """A copy with call-time settings changed; the original is untouched and the name is kept.

        Falsy values keep the current setting (``retries=0`` keeps the retries). With reuse on,
        resources, env_vars, secrets and service_account cannot change per call, since the warm
        replica that serves the call was started with the old ones; pass ``reusable="off"``.
        """
        for key in kwargs:
            if key in _NOT_OVERRIDABLE:
                raise ValueError(f"{key} cannot be overridden")
        if kwargs:
            raise TypeError(f"{self.name}.override() got unexpected keyword arguments: {sorted(kwargs)}")
        if reusable == "off":
            new_reusable: ReusePolicy | None = None
        elif reusable is None:
            new_reusable = self.reusable
        elif isinstance(reusable, ReusePolicy):
            new_reusable = reusable
        else:
            raise TypeError(f"reusable must be a ReusePolicy or 'off', got {reusable!r}")
        if new_reusable is not None:
            for label, value in (
                ("resources", resources),
                ("env_vars", env_vars),
                ("secrets", secrets),
                ("service_account", service_account),
            ):
                if value:
                    raise ValueError(
                        f"Cannot override {label} of {self.name}: its environment is reusable and a warm "
                        f"replica cannot change its {label} per call; pass reusable='off' to run it without reuse"
                    )
        given = {
            "short_name": short_name,
            "resources": resources,
            "cache": cache,
            "retries": retries,
            "timeout": timeout,
            "env_vars": env_vars,
            "secrets": secrets,
            "service_account": service_account,
            "max_inline_io_bytes": max_inline_io_bytes,
            "pod_template": pod_template,
            "queue": queue,
            "links": links,
            "interruptible": interruptible,
            "entrypoint": entrypoint,
            "produces_artifacts": produces_artifacts,
        }
        changes: dict[str, Any] = {"reusable": new_reusable}
        for key in _OVERRIDE_FALSY_KEEPS:
            if given[key]:
                changes[key] = given[key]
        for key in _OVERRIDE_NONE_KEEPS:
            if given[key] is not None:
                changes[key] = given[key]
        if plugin_config is not None:
            return self._with_plugin(plugin_config, changes)
        return dataclasses.replace(self, **changes)

    def _with_plugin(self, plugin_config: Any, changes: dict[str, Any]) -> TaskTemplate[R]:
        raise ValueError(f"{type(self).__name__} cannot take a plugin_config")

    # -- extension hooks (plugins override these) ------------------------------------------------
    async def pre(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {}

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def post(self, return_vals: Any) -> Any:
        return return_vals

    def config(self, sctx: Any = None) -> dict[str, str]:
        return {}

    def custom_config(self, sctx: Any = None) -> dict[str, Any]:
        return {}

    def container_args(self, sctx: Any = None) -> list[str]:
        return []

    def data_loading_config(self, sctx: Any = None) -> Any:
        return None

    def sql(self, sctx: Any = None) -> str | None:
        return None


@dataclass(kw_only=True, eq=False)
class AsyncFunctionTaskTemplate(TaskTemplate[R]):
    """The template for a Python function, sync or async (the name is historical)."""

    func: Callable[..., Any]
    interface: NativeInterface = None  # type: ignore[assignment]
    plugin_config: Any = None
    task_resolver: Any = None
    debuggable: bool = True

    def __post_init__(self) -> None:
        if not callable(self.func):
            raise TypeError(f"Task {self.name}: func must be callable, got {type(self.func).__name__}")
        if self.interface is None:
            self.interface = NativeInterface.from_callable(self.func)
        super().__post_init__()
        # Sync bodies are called without awaiting; the runtime runs them off the event loop.
        self.is_async = inspect.iscoroutinefunction(self.func)

    @property
    def source_file(self) -> str | None:
        try:
            return inspect.getsourcefile(self.func)
        except TypeError:
            return None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        # A decorated function's module attribute is the template, not the function, so pickle cannot
        # find the function by name; record where the template lives and fetch its func on load.
        module = sys.modules.get(getattr(self.func, "__module__", ""), None)
        holder = getattr(module, getattr(self.func, "__name__", ""), None)
        if isinstance(holder, AsyncFunctionTaskTemplate) and holder.func is self.func:
            state["func"] = _FuncRef(module_location(self.func.__module__), self.func.__name__)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        ref = state.get("func")
        if isinstance(ref, _FuncRef):
            state["func"] = getattr(load_module(ref.module), ref.name).func
        super().__setstate__(state)

    def _call_outside_run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.is_async:
            return self.func(*args, **kwargs)
        try:
            return self.func(*args, **kwargs)
        except Exception as e:
            # As on the platform, a sync task's failure surfaces as a RuntimeUserError; roost's error is
            # also an instance of the original class, so `except ValueError` keeps working.
            raise user_error_from(e) from e

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return await self.func(*args, **kwargs)
        return self.func(*args, **kwargs)

    def _with_plugin(self, plugin_config: Any, changes: dict[str, Any]) -> TaskTemplate[R]:
        plugin_cls = TaskPluginRegistry.for_config(plugin_config)
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        values.update(changes)
        values["plugin_config"] = plugin_config
        return plugin_cls(**values)


@dataclass(frozen=True)
class _FuncRef:
    """Where a pickled template's function can be found again: ``module.name.func``."""

    module: str
    name: str


def is_task(obj: object) -> bool:
    return isinstance(obj, TaskTemplate)
