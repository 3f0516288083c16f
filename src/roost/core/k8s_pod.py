"""K8sPod: a full Kubernetes pod spec whose primary container runs the task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class K8sObjectMetadata:
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class K8sPod:
    """``pod_spec`` is Kubernetes JSON; the container named ``primary_container_name`` runs the task."""

    metadata: K8sObjectMetadata = field(default_factory=K8sObjectMetadata)
    pod_spec: dict[str, Any] = field(default_factory=dict)
    primary_container_name: str = "primary"

    @property
    def primary_container(self) -> dict[str, Any]:
        for c in self.pod_spec.get("containers", []):
            if c.get("name") == self.primary_container_name:
                return c
        raise ValueError(f"pod spec has no container named {self.primary_container_name!r}")
