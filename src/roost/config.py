"""Flyte's configuration file as roost reads it (``flyte.config``): ``auto()`` and ``Config``.

``init_from_config()`` uses the same reader; ``roost.runtime.runs.flyte_config`` says where the file is
looked for and what roost takes from it.
"""

from roost.runtime.runs.flyte_config import Config, ImageConfig, LocalConfig, PlatformConfig, TaskConfig, auto

__all__ = ["Config", "ImageConfig", "LocalConfig", "PlatformConfig", "TaskConfig", "auto"]
