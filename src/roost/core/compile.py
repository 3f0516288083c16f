"""Compile a task template into its TaskSpec: the one resolved form executors consume."""

from __future__ import annotations

from typing import Any

from roost._loading import module_location
from roost.core.container import Container
from roost.core.k8s_pod import K8sObjectMetadata, K8sPod
from roost.core.resources import ResourceEntry, ResourceName, Resources
from roost.core.runtime_metadata import roost_runtime
from roost.core.task_spec import TaskSpec
from roost.errors import ImageBuildError
from roost.spec import image_layers
from roost.spec.debian_base import own_layers
from roost.spec.image import Image
from roost.spec.pod_template import PodTemplate
from roost.spec.quantities import format_bytes
from roost.spec.resources import CanonicalResources
from roost.spec.secrets import normalize_secrets
from roost.spec.timeouts import normalize_timeout
from roost.task import AsyncFunctionTaskTemplate, TaskTemplate

# The command a container image runs to execute one action of a task.
ENTRYPOINT = ["roost", "execute"]

_K8S_TO_RESOURCE_NAME = {
    "cpu": ResourceName.CPU,
    "memory": ResourceName.MEMORY,
    "ephemeral-storage": ResourceName.EPHEMERAL_STORAGE,
}

# Layers that install Python packages: an image with one needs its own virtualenv locally.
_PACKAGE_LAYERS = tuple(
    getattr(image_layers, name)
    for name in ("PipPackages", "Requirements", "UVProject", "PoetryProject", "UVScript", "PixiProject", "PixiScript")
    if hasattr(image_layers, name)
)

# Layers that shape a worker's process locally (its variables, its working directory).
_ENVIRONMENT_LAYERS = (image_layers.EnvVars, image_layers.WorkDir)


def compile_task(task: TaskTemplate[Any]) -> TaskSpec:
    """The TaskSpec of ``task`` (computed once per template; templates are not mutated after use).

    Raises the errors the platform would raise when serializing the task -- a bad timeout type, an
    unparseable resource quantity, a non-string environment variable -- so they surface before
    anything runs.
    """
    cached = getattr(task, "_compiled", None)
    if cached is not None:
        return cached
    spec = _compile(task)
    task._compiled = spec
    return spec


def _compile(task: TaskTemplate[Any]) -> TaskSpec:
    canonical = task.resources.canonical() if task.resources is not None else CanonicalResources()
    env_vars = _check_env_vars(task.name, task.env_vars or {})
    image = task.image if isinstance(task.image, Image) else None
    image_uri = _image_uri(image)
    module, function = _function_location(task)
    requests, limits = canonical.to_k8s()
    core_resources = Resources(
        requests=[ResourceEntry(_resource_name(k), v) for k, v in requests.items()],
        limits=[ResourceEntry(_resource_name(k), v) for k, v in limits.items()],
    )
    command = list(ENTRYPOINT)
    args = ["--module", module, "--task", function, "--name", task.name]
    pod_template_name = task.pod_template if isinstance(task.pod_template, str) else None
    target: Container | K8sPod
    if isinstance(task.pod_template, PodTemplate):
        target = _k8s_pod(task.pod_template, image_uri, command, args, requests, limits, env_vars, canonical)
    else:
        target = Container(
            image=image_uri or "",
            command=command,
            args=args,
            resources=core_resources,
            env=dict(env_vars),
            config=task.config(),
        )
    return TaskSpec(
        name=task.name,
        short_name=task.short_name,
        env_name=task.parent_env_name,
        module=module,
        function=function,
        is_async=bool(getattr(task, "is_async", True)),
        runtime=roost_runtime(),
        target=target,
        image=image,
        image_uri=image_uri,
        resources=canonical,
        env_vars=env_vars,
        secrets=normalize_secrets(task.secrets),  # type: ignore[arg-type]
        retries=task.retry_strategy,
        timeout=normalize_timeout(task.timeout),
        cache=task.cache_policy,
        reusable=task.reusable,
        interruptible=task.interruptible,
        queue=task.queue,
        service_account=task.service_account,
        pod_template_name=pod_template_name,
        max_inline_io_bytes=task.max_inline_io_bytes,
        report=task.report,
        image_adds_packages=image is not None and any(isinstance(la, _PACKAGE_LAYERS) for la in image._layers),
        image_sets_environment=image is not None
        and any(isinstance(la, _ENVIRONMENT_LAYERS) for la in own_layers(image)),
    )


def _resource_name(k8s_name: str) -> ResourceName:
    return _K8S_TO_RESOURCE_NAME.get(k8s_name, ResourceName.GPU)


def _check_env_vars(task_name: str, env_vars: dict[str, Any]) -> dict[str, str]:
    for key, value in env_vars.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"Task {task_name}: env_vars keys must be non-empty str, got {key!r}")
        if not isinstance(value, str):
            raise TypeError(
                f"Task {task_name}: env_vars[{key!r}] must be a str, got {type(value).__name__} "
                "(environment variables are strings; convert it explicitly)"
            )
    return dict(env_vars)


def _image_uri(image: Image | None) -> str | None:
    if image is None:
        return None
    try:
        return image.uri
    except ImageBuildError:
        # An image that cannot be named yet (for example a clone without a name) is still runnable
        # locally; it only matters once something has to push or pull it.
        return None


def _function_location(task: TaskTemplate[Any]) -> tuple[str, str]:
    if isinstance(task, AsyncFunctionTaskTemplate):
        func = task.func
        module = module_location(getattr(func, "__module__", None) or "__main__")
        return module, getattr(func, "__qualname__", func.__name__)
    return type(task).__module__, task.name


def _k8s_pod(
    template: PodTemplate,
    image_uri: str | None,
    command: list[str],
    args: list[str],
    requests: dict[str, str],
    limits: dict[str, str],
    env_vars: dict[str, str],
    canonical: CanonicalResources,
) -> K8sPod:
    """The template's pod with the task merged into its primary container.

    The task's image fills an empty image; the task's resources win key by key; the task's
    environment variables come first.
    """
    spec = template.to_dict()
    primary = template.primary_container(spec)
    if primary is None:
        primary = {"name": template.primary_container_name}
        spec.setdefault("containers", []).append(primary)
    if not primary.get("image") and image_uri:
        primary["image"] = image_uri
    primary.setdefault("command", command)
    primary.setdefault("args", args)
    res = primary.setdefault("resources", {})
    if requests:
        res["requests"] = {**(res.get("requests") or {}), **requests}
    if limits:
        res["limits"] = {**(res.get("limits") or {}), **limits}
    if env_vars:
        existing = [e for e in primary.get("env") or [] if e.get("name") not in env_vars]
        primary["env"] = [{"name": k, "value": v} for k, v in env_vars.items()] + existing
    if canonical.shm is not None:
        volume: dict[str, Any] = {"name": "dshm", "emptyDir": {"medium": "Memory"}}
        if canonical.shm != "auto":
            volume["emptyDir"]["sizeLimit"] = format_bytes(canonical.shm)
        spec.setdefault("volumes", []).append(volume)
        primary.setdefault("volumeMounts", []).append({"name": "dshm", "mountPath": "/dev/shm"})
    return K8sPod(
        metadata=K8sObjectMetadata(labels=dict(template.labels or {}), annotations=dict(template.annotations or {})),
        pod_spec=spec,
        primary_container_name=template.primary_container_name,
    )
