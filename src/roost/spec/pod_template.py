"""PodTemplate: a Kubernetes pod spec that a task's primary container is merged into."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


def pod_spec_to_dict(pod_spec: Any) -> dict[str, Any]:
    """A pod spec as Kubernetes JSON (camelCase keys).

    Accepts a plain dict, or a ``kubernetes.client.V1PodSpec`` when the ``kubernetes`` package is
    installed (it is an optional dependency, imported only here).
    """
    if pod_spec is None:
        return {}
    if isinstance(pod_spec, dict):
        return copy.deepcopy(pod_spec)
    try:
        from kubernetes.client import ApiClient  # type: ignore[import-not-found]
    except ImportError as e:  # pragma: no cover - depends on an optional package
        raise TypeError(
            f"pod_spec of type {type(pod_spec).__name__} needs the 'kubernetes' package; "
            "install it or pass the pod spec as a dict"
        ) from e
    return ApiClient().sanitize_for_serialization(pod_spec)


@dataclass
class PodTemplate:
    """``PodTemplate(pod_spec=None, primary_container_name="primary", labels=None, annotations=None)``.

    ``pod_spec`` is a Kubernetes ``V1PodSpec`` or the equivalent dict. At compile time the task's
    image, resources and environment variables are merged into the container named
    ``primary_container_name``.
    """

    pod_spec: Any = None
    primary_container_name: str = "primary"
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.primary_container_name, str) or not self.primary_container_name:
            raise TypeError("PodTemplate primary_container_name must be a non-empty str")
        for name in ("labels", "annotations"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dict):
                raise TypeError(f"PodTemplate {name} must be a dict, got {type(value).__name__}")

    @classmethod
    def from_spec(
        cls,
        pod_spec: Any,
        *,
        primary_container_name: str | None = None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> PodTemplate:
        """A template around a copy of ``pod_spec``, choosing its primary container.

        The primary container is the one named ``primary_container_name`` (which must exist), else
        a container named ``primary``, else the only container.
        """
        spec = pod_spec_to_dict(pod_spec)
        names = [c.get("name") for c in spec.get("containers") or []]
        if primary_container_name is not None:
            if primary_container_name not in names:
                raise ValueError(
                    f"primary_container_name {primary_container_name!r} is not a container of the pod spec "
                    f"(containers: {names})"
                )
            primary = primary_container_name
        elif "primary" in names:
            primary = "primary"
        elif len(names) == 1 and names[0]:
            primary = names[0]
        else:
            raise ValueError(
                "cannot tell the primary container of the pod spec: name one with primary_container_name "
                f"(containers: {names})"
            )
        return cls(pod_spec=spec, primary_container_name=primary, labels=labels, annotations=annotations)

    def to_dict(self) -> dict[str, Any]:
        """The pod spec as Kubernetes JSON (a copy)."""
        return pod_spec_to_dict(self.pod_spec)

    def primary_container(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        for c in spec.get("containers") or []:
            if c.get("name") == self.primary_container_name:
                return c
        return None

    def _with_spec(self, spec: dict[str, Any]) -> PodTemplate:
        return PodTemplate(
            pod_spec=spec,
            primary_container_name=self.primary_container_name,
            labels=dict(self.labels) if self.labels else self.labels,
            annotations=dict(self.annotations) if self.annotations else self.annotations,
        )

    def _spec_with_primary(self) -> tuple[dict[str, Any], dict[str, Any]]:
        spec = self.to_dict()
        primary = self.primary_container(spec)
        if primary is None:
            primary = {"name": self.primary_container_name}
            spec.setdefault("containers", []).append(primary)
        return spec, primary

    def with_termination_grace_period(self, seconds: int | timedelta) -> PodTemplate:
        """A copy whose pod waits ``seconds`` after SIGTERM before it is killed."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, timedelta)):
            raise TypeError(
                f"termination grace period must be an int (seconds) or timedelta, got {type(seconds).__name__}"
            )
        # Checked before truncating to whole seconds, so that e.g. -0.5 s is refused rather than becoming 0.
        if (seconds.total_seconds() if isinstance(seconds, timedelta) else seconds) < 0:
            raise ValueError(f"termination grace period must be >= 0 seconds, got {seconds}")
        total = int(seconds.total_seconds()) if isinstance(seconds, timedelta) else seconds
        spec, _ = self._spec_with_primary()
        spec["terminationGracePeriodSeconds"] = total
        return self._with_spec(spec)

    def allow_fuse(self, privileged: bool = False) -> PodTemplate:
        """A copy whose primary container may mount FUSE file systems (``/dev/fuse``).

        Unprivileged: adds the ``SYS_ADMIN`` capability and the ``/dev/fuse`` device. Privileged: runs
        the container privileged. A security context that pins the opposite posture is refused.
        """
        spec, primary = self._spec_with_primary()
        sc = primary.setdefault("securityContext", {})
        if privileged:
            if sc.get("privileged") is False:
                raise ValueError("allow_fuse(privileged=True) conflicts with securityContext.privileged=False")
            # Kubernetes rejects a privileged container that also pins allowPrivilegeEscalation=false.
            if sc.get("allowPrivilegeEscalation") is False:
                raise ValueError(
                    "allow_fuse(privileged=True) conflicts with securityContext.allowPrivilegeEscalation=False"
                )
            sc["privileged"] = True
        else:
            caps = sc.setdefault("capabilities", {})
            added = caps.setdefault("add", [])
            if "SYS_ADMIN" in (caps.get("drop") or []):
                raise ValueError("allow_fuse needs SYS_ADMIN, which the container's securityContext drops")
            if "SYS_ADMIN" not in added:
                added.append("SYS_ADMIN")
            volumes = spec.setdefault("volumes", [])
            if not any(v.get("name") == "dev-fuse" for v in volumes):
                volumes.append({"name": "dev-fuse", "hostPath": {"path": "/dev/fuse"}})
            mounts = primary.setdefault("volumeMounts", [])
            if not any(m.get("name") == "dev-fuse" for m in mounts):
                mounts.append({"name": "dev-fuse", "mountPath": "/dev/fuse"})
        return self._with_spec(spec)

    def allow_nested_sandboxing(self) -> PodTemplate:
        """A copy whose primary container may create its own sandboxes (user namespaces, seccomp)."""
        spec, primary = self._spec_with_primary()
        sc = primary.setdefault("securityContext", {})
        profile = sc.get("seccompProfile") or {}
        if profile.get("type") not in (None, "Unconfined"):
            raise ValueError(
                f"allow_nested_sandboxing conflicts with the pinned seccompProfile {profile.get('type')!r}"
            )
        # AppArmor's default profile forbids the mounts a nested sandbox makes, so a pinned profile
        # other than Unconfined conflicts just like a pinned seccomp profile.
        apparmor = sc.get("appArmorProfile") or {}
        if apparmor.get("type") not in (None, "Unconfined"):
            raise ValueError(
                f"allow_nested_sandboxing conflicts with the pinned appArmorProfile {apparmor.get('type')!r}"
            )
        sc["seccompProfile"] = {"type": "Unconfined"}
        sc["appArmorProfile"] = {"type": "Unconfined"}
        return self._with_spec(spec)
