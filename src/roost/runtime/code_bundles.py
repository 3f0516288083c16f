"""Code bundles: the user's code a client ships to a roost server for a remote run.

A bundle is a gzip'd tar, content-addressed by the sha256 of its bytes, so ``pack`` makes it
deterministic: the same files with the same contents give the same bytes whatever their mtimes,
owners or the order the filesystem lists them in. What goes in follows Flyte's ``copy_style``:
``"loaded_modules"`` (the project's modules imported so far, and the package ``__init__`` files
that make them importable again), ``"all"`` (every file of the project but what .gitignore and
.roostignore leave out) or ``"none"`` (no bundle: the code is in the image).

``unpack`` runs on the server, on bytes from the network: it checks every member before it writes
anything, writes only regular files and directories itself (never ``tarfile.extractall``), and
moves the finished tree into place with one rename, so a reader sees all of a bundle or none.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import posixpath
import shutil
import sys
import sysconfig
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.spec.dockerignore import IgnoreRules, is_ignored, read_ignore_rules

logger = logging.getLogger("roost")

MAX_BUNDLE_BYTES: int = 100 * 2**20  # compressed size a server accepts by default
MAX_UNPACKED_BYTES: int = 512 * 2**20
MAX_FILES: int = 20_000

COPY_STYLES = ("loaded_modules", "all", "none")
_SKIPPED_DIRS = frozenset({".git", "__pycache__", "node_modules", "site-packages", "dist-packages"})
# roost's own package is installed wherever the server runs: never shipped, even from a checkout.
_ROOST_DIR = Path(__file__).resolve().parents[1]
_PYTHON_LIBS = ("stdlib", "platstdlib", "purelib", "platlib")
# Tar headers around the data (pax records for long names included) stay well under this per member.
_HEADER_ALLOWANCE = 4096


class BundleError(ValueError):
    """A bundle refused: one-line reason, never a traceback."""


@dataclass(frozen=True)
class CodeBundle:
    digest: str  # "sha256:<hex>" of data
    data: bytes  # the .tar.gz
    files: tuple[str, ...]  # relative posix paths, sorted
    root: Path


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def pack(copy_style: str = "loaded_modules", root: str | Path | None = None) -> CodeBundle | None:
    """The bundle of the project at ``root`` (the working directory by default); None for "none"."""
    if copy_style not in COPY_STYLES:
        raise ValueError(f"copy_style must be one of {', '.join(map(repr, COPY_STYLES))}, not {copy_style!r}")
    if copy_style == "none":
        return None
    base = Path(os.path.abspath(root if root is not None else os.getcwd()))
    real_root = base.resolve()
    found = _loaded_module_files(base, real_root) if copy_style == "loaded_modules" else _all_files(real_root)
    sources = {rel: real for rel, path in found.items() if (real := _source(rel, path, real_root)) is not None}
    # A program submitting run after run packs the same files each time: their names, sizes and
    # modification times say whether the last bundle still holds.
    fingerprint = (real_root, tuple((rel, *_stamp(sources[rel])) for rel in sorted(sources)))
    if _last is not None and _last[0] == fingerprint:
        return _last[1]
    data = _tar_gz(sources)
    if len(data) > MAX_BUNDLE_BYTES:
        hint = "list what it need not carry in .roostignore"
        if copy_style == "all":
            hint += " or use copy_style='loaded_modules'"
        raise BundleError(
            f"the code bundle of {real_root} is over {len(data) / 2**20:.1f} MiB, more than the "
            f"{MAX_BUNDLE_BYTES / 2**20:.0f} MiB a server accepts: {hint}"
        )
    bundle = CodeBundle(digest_of(data), data, tuple(sorted(sources)), real_root)
    _remember(fingerprint, bundle)
    return bundle


_last: tuple[Any, CodeBundle] | None = None


def _remember(fingerprint: Any, bundle: CodeBundle) -> None:
    global _last
    _last = (fingerprint, bundle)


def _stamp(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return status.st_mtime_ns, status.st_size, status.st_mode


def module_of(path: str | Path, root: str | Path) -> str:
    """The module name a file of the project is imported as: "pkg/sub/mod.py" -> "pkg.sub.mod"."""
    file, base = Path(os.path.abspath(Path(root, path))), Path(os.path.abspath(root))
    rel = _relative(file, base) or _relative(file.resolve(), base.resolve())
    if rel is None:
        raise BundleError(f"{path} is not under {root}")
    parts = rel.split("/")
    if not parts[-1].endswith(".py"):
        raise BundleError(f"{rel} is not a Python file")
    parts[-1] = parts[-1][: -len(".py")]
    if parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(part.isidentifier() for part in parts):
        raise BundleError(f"{rel} cannot be imported as a module")
    return ".".join(parts)


def unpack(
    data: bytes, dest: str | Path, *, max_unpacked: int = MAX_UNPACKED_BYTES, max_files: int = MAX_FILES
) -> Path:
    """Unpack a bundle into ``dest``, all of it or nothing; ``dest`` is returned.

    A ``dest`` already there (the same digest unpacked before, maybe at the same moment by another
    thread or process) is kept as it is. The bundle is checked in any case: callers that trust what
    they unpacked before check ``dest.is_dir()`` first.
    """
    dest = Path(dest)
    tar_bytes = _gunzip(data, max_unpacked + max_files * _HEADER_ALLOWANCE)
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            members = _checked_members(tar, max_unpacked, max_files)
            if any(tar_bytes[tar.offset :]):  # tarfile stops quietly at a header it cannot parse
                raise BundleError(f"the data after the member at offset {tar.offset} is not a tar header")
            dest.parent.mkdir(parents=True, exist_ok=True)
            temp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".unpacking", dir=dest.parent))
            try:
                _write(tar, members, temp)
                temp.chmod(0o755)  # mkdtemp's 0o700 would stay with dest
                try:
                    os.rename(temp, dest)
                except OSError:
                    if not dest.is_dir():
                        raise
                    shutil.rmtree(temp, ignore_errors=True)  # unpacked meanwhile: keep that one
            except BaseException:
                shutil.rmtree(temp, ignore_errors=True)
                raise
    except tarfile.TarError as e:
        raise BundleError(f"not a valid tar: {' '.join(str(e).split())}") from None
    return dest


# -- pack --------------------------------------------------------------------------------------------


def _relative(path: Path, root: Path) -> str | None:
    """``path`` as a posix path relative to ``root``, or None when it lies outside."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return None


