"""Accelerators: ``Device``, its factories (``GPU``, ``TPU``, ``Neuron``, ``AMD_GPU``,
``HABANA_GAUDI``, ``APPLE_SILICON``) and ``ACCELERATORS``, the closed list of ``"<TYPE>:<N>"`` strings
a ``Resources(gpu=...)`` accepts (the Flyte 2 SDK's list)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal, get_args

from roost.spec._frames import user_stacklevel

DeviceClass = Literal["GPU", "TPU", "NEURON", "AMD_GPU", "HABANA_GAUDI", "APPLE_SILICON"]
DEVICE_CLASSES: tuple[str, ...] = get_args(DeviceClass)

# ---- device families -------------------------------------------------------------------------

_GPU_TYPES = ("A10", "A10G", "A100", "A100_80G", "B200", "H100", "H200", "L4", "L40s", "T4", "V100")
_SHARED_GPU_TYPES = ("T4 shared", "L4 shared", "A10G shared", "A10 shared", "L40S shared")
GPU_DEVICES: tuple[str, ...] = ("A2", *_GPU_TYPES, "RTX_PRO_4500", "RTX_PRO_6000", "GB10", *_SHARED_GPU_TYPES)
NEURON_DEVICES: tuple[str, ...] = ("Trn1", "Trn1n", "Trn2", "Trn2u", "Inf1", "Inf2")
AMD_GPU_DEVICES: tuple[str, ...] = (
    "MI100", "MI210", "MI250", "MI250X", "MI300A", "MI300X", "MI325X", "MI350X", "MI355X",
)  # fmt: skip
HABANA_GAUDI_DEVICES: tuple[str, ...] = ("Gaudi1",)
APPLE_SILICON_DEVICE = "AppleSilicon"

# Slice topologies as Google Cloud documents them for each TPU generation.
_TPU_2D = ("1x1", "2x2", "2x4", "4x4", "4x8", "8x8", "8x16", "16x16")
TPU_PARTITIONS: dict[str, tuple[str, ...]] = {
    "V5E": _TPU_2D,
    "V6E": _TPU_2D,
    "V5P": (
        "2x2x1", "2x2x2", "2x4x4", "4x4x4", "4x4x8", "4x8x8",
        "8x8x8", "8x8x16", "8x16x16", "16x16x16", "16x16x24",
    ),
}  # fmt: skip

# MIG profiles; GPUs not listed accept any partition, shared GPUs accept none.
GPU_PARTITIONS: dict[str, tuple[str, ...]] = {
    "A100": ("1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"),
    "A100_80G": ("1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100": ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H200": ("1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"),
    "RTX_PRO_6000": ("1g.24gb", "2g.48gb", "4g.96gb"),
}

# 2.12.1 still accepts these older spellings and rewrites them, with a warning.
_DEPRECATED_SPELLINGS = {"A100 80G": "A100_80G", "RTX PRO 6000": "RTX_PRO_6000"}


def _counts(devices: tuple[str, ...], counts: range | tuple[int, ...]) -> list[str]:
    return [f"{device}:{n}" for device in devices for n in counts]


ACCELERATORS: tuple[str, ...] = (
    "A2:1",
    *_counts(_GPU_TYPES, range(1, 9)),
    "RTX_PRO_4500:1",
    "RTX_PRO_6000:1",
    "RTX_PRO_6000:2",
    "GB10:1",
    *_counts(_SHARED_GPU_TYPES, (1,)),
    *_counts(("Trn1", "Trn1n", "Trn2", "Trn2u"), (1, 4, 8, 16)),
    *_counts(("Inf1",), range(1, 17)),
    *_counts(("Inf2",), range(1, 13)),
    *_counts(AMD_GPU_DEVICES, (1,)),
    "Gaudi1:1",
    APPLE_SILICON_DEVICE,
    f"{APPLE_SILICON_DEVICE}:1",
)
_ACCELERATOR_SET = frozenset(ACCELERATORS)


def device_class_of(device: str | None) -> DeviceClass:
    """The device class a device name belongs to; unknown names (and ``None``) count as GPUs."""
    if device is None:
        return "GPU"
    if device == APPLE_SILICON_DEVICE:
        return "APPLE_SILICON"
    if device in TPU_PARTITIONS:
        return "TPU"
    if device.startswith(("Trn", "Inf")):
        return "NEURON"
    if device.startswith("MI"):
        return "AMD_GPU"
    if device.startswith("Gaudi"):
        return "HABANA_GAUDI"
    return "GPU"


# ---- Device ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Device:
    """An accelerator request: ``quantity`` devices of ``device_class`` (optionally a named
    ``device`` and a ``partition`` of it). roost infers ``device_class`` from ``device`` when it is
    omitted, so the design documents' ``Device(device="A100", quantity=1, partition="1g.5gb")`` works."""

    quantity: int
    device_class: DeviceClass = None  # type: ignore[assignment]  # inferred in __post_init__
    device: str | None = None
    partition: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise ValueError(f"quantity: device quantity must be an int, got {self.quantity!r}")
        if self.quantity < 1:
            raise ValueError(f"quantity: GPU quantity must be at least 1, got {self.quantity}")
        if self.device is not None and not isinstance(self.device, str):
            raise ValueError(f"device: device name must be a str, got {self.device!r}")
        if self.partition is not None and not isinstance(self.partition, str):
            raise ValueError(f"partition: partition must be a str, got {self.partition!r}")
        # Frozen dataclass: filling in inferred fields has to bypass the frozen __setattr__.
        if self.device_class is None:
            object.__setattr__(self, "device_class", device_class_of(self.device))
        if self.device is None and self.device_class == "APPLE_SILICON":
            object.__setattr__(self, "device", APPLE_SILICON_DEVICE)
        is_apple_device = self.device == APPLE_SILICON_DEVICE
        if is_apple_device != (self.device_class == "APPLE_SILICON"):
            raise ValueError(
                f"device: {self.device!r} with device_class {self.device_class!r}: device "
                f"{APPLE_SILICON_DEVICE!r} and device_class 'APPLE_SILICON' go together"
            )
        if is_apple_device and self.quantity != 1:
            raise ValueError(f"quantity: Apple Silicon quantity must be 1, got {self.quantity}")

    # Explicit pickling: frozen + slotted dataclasses could not be unpickled on early Python 3.10,
    # and devices travel to worker processes.
    def __reduce__(self) -> tuple[type[Device], tuple[int, str, str | None, str | None]]:
        return (Device, (self.quantity, self.device_class, self.device, self.partition))


