"""TaskSpec: one task, resolved with its environment and overrides, as executors consume it."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from roost.core.container import Container
from roost.core.k8s_pod import K8sPod
from roost.core.runtime_metadata import RuntimeMetadata
from roost.spec.cache import Cache
from roost.spec.image import Image
from roost.spec.resources import CanonicalResources
from roost.spec.retries import RetryStrategy
from roost.spec.reuse import ReusePolicy
from roost.spec.secrets import Secret
from roost.spec.timeouts import Timeout, seconds


@dataclass(frozen=True)
class TaskSpec:
    """Everything an executor needs to run one task, already merged and checked.

    ``target`` is the task-spec form (a ``Container``, or a ``K8sPod`` when a ``PodTemplate``
    applies); the other fields are the same facts in the shapes executors use directly.
    """

    name: str
    short_name: str
    env_name: str | None
    module: str
    function: str
    is_async: bool
    runtime: RuntimeMetadata
    target: Container | K8sPod
    image: Image | None
    image_uri: str | None
    resources: CanonicalResources
    env_vars: Mapping[str, str]
    secrets: tuple[Secret, ...]
    retries: RetryStrategy
    timeout: Timeout | None
    cache: Cache
    reusable: ReusePolicy | None
    interruptible: bool = False
    queue: str | None = None
    service_account: str | None = None
    pod_template_name: str | None = None
    max_inline_io_bytes: int = 10 * 1024 * 1024
    report: bool = False
    image_adds_packages: bool = False
    image_sets_environment: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def max_runtime(self) -> float | None:
        return None if self.timeout is None else seconds(self.timeout.max_runtime)

    @functools.cached_property  # read for every action of the task; the spec never changes
    def process_reasons(self) -> tuple[str, ...]:
        """What this task declares that only a process of its own can honour (empty: inline is exact).

        This is the ``auto`` isolation rule: env vars, secrets, resource limits or a GPU, an image
        adding packages or setting variables or a workdir, a reuse policy, or a runtime bound on sync
        code (which cannot be cancelled inside the controller's process).
        """
        reasons = []
        if self.env_vars:
            reasons.append("env_vars")
        if self.secrets:
            reasons.append("secrets")
        r = self.resources
        if r.cpu_enforced is not None or r.memory_enforced is not None:
            reasons.append("resource limits")  # a scalar request is a limit too (as on the platform)
        if r.gpu is not None:
            reasons.append("gpu")
        if self.image_adds_packages:
            reasons.append("image packages")
        elif self.image_sets_environment:
            reasons.append("image env_vars/workdir")
        if self.reusable is not None:
            reasons.append("reusable")
        if not self.is_async and self.max_runtime is not None:
            reasons.append("timeout on sync task")
        return tuple(reasons)
