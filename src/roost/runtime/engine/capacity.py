"""What this machine can give actions: CPU cores, memory and GPUs.

Detected once: the cores this process may run on (its affinity, capped by a cgroup CPU quota), the
memory (MemTotal, capped by a cgroup memory limit) and the GPUs (CUDA_VISIBLE_DEVICES, else
``nvidia-smi -L``). ``ROOST_CAPACITY`` overrides any of them, e.g. ``cpu=4,memory=8Gi,gpu=1``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from roost.spec.quantities import parse_bytes, parse_cpu

CAPACITY_ENV = "ROOST_CAPACITY"


@dataclass(frozen=True)
class Gpu:
    index: str
    name: str


@dataclass(frozen=True)
class Capacity:
    cores: tuple[int, ...]
    memory: int
    gpus: tuple[Gpu, ...]

    @property
    def millicores(self) -> int:
        return 1000 * len(self.cores)

    def describe(self) -> str:
        gpus = f", {len(self.gpus)} GPU(s)" if self.gpus else ", no GPU"
        return f"{len(self.cores)} CPU core(s), {self.memory / 2**30:.1f} GiB of memory{gpus}"


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cgroup_cpu_cores() -> float | None:
    v2 = _read("/sys/fs/cgroup/cpu.max")
    if v2 and not v2.startswith("max"):
        quota, period = v2.split()
        return int(quota) / int(period)
    quota = _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    period = _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    if quota and period and int(quota) > 0:
        return int(quota) / int(period)
    return None


def _memory() -> int:
    total = 0
    meminfo = _read("/proc/meminfo") or ""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            total = int(line.split()[1]) * 1024
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        value = _read(path)
        if value and value.isdigit() and 0 < int(value) < (total or 1 << 62):
            total = int(value)
    return total or 1 << 30


def _gpus() -> tuple[Gpu, ...]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return tuple(Gpu(v.strip(), "visible device") for v in visible.split(",") if v.strip() and v.strip() != "-1")
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    gpus = []
    for line in out.splitlines():
        # "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)"
        if line.startswith("GPU ") and ":" in line:
            index, rest = line[4:].split(":", 1)
            gpus.append(Gpu(index.strip(), rest.split("(UUID")[0].strip()))
    return tuple(gpus)


@functools.lru_cache(maxsize=1)
def detect() -> Capacity:
    cores = (
        tuple(sorted(os.sched_getaffinity(0)))
        if hasattr(os, "sched_getaffinity")
        else tuple(range(os.cpu_count() or 1))
    )
    quota = _cgroup_cpu_cores()
    if quota is not None and quota < len(cores):
        cores = cores[: max(1, int(quota))]
    capacity = Capacity(cores=cores, memory=_memory(), gpus=_gpus())
    return _override(capacity, os.environ.get(CAPACITY_ENV, ""))


def _override(capacity: Capacity, text: str) -> Capacity:
    cores, memory, gpus = capacity.cores, capacity.memory, capacity.gpus
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        if key == "cpu":
            count = max(1, parse_cpu(value, f"{CAPACITY_ENV} cpu") // 1000)
            cores = tuple(range(count)) if count > len(cores) else cores[:count]
        elif key == "memory":
            memory = parse_bytes(value, f"{CAPACITY_ENV} memory")
        elif key == "gpu":
            gpus = tuple(Gpu(str(i), "declared") for i in range(int(value)))
        else:
            raise ValueError(f"{CAPACITY_ENV}: unknown resource {key!r} in {text!r} (use cpu=, memory=, gpu=)")
    return Capacity(cores, memory, gpus)
