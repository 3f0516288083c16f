"""roost: run Python tasks inside the execution environments you declare.

The public API is the Flyte 2 SDK's: ``import roost as flyte`` runs Flyte 2 programs. This module
only re-exports names from the modules that define them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost import errors
from roost._version import __version__
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
    "BaseCheckpoint",
    "Cache",
    "CacheBehavior",
    "CachePolicy",
    "CacheRequest",
    "Checkpoint",
    "ConditionWebhook",
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
    "TriggeredArtifact",
    "__version__",
    "app",
    "build",
    "build_images",
    "config",
    "ctx",
    "current_domain",
    "current_project",
    "custom_context",
    "deploy",
    "errors",
    "extend",
    "get_custom_context",
    "group",
    "init",
    "init_from_api_key",
    "init_from_config",
    "init_in_cluster",
    "init_passthrough",
    "io",
    "latest_checkpoint",
    "logger",
    "map",
    "models",
    "new_condition",
    "remote",
    "report",
    "rerun",
    "run",
    "serve",
    "storage",
    "system_logger",
    "trace",
    "types",
    "version",
    "with_runcontext",
    "with_servecontext",
]


def version() -> str:
    return __version__


# The run engine (and its asyncio / sqlite imports) loads on first use, so that a program that only
# declares environments and tasks -- or imports roost to read a schema -- does not pay for it.
_LAZY = {
    "ctx": "roost.runtime.task_api.task_context",
    "custom_context": "roost.runtime.task_api.task_context",
    "get_custom_context": "roost.runtime.task_api.task_context",
    "group": "roost.runtime.task_api.task_context",
    "map": "roost.runtime.task_api.mapping",
    "trace": "roost.runtime.task_api.tracing",
    "Checkpoint": "roost.runtime.task_api.checkpoint",
    "BaseCheckpoint": "roost.runtime.task_api.checkpoint",
    "ConditionWebhook": "roost.runtime.task_api.conditions",
    "serve": "roost.runtime.runs.app_serving",
    "with_servecontext": "roost.runtime.runs.app_serving",
    "new_condition": "roost.runtime.task_api.conditions",
    "latest_checkpoint": "roost.runtime.task_api.checkpoint",
    "init": "roost.runtime.runs.initialize",
    "init_from_config": "roost.runtime.runs.initialize",
    "init_from_api_key": "roost.runtime.runs.initialize",
    "init_in_cluster": "roost.runtime.runs.initialize",
    "init_passthrough": "roost.runtime.runs.initialize",
    "current_project": "roost.runtime.runs.initialize",
    "current_domain": "roost.runtime.runs.initialize",
    "rerun": "roost.runtime.runs.runner",
    "run": "roost.runtime.runs.runner",
    "with_runcontext": "roost.runtime.runs.runner",
    "deploy": "roost.runtime.runs.deployments",
    "build": "roost.images.build",
    "build_images": "roost.images.build",
    # Apps and triggers too: a program that declares neither does not pay for their classes.
    "AppEnvironment": "roost.spec.app_environment",
    "Cron": "roost.spec.triggers",
    "FixedRate": "roost.spec.triggers",
    "OnArtifact": "roost.spec.triggers",
    "Trigger": "roost.spec.triggers",
    "TriggeredArtifact": "roost.spec.triggers",
    "TriggerTime": "roost.spec.triggers",
}
_LAZY_MODULES = ("io", "models", "remote", "report", "app", "extend", "types", "storage", "config", "durable")

if TYPE_CHECKING:
    from roost import app, config, extend, io, models, remote, report, storage, types
    from roost import durable as durable
    from roost.images.build import build, build_images
    from roost.runtime.runs.app_serving import serve, with_servecontext
    from roost.runtime.runs.initialize import (
        current_domain,
        current_project,
        init,
        init_from_api_key,
        init_from_config,
        init_in_cluster,
        init_passthrough,
    )
    from roost.runtime.runs.runner import rerun, run, with_runcontext
    from roost.runtime.task_api.checkpoint import BaseCheckpoint, Checkpoint, latest_checkpoint
    from roost.runtime.task_api.conditions import ConditionWebhook, new_condition
    from roost.runtime.task_api.logs import user_logger as logger
    from roost.runtime.task_api.mapping import map
    from roost.runtime.task_api.task_context import ctx, custom_context, get_custom_context, group
    from roost.runtime.task_api.tracing import trace
    from roost.spec.app_environment import AppEnvironment
    from roost.spec.triggers import Cron, FixedRate, OnArtifact, Trigger, TriggeredArtifact, TriggerTime


def __getattr__(name: str) -> Any:
    import importlib
    import logging

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name == "logger":  # flyte.logger: task code's logger, stored with each action's log
        value = importlib.import_module("roost.runtime.task_api.logs").user_logger
    elif name == "system_logger":  # flyte.system_logger: the framework's own logger
        value = logging.getLogger("roost")
    elif name in _LAZY_MODULES:
        value = importlib.import_module(f"roost.{name}")
    else:
        raise AttributeError(f"module 'roost' has no attribute {name!r}")
    globals()[name] = value
    return value
