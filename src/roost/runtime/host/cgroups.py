"""Worker cgroups: memory and CPU limits the kernel enforces, where this process may make cgroups.

A worker whose task declares a memory or CPU limit gets a cgroup of its own, created by the template
process that forked it (its parent, which also reaps it and so knows when the folder can go), under
the template's own cgroup::

    <own cgroup>/roost/<template pid>-<worker pid>

cgroup v2 is tried first: ``memory.max`` (and ``memory.swap.max`` = 0, so swap cannot dodge the
limit), ``cpu.max``; an out-of-memory kill is counted in ``memory.events``. v2 forbids processes in a
cgroup that hands controllers to its children, so where the own cgroup holds processes (and is not
the root) enabling ``+memory`` / ``+cpu`` in its ``cgroup.subtree_control`` fails, and v2 counts as
not writable. cgroup v1 comes next, per controller: ``memory.limit_in_bytes`` (and
``memory.memsw.limit_in_bytes`` where swap is accounted), ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``;
an out-of-memory kill is the ``oom_kill`` line of ``memory.oom_control`` (``memory.failcnt`` on
kernels without it). Whether a hierarchy is usable is decided once per process by really making a
probe cgroup and writing a limit in it. Where neither is, the connection's RSS watchdog and the
worker's CPU affinity enforce the limits instead; ``ROOST_CGROUPS=0`` in the controller's environment
forces that fallback (the controller reads it for every fork, so one template serves both).

Only the standard library is imported here: the template imports this module under the image's
interpreter, before any user code.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

CGROUPS_ENV = "ROOST_CGROUPS"
ROOST_FOLDER = "roost"
CONTROLLERS = ("memory", "cpu")
# The CFS period for CPU quotas (the kernel's default): quota = cores x period.
CPU_PERIOD_US = 100_000
# The kernel refuses quotas under 1 ms per period.
_MIN_QUOTA_US = 1_000
_WORKER_NAME = re.compile(r"^(\d+)-(\d+)$")
_PROBE_NAME = re.compile(r"^probe-(\d+)$")


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``ROOST_CGROUPS`` turns cgroups off (``0``, ``false``, ``no``, ``off``)."""
    value = (os.environ if environ is None else environ).get(CGROUPS_ENV, "")
    return value.strip().lower() not in ("0", "false", "no", "off")


# -- where this process's cgroups are ---------------------------------------------------------------
@dataclass(frozen=True)
class _Mount:
    fstype: str  # "cgroup" (v1) or "cgroup2"
    root: str  # the folder of the hierarchy mounted here (not "/" for a bind mount of a sub-tree)
    point: Path
    options: frozenset[str]  # super options: a v1 mount names its controllers there


def _unescape(text: str) -> str:
    # mountinfo writes spaces, tabs, newlines and backslashes in paths as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _mounts() -> list[_Mount]:
    mounts = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        mounts.append(_Mount(tail[0], _unescape(fields[3]), Path(_unescape(fields[4])), frozenset(tail[2].split(","))))
    return mounts


def _memberships() -> dict[str, str]:
    """This process's cgroup path per hierarchy: ``"v2"`` for the unified one, else each v1 controller."""
    found: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        number, controllers, path = parts
        if number == "0" and not controllers:
            found["v2"] = path
        else:
            for controller in controllers.split(","):
                found[controller] = path
    return found


def _inside(mount: _Mount, path: str) -> Path | None:
    """The folder of cgroup ``path`` under ``mount``, or None when that mount does not show it."""
    if "/.." in path or not path.startswith("/"):
        return None  # outside this cgroup namespace
    root = mount.root.rstrip("/")
    if root and path != root and not path.startswith(root + "/"):
        return None
    relative = path[len(root) :].lstrip("/")
    return mount.point / relative if relative else mount.point


