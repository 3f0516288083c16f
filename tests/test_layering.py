"""The folder layout is the architecture: a module imports only from its own layer or those below,
and no files import each other in a circle (but the few named below).

Layers, lowest first (docs/architecture.md explains each):
errors < store < types < definitions (spec/, interface, task) < core < images < runtime < api < server < cli
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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
    ("server", ("roost.server",)),
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


MODULES = {module_name(path) for path in SRC.rglob("*.py")}


def roost_imports(path: Path) -> list[tuple[int, str]]:
    """Every roost module imported anywhere in the file (function-level imports included).

    ``from package import name`` names the module ``package.name`` where that is a module of the
    tree, else ``package`` itself.
    """
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
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
                # `from roost import errors`, `from roost.runtime import logs`: the names are modules.
                for a in node.names:
                    named = f"{target}.{a.name}"
                    entry = (node.lineno, named if named in MODULES else target)
                    if entry not in found:
                        found.append(entry)
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
    bad.write_text("def f():\n    from roost.runtime.engine import run_controller\n")
    try:
        assert roost_imports(bad) == [(2, "roost.runtime.engine.run_controller")]
        assert layer_of("roost.runtime") > layer_of(module_name(bad))
    finally:
        bad.unlink()


# -- import circles ---------------------------------------------------------------------------------
#
# Files that import each other (directly or around a loop) cannot be read, tested or moved one at a
# time. The graph is src/roost's modules, with an arrow for every import a module makes: at the top,
# inside a function (it ties the two files just the same), and under `if TYPE_CHECKING:` too. A
# type-only import never runs, but it is still a reference: whoever reads the file must know the
# other one, and issue #12 counts the engine core's circle, which one such import closes
# (actions.py -> run_controller.py). Left out: the package __init__ files Python runs on the way to a
# module, which are not what the importing file asked for.

# The type engine's registry: the engine registers the built-in transformers, which import the
# engine to convert what they hold. A circle that stays inside types/ and includes the engine is it.
TYPE_ENGINE = "roost.types.engine"

# Circles known today, each by name. A circle of some of a listed set's files passes; a circle that
# takes in any other file fails. Remove an entry as soon as its circle is gone.
# Circles allowed besides the type engine's registry: none. A new one is named here with why it
# must stay, or broken.
ALLOWED_CIRCLES: dict[str, frozenset[str]] = {}


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {module it imports: the line of the first such import}."""
    graph: dict[str, dict[str, int]] = {}
    for path in sorted(SRC.rglob("*.py")):
        arrows = graph.setdefault(module_name(path), {})
        for lineno, target in roost_imports(path):
            if target in MODULES and target != module_name(path):
                arrows.setdefault(target, lineno)
    return graph


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def allowed(circle: list[str]) -> bool:
    if TYPE_ENGINE in circle and all(m == "roost.types" or m.startswith("roost.types.") for m in circle):
        return True
    return any(set(circle) <= files for files in ALLOWED_CIRCLES.values())


def file_of(module: str) -> str:
    path = SRC.parent.joinpath(*module.split("."))
    return str((path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).relative_to(SRC.parent))


def describe(circle: list[str], graph: dict[str, dict[str, int]]) -> str:
    """A circle as its files, then every arrow between two of them (file:line -> file)."""
    members = set(circle)
    lines = [f"circle of {len(circle)} files: " + ", ".join(file_of(m) for m in circle)]
    for module in circle:
        for target, lineno in sorted(graph[module].items()):
            if target in members:
                lines.append(f"  {file_of(module)}:{lineno} -> {file_of(target)}")
    return "\n".join(lines)


def test_no_import_circles_but_the_allowed_ones():
    graph = import_graph()
    found = circles(graph)
    unexpected = [describe(c, graph) for c in found if not allowed(c)]
    if unexpected:
        pytest.fail(
            "import circles (break them, or name them in ALLOWED_CIRCLES):\n" + "\n\n".join(unexpected), pytrace=False
        )
    gone = [name for name, files in ALLOWED_CIRCLES.items() if not any(set(c) <= files for c in found)]
    assert not gone, f"these circles are gone: remove them from ALLOWED_CIRCLES: {gone}"


