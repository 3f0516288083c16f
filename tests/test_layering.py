"""The folder layout is the architecture: a module imports only from its own layer or those below.

Layers, lowest first (docs/architecture.md explains each):
errors < store < types < definitions (spec/, interface, task) < core < images < runtime < api < cli
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "roost"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("errors", ("roost.errors", "roost._version", "roost._loading")),
    ("store", ("roost.store",)),
    ("types", ("roost.types",)),
    ("definitions", ("roost.spec", "roost.interface", "roost.task")),
    ("core", ("roost.core",)),
    ("images", ("roost.images",)),
    ("runtime", ("roost.runtime",)),
    ("api", ("roost",)),
    ("cli", ("roost.cli",)),
]


def layer_of(module: str) -> int:
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best >= 0, module
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def roost_imports(path: Path) -> list[tuple[int, str]]:
    """Every roost module imported anywhere in the file (function-level imports included)."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "roost"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.split(".")[0] == "roost":
                if target == "roost":  # `from roost import errors` names a module of the package
                    found += [(node.lineno, f"roost.{a.name}") for a in node.names]
                else:
                    found.append((node.lineno, target))
    return found


def test_imports_point_down_the_layers():
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        here = module_name(path)
        for lineno, target in roost_imports(path):
            if layer_of(target) > layer_of(here):
                violations.append(
                    f"{path.relative_to(SRC.parent)}:{lineno}: {here} ({LAYERS[layer_of(here)][0]}) imports "
                    f"{target} ({LAYERS[layer_of(target)][0]})"
                )
    assert not violations, "upward imports:\n" + "\n".join(violations)


def test_the_checker_sees_an_upward_import(tmp_path):
    bad = SRC / "spec" / "_layering_probe.py"
    bad.write_text("def f():\n    from roost.runtime import controller\n")
    try:
        assert roost_imports(bad) == [(2, "roost.runtime")]
        assert layer_of("roost.runtime") > layer_of(module_name(bad))
    finally:
        bad.unlink()