def own_folder(controller: str, version: str) -> Path | None:
    """The folder of this process's own cgroup holding ``controller`` in the ``version`` hierarchy
    (whether or not that controller is enabled there); None when it is not mounted here."""
    memberships = _memberships()
    for mount in _mounts():
        if version == "v2" and mount.fstype == "cgroup2" and "v2" in memberships:
            folder = _inside(mount, memberships["v2"])
        elif version == "v1" and mount.fstype == "cgroup" and controller in mount.options and controller in memberships:
            folder = _inside(mount, memberships[controller])
        else:
            continue
        if folder is not None and folder.is_dir():
            return folder
    return None


# -- which hierarchy is writable -------------------------------------------------------------------
@dataclass(frozen=True)
class Hierarchy:
    """Where worker cgroups of one cgroup controller are made: the ``roost`` folder of a hierarchy."""

    resource: str  # the cgroup controller it limits: "memory" or "cpu"
    version: str  # "v1" or "v2"
    folder: Path


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _probe(folder: Path, files: dict[str, str]) -> bool:
    """Can a child cgroup be made in ``folder`` and these limit files written in it? (it is removed)"""
    probe = folder / f"probe-{os.getpid()}"
    try:
        probe.mkdir(exist_ok=True)
    except OSError:
        return False
    try:
        for name, value in files.items():
            _write(probe / name, value)
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


def _enable(folder: Path, controller: str) -> bool:
    """Hand ``controller`` to the children of v2 cgroup ``folder``; False where the kernel refuses
    (EBUSY: the folder holds processes and is not the root, the v2 "no internal processes" rule)."""
    current = (_read(folder / "cgroup.subtree_control") or "").split()
    if controller in current:
        return True
    try:
        _write(folder / "cgroup.subtree_control", f"+{controller}")
    except OSError:
        return False
    return True


def _roost_folder(own: Path) -> Path | None:
    """The ``roost`` folder under the process's own cgroup, made if need be; None if it cannot be."""
    folder = own / ROOST_FOLDER
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return None
    return folder


def _v2(controller: str) -> Hierarchy | None:
    own = own_folder(controller, "v2")
    if own is None or controller not in (_read(own / "cgroup.controllers") or "").split():
        return None
    folder = _roost_folder(own)
    if folder is None:
        return None
    if not (_enable(own, controller) and _enable(folder, controller)):
        with contextlib.suppress(OSError):  # made for nothing: v2 is not writable for us
            folder.rmdir()
        return None
    test = {"memory": {"memory.max": "max"}, "cpu": {"cpu.max": f"max {CPU_PERIOD_US}"}}[controller]
    return Hierarchy(controller, "v2", folder) if _probe(folder, test) else None


def _v1(controller: str) -> Hierarchy | None:
    own = own_folder(controller, "v1")
    folder = None if own is None else _roost_folder(own)
    if folder is None:
        return None
    test = {"memory": {"memory.limit_in_bytes": "-1"}, "cpu": {"cpu.cfs_quota_us": "-1"}}[controller]
    return Hierarchy(controller, "v1", folder) if _probe(folder, test) else None


@functools.cache
def support() -> dict[str, Hierarchy]:
    """The hierarchy used for each controller this process can limit (v2 first, then v1), found once
    per process; leftovers of dead templates are swept from the folders found (best effort)."""
    found: dict[str, Hierarchy] = {}
    for controller in CONTROLLERS:
        hierarchy = _v2(controller) or _v1(controller)
        if hierarchy is not None:
            found[controller] = hierarchy
    for folder in {h.folder for h in found.values()}:
        sweep(folder)
    return found