def test_the_circle_finder_finds_a_loop_and_says_which_arrows_close_it():
    graph = {
        "roost.a": {"roost.b": 3},
        "roost.b": {"roost.c": 5},
        "roost.c": {"roost.a": 7, "roost.d": 8},
        "roost.d": {},
        "roost.e": {"roost.e": 1},
    }
    assert circles(graph) == [["roost.a", "roost.b", "roost.c"]]
    text = describe(["roost.a", "roost.b", "roost.c"], graph)
    assert "roost/a.py:3 -> roost/b.py" in text and "roost/c.py:7 -> roost/a.py" in text
    assert "roost/d.py" not in text
    assert allowed(["roost.types.engine", "roost.types.transformers.files"])
    assert not allowed(["roost.runtime.engine.actions", "roost.runtime.engine.run_controller"])
    assert not allowed(["roost.runtime.engine.run_controller", "roost.runtime.runs.runner"])
    assert not allowed(["roost.types.engine", "roost.runtime.values"])


# -- inside runtime/: its folders are its roles --------------------------------------------------------
# What each role may import within runtime/ (docs/architecture.md). The engine and the inside of a
# worker never import each other: what passes between them is a typed message (runtime/messages.py).
RUNTIME_ROLES = ("runs", "engine", "worker", "host", "task_api")
ROLE_IMPORTS: dict[str, set[str]] = {
    "shared": {"shared"},
    "task_api": {"shared", "task_api"},
    "host": {"shared", "host"},
    "worker": {"shared", "task_api", "host", "worker"},
    "engine": {"shared", "task_api", "host", "engine"},
    "runs": {"shared", "task_api", "host", "engine", "runs"},
}
ROLE_EXCEPTIONS = {
    # Ray runs worker-side entry points that the driver names: ray.remote(...) must be given them.
    ("roost.runtime.engine.executors.ray_cluster", "roost.runtime.worker.ray_worker"),
    # A hybrid run on a server runs its root action in the program that started it: that program is
    # the action's worker, so starting a run there starts the worker side too.
    ("roost.runtime.runs.remote_runs", "roost.runtime.worker.hybrid_root"),
    # An app is served as a task whose code is the worker-side app runtime: the task must be given it.
    ("roost.runtime.runs.app_serving", "roost.runtime.worker.app_code"),
    # A replica on Ray is driven by its worker, which creates the actor that runs the app on a node:
    # it connects to the cluster as the executors do (one connection per process, its authentication).
    ("roost.runtime.worker.app_on_ray", "roost.runtime.engine.executors.ray_cluster"),
}


def runtime_role(module: str) -> str | None:
    if module != "roost.runtime" and not module.startswith("roost.runtime."):
        return None
    head = module.removeprefix("roost.runtime").lstrip(".").split(".")[0]
    return head if head in RUNTIME_ROLES else "shared"


def test_runtime_roles_import_only_what_their_role_may():
    wrong = []
    for path in sorted((SRC / "runtime").rglob("*.py")):
        module = module_name(path)
        role = runtime_role(module)
        for lineno, target in roost_imports(path):
            other = runtime_role(target)
            if other is None or other in ROLE_IMPORTS[role] or (module, target) in ROLE_EXCEPTIONS:
                continue
            wrong.append(f"{path.relative_to(SRC.parent)}:{lineno} ({role}) imports {target} ({other})")
    assert not wrong, "\n".join(wrong)


# Names one concept keeps in every layer it appears in: its declaration (spec/), what the engine does
# with it, its command. Any other name is one thing.
SHARED_NAMES = {"cache", "retries", "resources", "build"}


def test_no_module_name_means_two_things():
    seen: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        if path.name != "__init__.py":
            seen.setdefault(path.stem, []).append(str(path.relative_to(SRC)))
    twice = {name: paths for name, paths in seen.items() if len(paths) > 1 and name not in SHARED_NAMES}
    assert not twice, twice
