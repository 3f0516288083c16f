"""Resources: what compute an environment asks for (as in Flyte 2).

``Resources`` keeps what the user wrote (Flyte compatibility: quantity strings are not rejected at
construction, only warned about); ``Resources.canonical()`` is the strict, exact form roost uses to
admit and limit work, and ``to_k8s()`` the request/limit maps a cluster backend receives.
Accelerators (``Device`` and its factories) live in ``roost.spec.devices`` and are re-exported here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Union

from roost.spec._frames import user_stacklevel
from roost.spec.devices import (
    ACCELERATORS,
    AMD_GPU,
    APPLE_SILICON,
    GPU,
    HABANA_GAUDI,
    TPU,
    Device,
    DeviceClass,
    Neuron,
    _deprecated,
    _gpu_device,
    _undeprecated_gpu,
)
from roost.spec.quantities import format_bytes, format_cpu, parse_bytes, parse_cpu

__all__ = [
    "ACCELERATORS",
    "AMD_GPU",
    "APPLE_SILICON",
    "GPU",
    "HABANA_GAUDI",
    "TPU",
    "CanonicalResources",
    "Device",
    "DeviceClass",
    "Neuron",
    "Resources",
]

CPUValue = Union[int, float, str]
CPUSpec = Union[CPUValue, "tuple[CPUValue, CPUValue]"]
MemorySpec = Union[str, "tuple[str, str]"]

# ---- Resources -------------------------------------------------------------------------------

_K8S_DEVICE_RESOURCE: dict[str, str] = {
    "GPU": "nvidia.com/gpu",
    "AMD_GPU": "amd.com/gpu",
    "NEURON": "aws.amazon.com/neuron",
    "HABANA_GAUDI": "habana.ai/gaudi",
    "TPU": "google.com/tpu",
}


@dataclass(frozen=True)
class CanonicalResources:
    """Resources in exact units: cpu in millicores, sizes in bytes, the gpu as a ``Device``.

    A scalar cpu/memory is a request only, as Flyte serialises it; a ``(request, limit)`` pair fills
    both. What a worker runs under is ``cpu_enforced`` / ``memory_enforced``."""

    cpu_request: int | None = None
    cpu_limit: int | None = None
    memory_request: int | None = None
    memory_limit: int | None = None
    disk: int | None = None
    shm: int | Literal["auto"] | None = None
    gpu: Device | None = None

    @property
    def cpu_enforced(self) -> int | None:
        """The CPU limit (millicores) a worker runs under: the limit, else the request. The Flyte
        control plane sets a missing limit equal to the request, so on the platform a scalar
        ``cpu=1`` is a quota of one core; roost enforces the same. ``None``: no limit."""
        return self.cpu_limit if self.cpu_limit is not None else (self.cpu_request or None)

    @property
    def memory_enforced(self) -> int | None:
        """The memory limit (bytes) a worker runs under: the limit, else the request (see
        ``cpu_enforced``): ``memory="250Mi"`` is an out-of-memory kill at 250Mi."""
        return self.memory_limit if self.memory_limit is not None else (self.memory_request or None)

    def to_k8s(self) -> tuple[dict[str, str], dict[str, str]]:
        """``(requests, limits)`` keyed by Kubernetes resource name, values as canonical quantities."""
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        if self.cpu_request is not None:
            requests["cpu"] = format_cpu(self.cpu_request)
        if self.cpu_limit is not None:
            limits["cpu"] = format_cpu(self.cpu_limit)
        if self.memory_request is not None:
            requests["memory"] = format_bytes(self.memory_request)
        if self.memory_limit is not None:
            limits["memory"] = format_bytes(self.memory_limit)
        if self.disk is not None:
            requests["ephemeral-storage"] = format_bytes(self.disk)
        # Kubernetes requires request == limit for extended resources. Apple Silicon has no
        # Kubernetes resource name, so it is left out.
        if self.gpu is not None and self.gpu.device_class in _K8S_DEVICE_RESOURCE:
            name = _K8S_DEVICE_RESOURCE[self.gpu.device_class]
            requests[name] = limits[name] = str(self.gpu.quantity)
        return requests, limits


@dataclass
class Resources:
    """``Resources(cpu=None, memory=None, gpu=None, disk=None, shm=None)``: what a task asks for.

    ``cpu``: cores (``1``, ``0.5``, ``"500m"``) or a ``(request, limit)`` pair; ``memory``: a
    quantity string (``"512Mi"``) or a pair of them; ``gpu``: a count, an accelerator string from
    ``ACCELERATORS`` (``"T4:1"``) or a ``Device``; ``disk``: ephemeral storage; ``shm``: a size or
    ``"auto"``. Malformed quantity strings only warn here (Flyte accepts them); ``canonical()``
    rejects them.
    """

    cpu: CPUSpec | None = None
    memory: MemorySpec | None = None
    gpu: int | str | Device | None = None
    disk: str | None = None
    shm: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.gpu, str):
            replacement = _undeprecated_gpu(self.gpu)
            if replacement != self.gpu:
                self.gpu = _deprecated(self.gpu, replacement, "gpu")
        result, complete = _resolve(self, strict=False)
        if complete:
            self._cache = (self._key(), result)

    def _key(self) -> tuple[object, ...]:
        return (self.cpu, self.memory, self.gpu, self.disk, self.shm)

    def canonical(self) -> CanonicalResources:
        """The exact form roost uses; ValueError naming the field for any value it cannot use."""
        key = self._key()
        cached: tuple[tuple[object, ...], CanonicalResources] | None = getattr(self, "_cache", None)
        # Identity, not equality: fields are reassignable and 1 == 1.0 == True would hide a change.
        if cached is not None and all(a is b for a, b in zip(cached[0], key)):
            return cached[1]
        result, _ = _resolve(self, strict=True)
        self._cache = (key, result)
        return result

    def to_k8s(self) -> tuple[dict[str, str], dict[str, str]]:
        """``(requests, limits)`` in Kubernetes resource names (``cpu``, ``memory``,
        ``ephemeral-storage``, ``nvidia.com/gpu``...), e.g. ``({"cpu": "500m"}, {})``."""
        return self.canonical().to_k8s()

    def get_device(self) -> Device | None:
        """The accelerator asked for: ``None`` for no gpu (or a count of 0), else a ``Device``."""
        return _gpu_device(self.gpu)

    def get_shared_memory(self) -> str | None:
        """``None`` if unset, ``""`` for ``"auto"`` (the node's maximum), else the size string."""
        if self.shm is None:
            return None
        return "" if self.shm == "auto" else self.shm


class _Converter:
    """Runs a quantity parser. Lenient (at construction, where Flyte accepts any string) it turns a
    parse failure into a warning and ``None`` and remembers that the result is incomplete."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.complete = True

    def __call__(self, parse: Callable[[Any, str], int], value: object, name: str) -> int | None:
        try:
            return parse(value, name)
        except ValueError as error:
            if self.strict:
                raise
            self.complete = False
            warnings.warn(
                f"{error}; Flyte accepts it, but roost rejects it where the value is used",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
            return None


def _resolve(res: Resources, *, strict: bool) -> tuple[CanonicalResources, bool]:
    """Validate every field and convert it; the bool says whether every value converted."""
    convert = _Converter(strict)
    cpu_request, cpu_limit = _pair(res.cpu, "cpu", _check_cpu_value, parse_cpu, convert)
    memory_request, memory_limit = _pair(res.memory, "memory", _check_size_value, parse_bytes, convert)
    gpu = _gpu_device(res.gpu)
    disk = None
    if res.disk is not None:
        disk = convert(parse_bytes, _check_size_value(res.disk, "disk"), "disk")
    shm: int | Literal["auto"] | None = None
    if res.shm == "auto":
        shm = "auto"
    elif res.shm is not None:
        shm = convert(parse_bytes, _check_size_value(res.shm, "shm"), "shm")
    canonical = CanonicalResources(cpu_request, cpu_limit, memory_request, memory_limit, disk, shm, gpu)
    return canonical, convert.complete


def _pair(
    value: object,
    name: str,
    check: Callable[[object, str], object],
    parse: Callable[[Any, str], int],
    convert: _Converter,
) -> tuple[int | None, int | None]:
    """(request, limit) for a scalar-or-pair field; a scalar is a request only."""
    if value is None:
        return None, None
    if not isinstance(value, tuple):
        return convert(parse, check(value, name), name), None
    if len(value) != 2:
        raise ValueError(f"{name}: a (request, limit) tuple must have exactly two elements, got {value!r}")
    if value[0] is None or value[1] is None:
        raise ValueError(f"{name}: both elements of the (request, limit) pair must be set, got {value!r}")
    request = convert(parse, check(value[0], name), name)
    limit = convert(parse, check(value[1], name), name)
    if request is not None and limit is not None and request > limit:
        raise ValueError(f"{name}: request {value[0]!r} is greater than limit {value[1]!r}")
    return request, limit


def _check_cpu_value(value: object, name: str) -> object:
    # bool is an int subclass, but cpu=True is a mistake, not one core.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(
            f"{name}: cpu must be a core count (int or float) or a quantity string such as '500m', "
            f"got {value!r} ({type(value).__name__})"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name}: cpu must be a finite number, got {value!r}")
    if not isinstance(value, str) and value < 0:
        raise ValueError(f"{name}: cpu must be >= 0, got {value!r}")
    return value


def _check_size_value(value: object, name: str) -> object:
    if not isinstance(value, str):
        raise ValueError(
            f"{name}: {name} must be a Kubernetes quantity string such as '512Mi' or '1Gi', "
            f"got {value!r} ({type(value).__name__})"
        )
    return value