def _check_device(device: object, valid: tuple[str, ...], kind: str) -> str:
    if isinstance(device, str) and device in _DEPRECATED_SPELLINGS:
        device = _deprecated(device, _DEPRECATED_SPELLINGS[device], "device")
    if device not in valid:
        raise ValueError(f"device: invalid {kind} type {device!r}; valid types: {', '.join(valid)}")
    return device  # type: ignore[return-value]


def _check_partition(device: str, partition: str | None, valid: tuple[str, ...]) -> None:
    if partition is not None and partition not in valid:
        shown = ", ".join(valid) if valid else "none (this device cannot be partitioned)"
        raise ValueError(f"partition: invalid partition {partition!r} for {device}; valid: {shown}")


def GPU(device: str, quantity: int, partition: str | None = None) -> Device:
    """``quantity`` NVIDIA GPUs of type ``device``, optionally a MIG ``partition`` of each."""
    device = _check_device(device, GPU_DEVICES, "GPU")
    if device in _SHARED_GPU_TYPES:
        _check_partition(device, partition, ())
    elif device in GPU_PARTITIONS:
        _check_partition(device, partition, GPU_PARTITIONS[device])
    return Device(quantity=quantity, device_class="GPU", device=device, partition=partition)


def TPU(device: str, partition: str | None = None) -> Device:
    """One TPU slice of generation ``device`` (V5E, V5P, V6E) with topology ``partition``."""
    device = _check_device(device, tuple(TPU_PARTITIONS), "TPU")
    _check_partition(device, partition, TPU_PARTITIONS[device])
    return Device(quantity=1, device_class="TPU", device=device, partition=partition)