def sweep(folder: Path) -> None:
    """Remove the worker cgroups (and probes) in ``folder`` whose template is no longer alive."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        match = _WORKER_NAME.match(entry.name) or _PROBE_NAME.match(entry.name)
        if match is not None and entry.is_dir() and not _alive(int(match.group(1))):
            with contextlib.suppress(OSError):  # still holding a process: left for a later sweep
                entry.rmdir()


# -- one worker's cgroup ---------------------------------------------------------------------------
def _limit_files(
    hierarchy: Hierarchy, folder: Path, memory: int | None, millicores: int | None
) -> list[tuple[str, str]]:
    """The files to write, in order, to apply the limit of ``hierarchy.resource``."""
    if hierarchy.resource == "memory" and memory is not None:
        if hierarchy.version == "v2":
            files = [("memory.max", str(memory))]
            if (folder / "memory.swap.max").exists():
                files.append(("memory.swap.max", "0"))
            return files
        files = [("memory.limit_in_bytes", str(memory))]
        # memory+swap no larger than memory: the worker cannot grow into swap instead of being killed.
        # Without swap accounting, keeping the cgroup out of swap does the same.
        if (folder / "memory.memsw.limit_in_bytes").exists():
            files.append(("memory.memsw.limit_in_bytes", str(memory)))
        elif (folder / "memory.swappiness").exists():
            files.append(("memory.swappiness", "0"))
        return files
    if hierarchy.resource == "cpu" and millicores is not None:
        quota = max(_MIN_QUOTA_US, millicores * CPU_PERIOD_US // 1000)
        if hierarchy.version == "v2":
            return [("cpu.max", f"{quota} {CPU_PERIOD_US}")]
        return [("cpu.cfs_period_us", str(CPU_PERIOD_US)), ("cpu.cfs_quota_us", str(quota))]
    return []


@dataclass
class WorkerCgroup:
    """The cgroup folders of one worker, one per hierarchy used (v2: one folder for both limits)."""

    name: str
    enforced: dict[str, str] = field(default_factory=dict)  # controller -> "v1" / "v2"
    folders: list[Path] = field(default_factory=list)
    memory_folder: Path | None = None
    memory_version: str | None = None

    @classmethod
    def create(cls, name: str, pid: int, memory: int | None, millicores: int | None) -> WorkerCgroup | None:
        """Make the worker's cgroup, write its limits and move ``pid`` into it; None when no limit
        could be applied this way. A controller whose step fails is left to the fallback."""
        cgroup = cls(name)
        wanted_limits = {"memory": memory, "cpu": millicores}
        for controller, hierarchy in support().items():
            if wanted_limits[controller] is None:
                continue
            folder = hierarchy.folder / name
            try:
                folder.mkdir(exist_ok=True)
                for file, value in _limit_files(hierarchy, folder, memory, millicores):
                    _write(folder / file, value)
                _write(folder / "cgroup.procs", str(pid))
            except OSError:
                if folder not in cgroup.folders:
                    with contextlib.suppress(OSError):
                        folder.rmdir()
                continue
            cgroup.enforced[controller] = hierarchy.version
            if folder not in cgroup.folders:
                cgroup.folders.append(folder)
            if controller == "memory":
                cgroup.memory_folder, cgroup.memory_version = folder, hierarchy.version
        return cgroup if cgroup.enforced else None

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this cgroup for passing its memory limit."""
        folder = self.memory_folder
        if folder is None:
            return False
        if self.memory_version == "v2":
            return _counter(_read(folder / "memory.events"), "oom_kill") > 0
        control = _read(folder / "memory.oom_control")
        if control is not None and re.search(r"^oom_kill ", control, re.M):
            return _counter(control, "oom_kill") > 0
        # Kernels before 4.13 do not count kills: the limit was hit at least (the caller checks SIGKILL).
        failures = (_read(folder / "memory.failcnt") or "0").strip()
        return failures.isdigit() and int(failures) > 0

    def remove(self) -> bool:
        """Remove the folders; False while a process the worker left behind still holds one."""
        done = True
        for folder in list(self.folders):
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError as e:
                if e.errno != errno.ENOENT:
                    done = False
                    continue
            self.folders.remove(folder)
        return done


def _counter(text: str | None, key: str) -> int:
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            try:
                return int(parts[1])
            except ValueError:
                return 0
    return 0


def worker_name(template_pid: int, worker_pid: int) -> str:
    return f"{template_pid}-{worker_pid}"


def describe(enforced: dict[str, str]) -> str:
    """``"memory and cpu limits in cgroup v1"``: where a worker's limits are enforced, for messages."""
    if not enforced:
        return ""
    names = [c for c in CONTROLLERS if c in enforced]
    versions = sorted(set(enforced.values()))
    return f"{' and '.join(names)} limit{'s' if len(names) > 1 else ''} in cgroup {'/'.join(versions)}"
