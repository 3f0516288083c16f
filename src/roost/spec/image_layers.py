"""The layers of an ``Image``: one frozen dataclass per build step, plus how each feeds the tag.

A layer is a plain value. It knows two things only: its *contribution* to the image's content hash
(``contribution()``, as Flyte computes it) and how to check, just before a build, that the files it names
are there (``validate()``). Turning layers into a Dockerfile or a virtualenv is the job of
``roost.images``, which walks ``image._layers`` in order.

Contributions hash file *contents*, never paths or modification times, so the same definition gives
the same tag on every machine. A file missing when the tag is computed contributes its path instead:
defining an image never fails because a file is not there yet; ``validate()`` is where that fails.

Which files of a folder count follows its ``.dockerignore`` (``roost.spec.dockerignore``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from roost.errors import ImageBuildError
from roost.spec.dockerignore import IgnoreRules, is_ignored, read_ignore_rules
from roost.spec.pep723 import script_metadata_block
from roost.spec.secrets import Secret

ProjectInstallMode = str  # "dependencies_only" | "install_project"
PROJECT_INSTALL_MODES = ("dependencies_only", "install_project")
CODE_BUNDLE_STYLES = ("loaded_modules", "all")
PIXI_MANIFEST_NAMES = ("pixi.toml", "pyproject.toml")


# --------------------------------------------------------------------------------------------------
# Hashing helpers


def _secrets_part(secrets: tuple[Secret, ...]) -> str:
    # stable_hash() covers key, group, mount and env var name: the reference, never a secret value.
    return "".join(s.stable_hash() for s in secrets)


def file_bytes_or_path(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return str(path).encode()


def _dockerignore_rules(folder: Path) -> IgnoreRules:
    """The rules of ``folder/.dockerignore`` as (negated, regex) pairs, in file order."""
    return read_ignore_rules(folder / ".dockerignore")


def tree_digest(folder: Path) -> str:
    """SHA-256 over the relative paths and contents of ``folder``, honouring its ``.dockerignore``.

    Walk order is sorted, so the digest is the same in every process and on every file system.
    """
    rules = _dockerignore_rules(folder)
    # With a negation rule something inside an ignored directory may come back, so such a tree must
    # still be walked; without one, pruning keeps ignored trees (.venv, node_modules) unread.
    can_prune = not any(negated for negated, _ in rules)
    h = hashlib.sha256()
    # os.walk does not descend into symlinked directories; they are hashed as links, like files.
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        rel_root = base.relative_to(folder).as_posix()
        rel_root = "" if rel_root == "." else rel_root + "/"
        for name in sorted(files + [d for d in dirs if (base / d).is_symlink()]):
            rel = rel_root + name
            if rules and is_ignored(rel, rules):
                continue
            path = base / name
            h.update(rel.encode() + b"\0")
            if path.is_symlink():
                h.update(b"->" + os.readlink(path).encode() + b"\0")
            else:
                h.update(hashlib.sha256(file_bytes_or_path(path)).digest())
        kept: list[str] = []
        for d in sorted(dirs):
            if (base / d).is_symlink():
                continue
            ignored = bool(rules) and is_ignored(rel_root + d, rules)
            if not ignored:
                # Empty directories are copied into the image too, so they count.
                h.update((rel_root + d + "/").encode() + b"\0")
            if not ignored or not can_prune:
                kept.append(d)
        dirs[:] = kept
    return h.hexdigest()


def _path_digest(path: Path) -> bytes:
    """Content digest of a file or folder; its path string when it does not exist."""
    if path.is_dir():
        return tree_digest(path).encode()
    if path.exists():
        return hashlib.sha256(file_bytes_or_path(path)).hexdigest().encode()
    return str(path).encode()


def require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} is not a file")


def _require_lock(lock: Path, what: str, fix: str) -> None:
    if not lock.is_file():
        raise ValueError(f"{what} {str(lock)!r} does not exist; {fix}")


# --------------------------------------------------------------------------------------------------
# Layers


@dataclass(frozen=True, kw_only=True)
class Layer:
    """One build step. Subclasses are frozen, hashable values."""

    def contribution(self) -> bytes:
        """What this layer adds to the image's MD5 tag."""
        raise NotImplementedError

    def validate(self) -> None:
        """Check, just before a build, that the files this layer names exist and are usable."""


