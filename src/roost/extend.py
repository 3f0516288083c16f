"""Extension points for plugin authors (``flyte.extend``)."""

from roost.spec.plugins import TaskPluginRegistry
from roost.task import AsyncFunctionTaskTemplate, TaskTemplate

__all__ = ["AsyncFunctionTaskTemplate", "TaskPluginRegistry", "TaskTemplate"]
