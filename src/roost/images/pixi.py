"""pixi in a Dockerfile: the manifest a pixi PEP 723 script implies, and where pixi envs live.

A pixi project installs with ``pixi install --frozen`` from its own manifest and lock. A pixi script
has no manifest of its own, only a ``# /// script`` block (PyPI ``dependencies`` plus a
``[tool.pixi]`` table with channels and conda dependencies); roost writes the ``pixi.toml`` that
block describes, so pixi can install it like any project. Neither applies to a local virtualenv.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from roost.errors import ImageBuildError
from roost.spec import pep723

PIXI_IMAGE = "ghcr.io/prefix-dev/pixi:latest"
PIXI_ROOT = "/opt/roost/pixi"
# Docker platform names to pixi's.
_PLATFORMS = {"linux/amd64": "linux-64", "linux/arm64": "linux-aarch64", "linux/arm64/v8": "linux-aarch64"}


def env_bin(folder: str, environment: str) -> str:
    """The bin folder of an installed pixi environment: later layers find its python on PATH first."""
    return f"{folder}/.pixi/envs/{environment}/bin"


def _toml_value(value: Any) -> str:
    # JSON strings, numbers, booleans and arrays of them are valid TOML as written.
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _pypi_entry(requirement: str) -> tuple[str, Any]:
    from packaging.requirements import Requirement

    req = Requirement(requirement)
    if req.url:
        return req.name, {"url": req.url}
    spec = str(req.specifier) or "*"
    if req.extras:
        return req.name, {"version": spec, "extras": sorted(req.extras)}
    return req.name, spec


def script_manifest(script: Path, python_version: tuple[int, int], platforms: tuple[str, ...]) -> str:
    """The ``pixi.toml`` of a pixi script's metadata block (deterministic: same block, same text)."""
    try:
        block = pep723.script_metadata_block(script.read_text())
    except OSError as e:
        raise ImageBuildError(f"cannot read the pixi script {str(script)!r}: {e.strerror}") from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    data = tomllib.loads(block) if block else {}
    tool = data.get("tool", {}).get("pixi", {})
    lines = [
        "[workspace]",
        f"name = {json.dumps(script.stem)}",
        f"channels = {_toml_value(tool.get('channels', ['conda-forge']))}",
        f"platforms = {_toml_value(sorted({_PLATFORMS.get(p, p) for p in platforms}))}",
        "",
        "[dependencies]",
        f'python = "{python_version[0]}.{python_version[1]}.*"',
    ]
    lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in tool.get("dependencies", {}).items()]
    pypi = [_pypi_entry(r) for r in data.get("dependencies", [])]
    pypi += list(tool.get("pypi-dependencies", {}).items())
    if pypi:
        lines += ["", "[pypi-dependencies]"]
        lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in pypi]
    return "\n".join(lines) + "\n"