def _source(rel: str, path: Path, real_root: Path) -> Path | None:
    """The real file behind ``path``; None (with a warning) for a link leading outside the root."""
    real = path.resolve()
    if _relative(real, real_root) is None:
        logger.warning("code bundle: %s is left out, a symbolic link to %s outside %s", rel, real, real_root)
        return None
    if not real.is_file():  # a dangling link, or a module file deleted since it was imported
        logger.warning("code bundle: %s is left out, not a readable file", rel)
        return None
    return real


def _loaded_module_files(base: Path, real_root: Path) -> dict[str, Path]:
    """The files of the project's imported modules, and of the packages above them."""
    ignore = read_ignore_rules(real_root / ".roostignore", gitignore=True)
    # Neither roost nor the interpreter's own libraries, even with the root above them (a project
    # in ~ and Python in ~/.pyenv).
    installed = [_ROOST_DIR, *{Path(p).resolve() for k, p in sysconfig.get_paths().items() if k in _PYTHON_LIBS}]
    venvs: dict[Path, bool] = {}
    files: dict[str, Path] = {}
    prefixes = (os.path.join(str(base), ""), os.path.join(str(real_root), ""))
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or file.endswith(".pyc"):
            continue
        if os.path.isabs(file) and not os.path.normpath(file).startswith(prefixes):  # most: installed elsewhere
            continue
        path = Path(os.path.abspath(file))
        # A module found through a symlinked folder (macOS's /tmp) is still the project's own.
        rel = _relative(path, base) or _relative(path, real_root)
        if rel is None or is_ignored(rel, ignore) or any(_relative(path.resolve(), d) is not None for d in installed):
            continue
        parts = rel.split("/")
        if _SKIPPED_DIRS.intersection(parts[:-1]) or _in_venv(real_root, parts[:-1], venvs):
            continue
        files[rel] = path
        for depth in range(1, len(parts)):  # pkg/__init__.py, pkg/sub/__init__.py for pkg/sub/mod.py
            init = "/".join([*parts[:depth], "__init__.py"])
            if (real_root / init).is_file():
                files[init] = real_root / init
    return files


def _in_venv(root: Path, dirs: list[str], seen: dict[Path, bool]) -> bool:
    for depth in range(1, len(dirs) + 1):
        folder = root.joinpath(*dirs[:depth])
        if folder not in seen:
            seen[folder] = (folder / "pyvenv.cfg").exists()
        if seen[folder]:
            return True
    return False


def _all_files(root: Path) -> dict[str, Path]:
    """Every regular file under ``root`` but those a project never ships and those it ignores."""
    ignore: IgnoreRules = read_ignore_rules(root / ".gitignore", gitignore=True)
    ignore += read_ignore_rules(root / ".roostignore", gitignore=True)
    files: dict[str, Path] = {}
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        prefix = "" if here == root else here.relative_to(root).as_posix() + "/"
        kept = []
        for name in sorted(dirs):
            path = here / name
            if name in _SKIPPED_DIRS or name.startswith(".") or is_ignored(prefix + name, ignore):
                continue
            if path.is_symlink():  # its files are bundled where they really are, if inside the root
                if _relative(path.resolve(), root) is None:
                    logger.warning("code bundle: %s%s is left out, a symbolic link outside %s", prefix, name, root)
                continue
            if not (path / "pyvenv.cfg").exists():
                kept.append(name)
        dirs[:] = kept
        for name in names:
            path = here / name
            if name.endswith(".pyc") or is_ignored(prefix + name, ignore):
                continue
            if path.is_symlink() or path.is_file():  # not sockets or FIFOs; links are judged by _source
                files[prefix + name] = path
    return files


