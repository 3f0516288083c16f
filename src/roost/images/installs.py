"""What the Python-package layers install, in the terms both builders share (uv arguments).

The Dockerfile renderer and the local virtualenv materialiser install the same things the same way:
``uv pip install`` with the layer's index options. This module holds the parts they share so a
layer means the same in an image and on a laptop: the option arguments, the dependencies of a uv
script, the pinned packages of a ``poetry.lock``, and how to find the ``uv`` binary.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from roost.errors import ImageBuildError
from roost.spec import image_layers as L
from roost.spec import pep723
from roost.spec.image_args import check_packages

# Layers that install Python packages with uv; locally they make a virtualenv of the image's own.
UV_INSTALL_LAYERS: tuple[type[L.Layer], ...] = (
    L.PipPackages,
    L.Requirements,
    L.UVProject,
    L.PoetryProject,
    L.UVScript,
    L.LocalV2Plugins,
)


def pip_option_args(layer: L.Layer) -> list[str]:
    """The ``uv pip install`` options a layer declares: indexes, pre-releases, extra arguments."""
    args: list[str] = []
    index_url = getattr(layer, "index_url", None)
    if index_url:
        args += ["--index-url", index_url]
    for extra in getattr(layer, "extra_index_urls", ()):
        args += ["--extra-index-url", extra]
    if getattr(layer, "pre", False):
        args.append("--prerelease=allow")
    extra_args = getattr(layer, "extra_args", None)
    if extra_args:
        args += shlex.split(extra_args)
    return args


def script_dependencies(layer: L.UVScript) -> tuple[str, ...]:
    """The script's PEP 723 dependencies: as read at definition, or now if the file was missing then."""
    if layer.metadata_read:
        return layer.dependencies
    try:
        text = layer.script.read_text()
    except OSError as e:
        raise ImageBuildError(f"cannot read the uv script {str(layer.script)!r}: {e.strerror}") from None
    block = pep723.script_metadata_block(text)
    meta = pep723.parse_script_metadata(block) if block is not None else {}
    deps = tuple(str(d) for d in meta.get("dependencies", ()))
    return check_packages(f"from_uv_script({layer.script.name})", deps)


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ImageBuildError(f"cannot read {str(path)!r}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ImageBuildError(f"{str(path)!r} is not valid TOML: {e}") from None


def _in_main_group(package: dict[str, Any]) -> bool:
    # poetry 2 writes groups = [...]; poetry 1 wrote category = "main" | "dev"; no field: main.
    groups = package.get("groups")
    if groups is not None:
        return "main" in groups
    return package.get("category", "main") == "main"


def _marker(package: dict[str, Any]) -> str | None:
    markers = package.get("markers")
    if isinstance(markers, dict):
        markers = markers.get("main")
    return markers if isinstance(markers, str) and markers else None


def poetry_requirements(lock: Path) -> str:
    """The main-group packages of a ``poetry.lock``, pinned, as a requirements file.

    roost installs a poetry project with uv, not poetry: the lock decides every version, exactly
    what ``poetry install --only main --no-root`` would install. Optional (extra-only) packages and
    packages from local directories are left out: the project's own sources are not dependencies.
    """
    data = _load_toml(lock)
    lines = [f"# pinned from {lock.name} by roost"]
    for package in data.get("package", []):
        if not isinstance(package, dict) or package.get("optional") or not _in_main_group(package):
            continue
        name, version = package.get("name"), package.get("version")
        source = package.get("source") or {}
        kind = source.get("type")
        if kind in ("directory", "file"):
            continue
        if kind == "git":
            ref = source.get("resolved_reference") or source.get("reference") or ""
            line = f"{name} @ git+{source.get('url')}" + (f"@{ref}" if ref else "")
        elif kind == "url":
            line = f"{name} @ {source.get('url')}"
        else:
            line = f"{name}=={version}"
        marker = _marker(package)
        lines.append(f"{line} ; {marker}" if marker else line)
    return "\n".join(lines) + "\n"


def find_uv() -> str:
    """The ``uv`` executable: the one the ``uv`` package ships, else one on PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found is None:
        raise ImageBuildError(
            "uv is not installed, so no virtualenv can be built for an image's packages: "
            "`pip install uv` (roost depends on it) or put uv on PATH"
        )
    return found