@dataclass(frozen=True, kw_only=True)
class _PipOptions(Layer):
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    pre: bool = False
    extra_args: str | None = None
    secret_mounts: tuple[Secret, ...] = ()

    def _options(self) -> str:
        return (
            (self.index_url or "")
            + "".join(self.extra_index_urls)
            + ("True" if self.pre else "")
            + (self.extra_args or "")
            + _secrets_part(self.secret_mounts)
        )


@dataclass(frozen=True, kw_only=True)
class PipPackages(_PipOptions):
    packages: tuple[str, ...] = ()

    def contribution(self) -> bytes:
        return (self._options() + "".join(self.packages)).encode()


@dataclass(frozen=True, kw_only=True)
class Requirements(_PipOptions):
    file: Path

    def contribution(self) -> bytes:
        return self._options().encode() + file_bytes_or_path(self.file)

    def validate(self) -> None:
        require_file(self.file, "requirements file")


@dataclass(frozen=True, kw_only=True)
class UVProject(_PipOptions):
    pyproject: Path
    uvlock: Path
    project_install_mode: ProjectInstallMode = "dependencies_only"

    def contribution(self) -> bytes:
        return _project_contribution(self._options(), self.project_install_mode, self.pyproject, self.uvlock)

    def validate(self) -> None:
        require_file(self.pyproject, "uv project file")
        _require_lock(self.uvlock, "uv lock file", "run `uv lock` next to pyproject.toml or pass uvlock=")


@dataclass(frozen=True, kw_only=True)
class PoetryProject(Layer):
    pyproject: Path
    poetry_lock: Path
    extra_args: str | None = None
    secret_mounts: tuple[Secret, ...] = ()
    project_install_mode: ProjectInstallMode = "dependencies_only"

    def contribution(self) -> bytes:
        options = (self.extra_args or "") + _secrets_part(self.secret_mounts)
        return _project_contribution(options, self.project_install_mode, self.pyproject, self.poetry_lock)

    def validate(self) -> None:
        require_file(self.pyproject, "poetry project file")
        _require_lock(self.poetry_lock, "poetry lock file", "run `poetry lock` or pass poetry_lock=")


@dataclass(frozen=True, kw_only=True)
class PixiProject(Layer):
    """A pixi environment; after it, the pixi env is the runtime and receives later pip layers."""

    manifest: Path
    pixi_lock: Path
    environment: str = "default"
    extra_args: str | None = None
    secret_mounts: tuple[Secret, ...] = ()
    project_install_mode: ProjectInstallMode = "dependencies_only"

    def contribution(self) -> bytes:
        options = self.environment + (self.extra_args or "") + _secrets_part(self.secret_mounts)
        return _project_contribution(options, self.project_install_mode, self.manifest, self.pixi_lock)

    def validate(self) -> None:
        require_file(self.manifest, "pixi manifest")
        if self.manifest.name not in PIXI_MANIFEST_NAMES:
            raise ValueError(f"pixi manifest {str(self.manifest)!r} must be named pixi.toml or pyproject.toml")
        _require_lock(self.pixi_lock, "pixi lock file", "run `pixi lock` or pass pixi_lock=")


def _project_contribution(options: str, mode: ProjectInstallMode, manifest: Path, lock: Path) -> bytes:
    """A project layer's part of the tag: its options and install mode, then the whole project folder
    when the project itself is installed, else the lock file and the manifest."""
    head = (options + mode).encode()
    if mode == "install_project":
        return head + _path_digest(manifest.parent)
    return head + file_bytes_or_path(lock) + file_bytes_or_path(manifest)


def _validate_script(script: Path, kind: str) -> None:
    require_file(script, f"{kind} script")
    if script.suffix != ".py":
        raise ValueError(f"{kind} script {str(script)!r} must be a .py file")


@dataclass(frozen=True, kw_only=True)
class UVScript(_PipOptions):
    """The dependencies of a PEP 723 script, read when the image was defined."""

    script: Path
    dependencies: tuple[str, ...] = ()
    requires_python: str | None = None
    # False when the script could not be read at definition time: the tag then names the path.
    metadata_read: bool = True

    def contribution(self) -> bytes:
        deps = "".join(self.dependencies) if self.metadata_read else str(self.script)
        return (self._options() + (self.requires_python or "") + deps).encode()

    def validate(self) -> None:
        _validate_script(self.script, "uv")


