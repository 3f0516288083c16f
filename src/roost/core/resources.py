"""Requests and limits as a list of (resource name, Kubernetes quantity) entries."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ResourceName(enum.IntEnum):
    UNKNOWN = 0
    CPU = 1
    GPU = 2
    MEMORY = 3
    STORAGE = 4
    EPHEMERAL_STORAGE = 5

    @property
    def k8s_name(self) -> str:
        return _K8S_NAMES[self]


_K8S_NAMES = {
    ResourceName.UNKNOWN: "unknown",
    ResourceName.CPU: "cpu",
    ResourceName.GPU: "gpu",
    ResourceName.MEMORY: "memory",
    ResourceName.STORAGE: "storage",
    ResourceName.EPHEMERAL_STORAGE: "ephemeral-storage",
}


@dataclass(frozen=True)
class ResourceEntry:
    """One resource and its amount as a Kubernetes quantity string (``"500m"``, ``"1Gi"``)."""

    name: ResourceName
    value: str


@dataclass(frozen=True)
class Resources:
    """What a container asks for (``requests``, best effort) and may not exceed (``limits``)."""

    requests: list[ResourceEntry] = field(default_factory=list)
    limits: list[ResourceEntry] = field(default_factory=list)

    def request(self, name: ResourceName) -> str | None:
        return next((e.value for e in self.requests if e.name == name), None)

    def limit(self, name: ResourceName) -> str | None:
        return next((e.value for e in self.limits if e.name == name), None)
