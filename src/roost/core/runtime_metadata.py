"""RuntimeMetadata: which SDK produced a task spec, for compatibility checks and debugging."""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeMetadata:
    class RuntimeType(enum.IntEnum):
        OTHER = 0
        FLYTE_SDK = 1

    type: RuntimeType
    version: str
    flavor: str = "python"


def roost_runtime() -> RuntimeMetadata:
    """roost speaks the Flyte SDK's task model; the version is roost's own."""
    from roost._version import __version__

    return RuntimeMetadata(type=RuntimeMetadata.RuntimeType.FLYTE_SDK, version=__version__, flavor="python")