def _tar_gz(sources: dict[str, Path]) -> bytes:
    """The files (relative name: real path) as a .tar.gz whose bytes depend on names and contents alone.

    Compression stops early once the output is over ``MAX_BUNDLE_BYTES``: ``pack`` refuses it anyway.
    """
    buffer = io.BytesIO()
    # mtime=0 and no file name in the gzip header, nor owners, times or permissions but "executable"
    # in the tar headers.
    with (
        gzip.GzipFile(filename="", fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for rel in sorted(sources):
            content = sources[rel].read_bytes()
            info = tarfile.TarInfo(rel)
            info.size = len(content)
            info.mode = 0o755 if sources[rel].stat().st_mode & 0o111 else 0o644
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            tar.addfile(info, io.BytesIO(content))
            if buffer.tell() > MAX_BUNDLE_BYTES:
                break
    return buffer.getvalue()


# -- unpack ------------------------------------------------------------------------------------------


def _gunzip(data: bytes, limit: int) -> bytes:
    """The tar inside ``data``, refused when it is not gzip, truncated, or longer than ``limit``."""
    if data[:2] != b"\x1f\x8b":
        raise BundleError("not a gzip'd tar")
    stream = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer around the deflate data
    try:
        tar_bytes = stream.decompress(data, limit + 1)
    except zlib.error as e:
        raise BundleError(f"not a gzip'd tar: {e}") from None
    if len(tar_bytes) > limit:
        raise BundleError(f"the bundle unpacks to more than {limit / 2**20:.0f} MiB")
    if not stream.eof:
        raise BundleError("the bundle is truncated: its gzip stream ends early")
    if stream.unused_data:
        raise BundleError("the bundle has data after its gzip stream")
    return tar_bytes


def _checked_members(tar: tarfile.TarFile, max_unpacked: int, max_files: int) -> list[tuple[str, tarfile.TarInfo]]:
    """Every member with its normalised name, after checking all of them: nothing is written before."""
    members: list[tuple[str, tarfile.TarInfo]] = []
    names: set[str] = set()
    files: set[str] = set()
    total = 0
    for member in tar:
        if len(members) >= max_files:
            raise BundleError(f"the bundle holds more than {max_files} files and folders")
        name = _checked_name(member)
        if member.issym() or member.islnk():
            raise BundleError(f"member {member.name!r} is a {'symbolic' if member.issym() else 'hard'} link")
        if member.isdev():
            raise BundleError(f"member {member.name!r} is a device or FIFO")
        if member.issparse() or not (member.isreg() or member.isdir()):
            raise BundleError(f"member {member.name!r} is not a regular file or directory")
        if name in names:
            raise BundleError(f"member {name!r} appears twice")
        names.add(name)
        if member.isreg():
            files.add(name)
            total += member.size
        if total > max_unpacked:
            raise BundleError(f"the bundle unpacks to more than {max_unpacked / 2**20:.0f} MiB")
        if name != ".":
            members.append((name, member))
    for name, _ in members:
        parent = posixpath.dirname(name)
        while parent:  # "a" a file and "a/b" a member: the second has no folder to go to
            if parent in files:
                raise BundleError(f"member {name!r} lies below the file {parent!r}")
            parent = posixpath.dirname(parent)
    return members


def _checked_name(member: tarfile.TarInfo) -> str:
    name = member.name
    if not name or "\\" in name or "\0" in name:
        raise BundleError(f"member {name!r} has an empty name, a backslash or a NUL")
    if name.startswith("/"):
        raise BundleError(f"member {name!r} has an absolute path")
    if ".." in name.split("/"):
        raise BundleError(f"member {name!r} leads out of the bundle ('..')")
    normal = posixpath.normpath(name)
    if normal == "." and not member.isdir():
        raise BundleError(f"member {name!r} is not a file name")
    return normal


def _write(tar: tarfile.TarFile, members: list[tuple[str, tarfile.TarInfo]], into: Path) -> None:
    for name, member in members:
        path = into / name
        if member.isdir():
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
            continue
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        source = tar.extractfile(member)
        assert source is not None  # a regular file always has data
        content = source.read(member.size + 1)  # never more than the header said
        if len(content) != member.size:
            raise BundleError(f"member {name!r} holds {len(content)} bytes, not the {member.size} it declares")
        mode = 0o755 if member.mode & 0o111 else 0o644
        # O_EXCL: two names one case-insensitive filesystem sees as one are refused, not merged.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
        except FileExistsError:
            raise BundleError(f"member {name!r} collides with another member on this filesystem") from None
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(content)
