"""What a worker applies to its own process before running code: secrets and resource limits.

Secrets declared with a mount are written to ``/etc/flyte/secrets/<key>`` -- the path a task reads on
a cluster -- and, for a secret with a group, also to Flyte's platform layout
``/etc/flyte/secrets/<group>/<key lower-cased>``, inside a private mount namespace: a tmpfs only this
process and its children see, gone when it exits. As root that is a plain mount namespace; as any
other user an unprivileged user namespace (the user keeps its uid; files of other users show as
``nobody``), with an overlay on the nearest existing parent where ``/etc/flyte/secrets`` does not
exist. Where the kernel refuses both, the files go to the action's private 0700 folder, named by
``ROOST_SECRETS_DIR`` (see docs/secrets.md). Every granted value is masked in what the process reports
from then on (runtime/masking.py).

A CPU limit sizes the usual thread pools (``OMP_NUM_THREADS``...) and, unless the worker's cgroup
enforces it as a quota (cgroups.py), pins the process to that many cores; GPUs are granted through
``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

from roost.runtime import masking
from roost.runtime.messages import SecretGrant

SECRETS_MOUNT = Path("/etc/flyte/secrets")
FALLBACK_ENV = "ROOST_SECRETS_DIR"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_PRIVATE = 1 << 18
_MS_REC = 0x4000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x2, 0x4, 0x8
_TMPFS_OPTIONS = b"mode=0700,size=4m"


def _mount(libc: Any, source: str, target: Path | str, fstype: str, flags: int, data: bytes | None) -> bool:
    return libc.mount(source.encode(), str(target).encode(), fstype.encode(), flags, data) == 0  # type: ignore[no-any-return]


def _enter_private_namespace(libc: Any) -> bool:
    """A mount namespace of this process's own: directly as root, inside a user namespace otherwise."""
    if os.geteuid() == 0:
        if libc.unshare(_CLONE_NEWNS) != 0:
            return False
    else:
        uid, gid = os.geteuid(), os.getegid()
        if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS) != 0:  # refused where the kernel forbids it
            return False
        # The same uid and gid inside as outside: files the task writes elsewhere stay the user's.
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    # Without this, mounts made here could propagate back to the host's namespace.
    return libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) == 0  # type: ignore[no-any-return]


def _private_secrets_mount(scratch: Path) -> bool:
    """Mount a tmpfs at /etc/flyte/secrets that only this process (and its children) can see.

    ``scratch``, a folder this user owns, carries (in the namespace only) the writable layer of an
    overlay when /etc/flyte/secrets does not exist and this user may not create it.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if not _enter_private_namespace(libc):
            return False
        flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
        if not SECRETS_MOUNT.is_dir():
            try:
                SECRETS_MOUNT.mkdir(parents=True, exist_ok=True)
            except PermissionError:
                if not _overlay_parent(libc, scratch):
                    return False
        return _mount(libc, "tmpfs", SECRETS_MOUNT, "tmpfs", flags, _TMPFS_OPTIONS)
    except (OSError, AttributeError):
        return False


def _overlay_parent(libc: Any, scratch: Path) -> bool:
    """Make the nearest existing parent of /etc/flyte/secrets writable here: an overlay whose upper
    layer is a tmpfs mounted (in this namespace only) on ``scratch``."""
    parent = SECRETS_MOUNT.parent
    while not parent.is_dir():
        parent = parent.parent
    scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _mount(libc, "tmpfs", scratch, "tmpfs", _MS_NOSUID | _MS_NODEV, _TMPFS_OPTIONS):
        return False
    (scratch / "upper").mkdir()
    (scratch / "work").mkdir()
    options = f"lowerdir={parent},upperdir={scratch / 'upper'},workdir={scratch / 'work'}".encode()
    if not _mount(libc, "overlay", parent, "overlay", 0, options):
        return False
    SECRETS_MOUNT.mkdir(parents=True, exist_ok=True)
    return True


def _write_private(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)


def secret_files(secrets: list[SecretGrant]) -> list[tuple[str, str]]:
    """The files of mounted secrets, relative to the mount: ``<key>``, and ``<group>/<key lower-cased>``
    (Flyte's platform layout) for a secret with a group."""
    files = []
    for secret in secrets:
        if secret.mount:
            files.append((secret.key, secret.value))
            if secret.group:
                files.append((f"{secret.group}/{secret.key.lower()}", secret.value))
    return files


def write_secret_files(folder: Path, secrets: list[SecretGrant]) -> None:
    for name, value in secret_files(secrets):
        path = folder / name
        if path.parent != folder:
            path.parent.mkdir(mode=0o700, exist_ok=True)
        _write_private(path, value)


def apply_secrets(secrets: list[SecretGrant]) -> None:
    """Expose each resolved secret as its environment variable and/or its mounted file; mask the
    values in this process's output and errors from now on."""
    masking.register(s.value for s in secrets)
    files = [s for s in secrets if s.mount]
    if files:
        fallback = Path(files[0].fallback_dir)
        if _private_secrets_mount(fallback / "overlay"):
            folder = SECRETS_MOUNT
        else:
            folder = fallback
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ[FALLBACK_ENV] = str(folder)  # where the files are, either way
        write_secret_files(folder, secrets)
    for secret in secrets:
        if secret.env:
            os.environ[secret.env] = secret.value


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