@dataclass(frozen=True, kw_only=True)
class PixiScript(Layer):
    """A pixi PEP 723 script (conda and PyPI dependencies); its metadata block is hashed."""

    script: Path
    environment: str = "default"
    extra_args: str | None = None
    secret_mounts: tuple[Secret, ...] = ()

    def contribution(self) -> bytes:
        head = self.environment + (self.extra_args or "") + _secrets_part(self.secret_mounts)
        try:
            text = self.script.read_text()
        except OSError:
            return (head + str(self.script)).encode()
        return (head + (script_metadata_block(text) or "")).encode()

    def validate(self) -> None:
        _validate_script(self.script, "pixi")


@dataclass(frozen=True, kw_only=True)
class AptPackages(Layer):
    packages: tuple[str, ...] = ()
    secret_mounts: tuple[Secret, ...] = ()

    def contribution(self) -> bytes:
        return ("".join(self.packages) + _secrets_part(self.secret_mounts)).encode()


@dataclass(frozen=True, kw_only=True)
class Commands(Layer):
    commands: tuple[str, ...] = ()
    secret_mounts: tuple[Secret, ...] = ()

    def contribution(self) -> bytes:
        return ("".join(self.commands) + _secrets_part(self.secret_mounts)).encode()


@dataclass(frozen=True, kw_only=True)
class EnvVars(Layer):
    # Pairs, not a dict: layers must be hashable, and the order given is the order rendered.
    env_vars: tuple[tuple[str, str], ...] = ()

    def contribution(self) -> bytes:
        return " ".join(f"{k}={v}" for k, v in self.env_vars).encode()


@dataclass(frozen=True, kw_only=True)
class WorkDir(Layer):
    workdir: str

    def contribution(self) -> bytes:
        return self.workdir.encode()


@dataclass(frozen=True, kw_only=True)
class Labels(Layer):
    """OCI labels (used by the debian base image)."""

    labels: tuple[tuple[str, str], ...] = ()

    def contribution(self) -> bytes:
        return " ".join(f"{k}={v}" for k, v in self.labels).encode()


@dataclass(frozen=True, kw_only=True)
class RunAsUser(Layer):
    """Create a non-root user with this home directory and run as it (used by the debian base)."""

    user: str
    home: str

    def contribution(self) -> bytes:
        return (self.user + self.home).encode()


@dataclass(frozen=True, kw_only=True)
class SourceFolder(Layer):
    src: Path
    dst: str  # already resolved: "." became "./<src.name>" unless copy_contents_only
    copy_contents_only: bool = False

    def contribution(self) -> bytes:
        return _path_digest(self.src) + self.dst.encode()

    def validate(self) -> None:
        if not self.src.exists():
            raise ImageBuildError(f"source folder {str(self.src)!r} does not exist")
        if not self.src.is_dir():
            raise ImageBuildError(f"source folder {str(self.src)!r} is not a directory; use with_source_file()")


@dataclass(frozen=True, kw_only=True)
class SourceFiles(Layer):
    srcs: tuple[Path, ...]
    dst: str = "."

    def contribution(self) -> bytes:
        # The base name decides the file's name inside the image, so it is part of the content.
        parts = [src.name.encode() + b"\0" + _path_digest(src) for src in self.srcs]
        return b"".join(parts) + self.dst.encode()

    def validate(self) -> None:
        for src in self.srcs:
            if not src.exists():
                raise ImageBuildError(f"source file {str(src)!r} does not exist")
            if not src.is_file():
                raise ImageBuildError(f"source file {str(src)!r} is not a file; use with_source_folder()")


@dataclass(frozen=True, kw_only=True)
class CodeBundle(Layer):
    """Bake the run's code into the image; used only when a run's copy_style is "none"."""

    copy_style: str = "loaded_modules"
    dst: str = "."

    def contribution(self) -> bytes:
        return (self.copy_style + self.dst).encode()


@dataclass(frozen=True, kw_only=True)
class DockerIgnore(Layer):
    path: Path

    def contribution(self) -> bytes:
        return file_bytes_or_path(self.path)


@dataclass(frozen=True, kw_only=True)
class LocalV2(Layer):
    """Install the local checkout of the SDK (an SDK-development helper)."""

    def contribution(self) -> bytes:
        # Without a marker two images differing only by this layer would share a tag.
        return b"local-v2"


@dataclass(frozen=True, kw_only=True)
class LocalV2Plugins(Layer):
    plugins: tuple[str, ...] = ()

    def contribution(self) -> bytes:
        return ("local-v2-plugins" + "".join(self.plugins)).encode()
