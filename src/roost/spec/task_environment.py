"""TaskEnvironment: an environment whose functions become tasks through ``@env.task``."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

from roost.spec.cache import Cache, CacheRequest
from roost.spec.docs import Documentation
from roost.spec.environment import Environment
from roost.spec.image import Image
from roost.spec.plugins import TaskPluginRegistry
from roost.spec.pod_template import PodTemplate
from roost.spec.resources import Resources
from roost.spec.retries import RetryStrategy
from roost.spec.reuse import ReusePolicy
from roost.spec.secrets import Secret, SecretRequest, normalize_secrets
from roost.spec.timeouts import TimeoutType
from roost.task import MAX_INLINE_IO_BYTES, AsyncFunctionTaskTemplate, TaskTemplate

F = TypeVar("F", bound=Callable[..., Any])

_CLONE_EXTRA_KWARGS = ("cache", "reusable")


def _merge_secrets(base: SecretRequest | None, extra: SecretRequest | None) -> list[str | Secret] | None:
    """The environment's secrets followed by the task's additional ones, without repeats."""
    if not extra:
        return base  # type: ignore[return-value]
    merged: list[Secret] = list(normalize_secrets(base))
    for s in normalize_secrets(extra):
        if s not in merged:
            merged.append(s)
    return merged  # type: ignore[return-value]


@dataclass
class TaskEnvironment(Environment):
    """An environment for tasks: adds a default cache, a reuse policy, a plugin config and a queue."""

    cache: CacheRequest = "disable"
    reusable: ReusePolicy | None = None
    plugin_config: Any = None
    queue: str | None = None
    _tasks: dict[str, TaskTemplate[Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _validate(self) -> None:
        super()._validate()
        if (
            self.reusable is not None
            and self.plugin_config is not None
            and not TaskPluginRegistry.supports_reuse(self.plugin_config)
        ):
            raise ValueError(
                f"Cannot set plugin_config when environment {self.name!r} is reusable: the plugin for "
                f"{type(self.plugin_config).__qualname__} does not support reuse"
            )
        if self.reusable and not isinstance(self.reusable, ReusePolicy):
            raise TypeError(f"Expected reusable to be of type ReusePolicy, got {type(self.reusable).__name__}")
        if self.cache and not isinstance(self.cache, (str, Cache)):
            raise TypeError(f"Expected cache to be of type str or Cache, got {type(self.cache).__name__}")
        # Deliberately not validating cache strings here: the platform checks them when a task is built.

    @property
    def tasks(self) -> dict[str, TaskTemplate[Any]]:
        """The tasks declared in this environment, by fully qualified name, in declaration order."""
        return self._tasks

    # -- cloning ---------------------------------------------------------------------------------
    def clone_with(
        self,
        name: str,
        image: str | Image | Literal["auto"] | None = None,
        resources: Resources | None = None,
        env_vars: dict[str, str] | None = None,
        secrets: SecretRequest | None = None,
        depends_on: list[Environment] | None = None,
        description: str | None = None,
        interruptible: bool | None = None,
        include: tuple[str, ...] | None = None,
        service_account: str | None = None,
        **kwargs: Any,
    ) -> TaskEnvironment:
        """A new environment like this one, with the given fields changed and no tasks.

        ``None`` means "inherit", except for ``reusable``: passing ``reusable=None`` turns reuse off.
        """
        unexpected = [k for k in kwargs if k not in _CLONE_EXTRA_KWARGS]
        if unexpected:
            raise TypeError(f"clone_with() got unexpected keyword arguments: {unexpected}")
        values = self._get_kwargs()
        values.update(cache=self.cache, reusable=self.reusable, plugin_config=self.plugin_config, queue=self.queue)
        explicit = {
            "image": image,
            "resources": resources,
            "env_vars": env_vars,
            "secrets": secrets,
            "depends_on": list(depends_on) if depends_on is not None else None,
            "description": description,
            "interruptible": interruptible,
            "include": include,
            "service_account": service_account,
            "cache": kwargs.get("cache"),
        }
        values.update({k: v for k, v in explicit.items() if v is not None})
        if "reusable" in kwargs:
            values["reusable"] = kwargs["reusable"]
        return TaskEnvironment(name=name, **values)

    # -- tasks -----------------------------------------------------------------------------------
    @classmethod
    def from_task(
        cls, name: str, *tasks: TaskTemplate[Any], depends_on: list[Environment] | None = None
    ) -> TaskEnvironment:
        """An environment around tasks that were built without one."""
        for t in tasks:
            if t.env is not None:
                raise ValueError(f"Task {t.name} already belongs to environment {t.parent_env_name!r}")
        images: list[Any] = []
        for t in tasks:
            if t.image not in images:
                images.append(t.image)
        if len(images) > 1:
            raise ValueError(f"Tasks given to from_task use different images: {images}")
        env = cls(name=name, image=images[0] if images else "auto", depends_on=list(depends_on or []))
        for t in tasks:
            t.parent_env = weakref.ref(env)
            t.parent_env_name = env.name
            env._tasks[t.name] = t
        return env

    def add_task(self, task: TaskTemplate[Any]) -> TaskTemplate[Any]:
        """Add a task built elsewhere; a task with the same name already here is an error."""
        if not isinstance(task, TaskTemplate):
            raise TypeError(f"add_task expects a TaskTemplate, got {type(task).__name__}")
        if task.name in self._tasks:
            raise ValueError(f"Task {task.name} already exists in environment {self.name!r}; task names must be unique")
        self._tasks[task.name] = task
        task.parent_env = weakref.ref(self)
        task.parent_env_name = self.name
        return task

    @overload
    def task(self, _func: F) -> AsyncFunctionTaskTemplate[Any]: ...

    @overload
    def task(self, _func: None = None, **kwargs: Any) -> Callable[[F], AsyncFunctionTaskTemplate[Any]]: ...

    def task(
        self,
        _func: Callable[..., Any] | None = None,
        *,
        short_name: str | None = None,
        cache: CacheRequest | None = None,
        retries: int | RetryStrategy = 0,
        timeout: TimeoutType = 0,
        docs: Documentation | None = None,
        pod_template: str | PodTemplate | None = None,
        report: bool = False,
        interruptible: bool | None = None,
        max_inline_io_bytes: int = MAX_INLINE_IO_BYTES,
        queue: str | None = None,
        service_account: str | None = None,
        triggers: Any = (),
        links: Any = (),
        task_resolver: Any = None,
        entrypoint: bool = False,
        produces_artifacts: bool = False,
        resources: Resources | None = None,
        env_vars: dict[str, str] | None = None,
        secrets: SecretRequest | None = None,
        image: str | Image | None = None,
    ) -> Any:
        """Make a function a task of this environment: ``@env.task`` or ``@env.task(retries=3, ...)``.

        Beyond the platform's keywords, roost accepts the design documents' forms ``resources=`` and ``image=``
        (replacing the environment's) and ``env_vars=`` / ``secrets=`` (added to the environment's).
        """
        if self.reusable is not None:
            if pod_template is not None:
                raise ValueError(
                    f"Cannot set pod_template on a task when environment {self.name!r} is reusable: its warm "
                    "replicas already run with the environment's pod"
                )
            if service_account is not None and service_account != self.service_account:
                raise ValueError(
                    f"Cannot override service_account on a task when environment {self.name!r} is reusable"
                )
        if resources is not None and not isinstance(resources, Resources):
            raise TypeError(f"Expected resources to be of type Resources, got {type(resources).__name__}")
        if env_vars is not None and not isinstance(env_vars, dict):
            raise TypeError(f"Expected env_vars to be of type Dict[str, str], got {type(env_vars).__name__}")
        if image is not None and not isinstance(image, (str, Image)):
            raise TypeError(f"Expected image to be of type str or Image, got {type(image).__name__}")

        def decorator(func: Callable[..., Any]) -> AsyncFunctionTaskTemplate[Any]:
            if not callable(func):
                raise TypeError(f"@{self.name}.task expects a function, got {type(func).__name__}")
            if self.reusable is not None and self.reusable.concurrency > 1 and not inspect.iscoroutinefunction(func):
                raise ValueError(
                    f"Reusable environment {self.name!r} has concurrency {self.reusable.concurrency}, which is "
                    f"only supported for async tasks: make {func.__name__} an async function or use "
                    "concurrency 1"
                )
            template_cls: type[AsyncFunctionTaskTemplate[Any]] = AsyncFunctionTaskTemplate
            if self.plugin_config is not None:
                template_cls = TaskPluginRegistry.for_config(self.plugin_config)
            merged_env = {**(self.env_vars or {}), **(env_vars or {})} if env_vars else self.env_vars
            template = template_cls(
                func=func,
                name=f"{self.name}.{func.__name__}",
                short_name=short_name or func.__name__,
                image=image if image is not None else self.image,
                resources=resources if resources is not None else self.resources,
                cache=cache or self.cache,
                retries=retries,
                timeout=timeout,
                reusable=self.reusable,
                docs=docs,
                env_vars=merged_env,
                secrets=_merge_secrets(self.secrets, secrets),
                service_account=service_account or self.service_account,
                pod_template=pod_template or self.pod_template,
                report=report,
                interruptible=self.interruptible if interruptible is None else interruptible,
                max_inline_io_bytes=max_inline_io_bytes,
                queue=queue or self.queue,
                triggers=triggers,
                links=links,
                task_resolver=task_resolver,
                entrypoint=entrypoint,
                produces_artifacts=produces_artifacts,
                parent_env=weakref.ref(self),
                parent_env_name=self.name,
                plugin_config=self.plugin_config,
            )
            self._tasks[template.name] = template
            return template

        if _func is not None:
            return decorator(_func)
        return decorator
