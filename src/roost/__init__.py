"""roost: run Python tasks inside the execution environments you declare.

The public API is the Flyte 2 SDK's: ``import roost as flyte`` runs Flyte 2 programs. This module
only re-exports names from the modules that define them.
"""

from __future__ import annotations

from roost import errors
from roost._stubs import (
    build,
    build_images,
    ctx,
    custom_context,
    deploy,
    get_custom_context,
    group,
    init,
    init_from_api_key,
    init_from_config,
    init_in_cluster,
    init_passthrough,
    map,
    rerun,
    run,
    serve,
    trace,
    with_runcontext,
    with_servecontext,
)
from roost._version import __version__
from roost.spec.app import AppEnvironment
from roost.spec.cache import Cache, CacheBehavior, CachePolicy, CacheRequest, FunctionBodyPolicy
from roost.spec.docs import Documentation, Link
from roost.spec.environment import Environment
from roost.spec.image import Image
from roost.spec.pod_template import PodTemplate
from roost.spec.resources import (
    AMD_GPU,
    APPLE_SILICON,
    GPU,
    HABANA_GAUDI,
    TPU,
    Device,
    DeviceClass,
    Neuron,
    Resources,
)
from roost.spec.retries import Backoff, RetryStrategy
from roost.spec.reuse import ReusePolicy
from roost.spec.secrets import Secret, SecretRequest
from roost.spec.task_environment import TaskEnvironment
from roost.spec.timeouts import Timeout, TimeoutType
from roost.spec.triggers import Cron, FixedRate, OnArtifact, Trigger, TriggerTime
from roost.task import AsyncFunctionTaskTemplate, TaskTemplate

__all__ = [
    "AMD_GPU",
    "APPLE_SILICON",
    "GPU",
    "HABANA_GAUDI",
    "TPU",
    "AppEnvironment",
    "AsyncFunctionTaskTemplate",
    "Backoff",
    "Cache",
    "CacheBehavior",
    "CachePolicy",
    "CacheRequest",
    "Cron",
    "Device",
    "DeviceClass",
    "Documentation",
    "Environment",
    "FixedRate",
    "FunctionBodyPolicy",
    "Image",
    "Link",
    "Neuron",
    "OnArtifact",
    "PodTemplate",
    "Resources",
    "RetryStrategy",
    "ReusePolicy",
    "Secret",
    "SecretRequest",
    "TaskEnvironment",
    "TaskTemplate",
    "Timeout",
    "TimeoutType",
    "Trigger",
    "TriggerTime",
    "__version__",
    "build",
    "build_images",
    "ctx",
    "custom_context",
    "deploy",
    "errors",
    "get_custom_context",
    "group",
    "init",
    "init_from_api_key",
    "init_from_config",
    "init_in_cluster",
    "init_passthrough",
    "map",
    "rerun",
    "run",
    "serve",
    "trace",
    "version",
    "with_runcontext",
    "with_servecontext",
]


def version() -> str:
    return __version__