def Neuron(device: str) -> Device:
    """One AWS Neuron device (Trainium or Inferentia)."""
    device = _check_device(device, NEURON_DEVICES, "Neuron")
    return Device(quantity=1, device_class="NEURON", device=device)


def AMD_GPU(device: str) -> Device:
    """One AMD Instinct GPU."""
    device = _check_device(device, AMD_GPU_DEVICES, "AMD GPU")
    return Device(quantity=1, device_class="AMD_GPU", device=device)


def HABANA_GAUDI(device: str) -> Device:
    """One Habana Gaudi accelerator."""
    device = _check_device(device, HABANA_GAUDI_DEVICES, "Habana Gaudi")
    return Device(quantity=1, device_class="HABANA_GAUDI", device=device)


def APPLE_SILICON() -> Device:
    """The Apple Silicon GPU of the machine (always exactly one)."""
    return Device(quantity=1, device_class="APPLE_SILICON", device=APPLE_SILICON_DEVICE)


def _deprecated(text: str, replacement: str, field_name: str) -> str:
    warnings.warn(
        f"{field_name}: {text!r} is a deprecated spelling; use {replacement!r}",
        DeprecationWarning,
        stacklevel=user_stacklevel(),
    )
    return replacement


def _undeprecated_gpu(text: str) -> str:
    """``text`` with a deprecated device spelling (``"A100 80G:1"``) replaced by the current one."""
    device, colon, count = text.partition(":")
    if device in _DEPRECATED_SPELLINGS:
        return _DEPRECATED_SPELLINGS[device] + colon + count
    return text


def _gpu_device(gpu: object) -> Device | None:
    if gpu is None or isinstance(gpu, Device):
        return gpu
    if isinstance(gpu, bool):
        raise ValueError(f"gpu: gpu must be a GPU count, an accelerator string or a Device, got {gpu!r}")
    if isinstance(gpu, int):
        if gpu < 0:
            raise ValueError(f"gpu: GPU count must be >= 0, got {gpu}")
        return Device(quantity=gpu, device_class="GPU") if gpu else None
    if isinstance(gpu, str):
        # A bare count in a string (design documents write gpu="1"); isascii() keeps out other digits.
        if gpu.isascii() and gpu.isdigit():
            count = int(gpu)
            return Device(quantity=count, device_class="GPU") if count else None
        text = _undeprecated_gpu(gpu)
        if text not in _ACCELERATOR_SET:
            raise ValueError(_unknown_accelerator_message(gpu))
        device, _, count_text = text.partition(":")
        return Device(quantity=int(count_text or 1), device_class=device_class_of(device), device=device)
    raise ValueError(
        f"gpu: gpu must be an accelerator string such as 'T4:1', a GPU count or a Device, "
        f"got {gpu!r} ({type(gpu).__name__})"
    )


def _unknown_accelerator_message(text: str) -> str:
    device = _undeprecated_gpu(text).partition(":")[0]
    same_device = [a for a in ACCELERATORS if a.partition(":")[0] == device]
    hint = f" Valid for {device}: {', '.join(same_device)}." if same_device else ""
    return (
        f"gpu: {text!r} is not a known accelerator.{hint} Use a GPU count (e.g. 1), an accelerator "
        "string '<TYPE>:<N>' such as 'T4:1', 'A100:8', 'H100:2', 'L4 shared:1', 'Trn1:16' or "
        "'MI300X:1', or a Device such as GPU('A100', 1, '1g.5gb'); all "
        f"{len(ACCELERATORS)} accelerator strings are listed in roost.spec.resources.ACCELERATORS."
    )
