"""What a worker applies to its own process before running code: secrets and resource limits.

Secrets declared with a mount are written to ``/etc/flyte/secrets/<key>`` -- the path a task reads on
a cluster -- inside a private mount namespace (a tmpfs only this process and its children see, gone
when it exits). Where the kernel refuses a namespace, they go to a private 0700 folder named by
``ROOST_SECRETS_DIR`` instead (see docs/secrets.md). A CPU limit sizes the usual thread pools
(``OMP_NUM_THREADS``...) and, unless the worker's cgroup enforces it as a quota (cgroups.py), pins the
process to that many cores; GPUs are granted through ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

from roost.runtime.messages import SecretGrant

SECRETS_MOUNT = Path("/etc/flyte/secrets")
FALLBACK_ENV = "ROOST_SECRETS_DIR"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")

_CLONE_NEWNS = 0x00020000
_MS_PRIVATE = 1 << 18
_MS_REC = 0x4000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x2, 0x4, 0x8


def _private_secrets_mount() -> bool:
    """Mount a tmpfs at /etc/flyte/secrets that only this process (and its children) can see."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(_CLONE_NEWNS) != 0:
            return False
        # Without this, mounts made here could propagate back to the host's namespace.
        if libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
            return False
        SECRETS_MOUNT.mkdir(parents=True, exist_ok=True)
        flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
        return libc.mount(b"tmpfs", str(SECRETS_MOUNT).encode(), b"tmpfs", flags, b"mode=0700,size=4m") == 0
    except (OSError, AttributeError):
        return False


def apply_secrets(secrets: list[SecretGrant]) -> None:
    """Expose each resolved secret as its environment variable and/or its mounted file."""
    files = [s for s in secrets if s.mount]
    folder: Path | None = None
    if files:
        if _private_secrets_mount():
            folder = SECRETS_MOUNT
        else:
            folder = Path(files[0].fallback_dir)
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.environ[FALLBACK_ENV] = str(folder)
    for secret in secrets:
        if secret.env:
            os.environ[secret.env] = secret.value
        if secret.mount and folder is not None:
            path = folder / secret.key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secret.value)


def apply_limits(limits: dict[str, Any]) -> None:
    """``cpus``: the cores to pin to; ``threads``: the thread-pool size (with a cgroup CPU quota, it
    comes without ``cpus``: the quota limits the process, on any core)."""
    cpus = limits.get("cpus")
    if cpus and hasattr(os, "sched_setaffinity"):  # Linux; elsewhere only the thread variables apply
        os.sched_setaffinity(0, set(cpus))
    threads = limits.get("threads") or (len(cpus) if cpus else None)
    if threads:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
    if "cuda_visible_devices" in limits:
        os.environ["CUDA_VISIBLE_DEVICES"] = limits["cuda_visible_devices"]
