"""The task-plugin registry: which template class builds tasks for a given ``plugin_config`` type."""

from __future__ import annotations

from typing import Any


class TaskPluginRegistry:
    """Maps a ``plugin_config`` type to the task template class that runs it.

    A plugin class may set ``supports_reuse = True`` to allow its environments to be reusable.
    """

    _plugins: dict[type, type] = {}

    @classmethod
    def register(cls, config_type: type, plugin: type) -> None:
        cls._plugins[config_type] = plugin

    @classmethod
    def find(cls, config_type: type) -> type | None:
        return cls._plugins.get(config_type)

    @classmethod
    def for_config(cls, plugin_config: Any) -> type:
        """The template class for this config, or ValueError when nothing is registered for its type."""
        plugin = cls.find(type(plugin_config))
        if plugin is None:
            raise ValueError(
                f"No task plugin found for plugin_config type {type(plugin_config).__qualname__}; "
                "register one with roost.extend.TaskPluginRegistry.register(config_type, TemplateClass)"
            )
        return plugin

    @classmethod
    def supports_reuse(cls, plugin_config: Any) -> bool:
        plugin = cls.find(type(plugin_config))
        return bool(plugin is not None and getattr(plugin, "supports_reuse", False))
