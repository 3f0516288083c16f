"""PEP 723 inline script metadata: the dependencies and Python versions a uv script declares."""

from __future__ import annotations

import re
import sys
from typing import Any

_METADATA_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


def script_metadata_block(text: str) -> str | None:
    """The TOML text of the ``# /// script`` block of a script, or None when it has none."""
    blocks = [m for m in _METADATA_BLOCK.finditer(text) if m.group("type") == "script"]
    if len(blocks) > 1:
        raise ValueError("a script may contain only one '# /// script' metadata block (PEP 723)")
    if not blocks:
        return None
    lines = blocks[0].group("content").splitlines(keepends=True)
    return "".join(line[2:] if line.startswith("# ") else line[1:] for line in lines)


def parse_script_metadata(toml_text: str) -> dict[str, Any]:
    """The ``dependencies`` and ``requires-python`` keys of a script block."""
    # Imported here so that importing roost.spec stays cheap.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10
        import tomli as tomllib
    data = tomllib.loads(toml_text)
    return {k: data[k] for k in ("dependencies", "requires-python") if k in data}


def admitted_minor(requires_python: str, candidates: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The first candidate (major, minor) some patch release of which satisfies the specifier."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier as e:
        raise ValueError(
            f"cannot read requires-python {requires_python!r} ({e}); pass python_version=(3, <minor>) explicitly"
        ) from e
    for major, minor in candidates:
        # Checking patch releases too admits ">=3.11.4" or "==3.12.1" for their minor version.
        if any(spec.contains(f"{major}.{minor}.{patch}") for patch in range(51)):
            return (major, minor)
    return None
