"""docs/compatibility.md's table of every Flyte 2 name and command is checked against the real
surfaces, so it cannot drift: each public name of roost and each name of Flyte 2.12.1
(flyte_surface.py) has a row; a row that says roost has a name (works / differs / roost only) names
one roost really has, and a row that says it is absent names one roost really lacks, with the reason.
The same for commands: the `roost` click tree, walked, against Flyte's CLI."""

from __future__ import annotations

import importlib
import re
import types
from pathlib import Path

import click

from roost.cli.main import main as roost_cli

from . import flyte_surface

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"
SECTION = "## Every Flyte 2 name and command"
ROW = re.compile(r"^\| `(?P<name>[^`]+)` \| (?P<status>works|differs|absent|roost only) \| (?P<note>.*) \|$")
MODULES = [
    "flyte",
    "flyte.io",
    "flyte.remote",
    "flyte.storage",
    "flyte.types",
    "flyte.report",
    "flyte.app",
    "flyte.extend",
    "flyte.config",
    "flyte.errors",
    "flyte.models",
]


def roost_module(flyte_module: str) -> types.ModuleType:
    return importlib.import_module("roost" + flyte_module[len("flyte") :])


def roost_names(flyte_module: str) -> list[str]:
    """The public names of roost's counterpart of ``flyte_module``: its ``__all__``, else what it
    defines (not what it imports from typing or ``__future__``, nor modules)."""
    module = roost_module(flyte_module)
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return list(exported)
    names = []
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if getattr(value, "__module__", None) in ("typing", "__future__") or type(value).__module__ == "__future__":
            continue
        names.append(name)
    return names


def has(dotted: str) -> bool:
    module, _, name = dotted.rpartition(".")
    try:
        return hasattr(roost_module(module), name)
    except ModuleNotFoundError:
        return False


def roost_commands() -> set[str]:
    """Every leaf command of the `roost` CLI, as `roost get logs`."""
    found: set[str] = set()

    def walk(command: click.Command, path: str, parent: click.Context | None) -> None:
        ctx = click.Context(command, parent=parent, info_name=path.rsplit(" ", 1)[-1])
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, f"{path} {name}", ctx)
        else:
            found.add(path)

    walk(roost_cli, "roost", None)
    return found


def table() -> dict[str, tuple[str, str]]:
    text = DOC.read_text()
    assert SECTION in text, f"{DOC.name} has no section {SECTION!r}"
    rows: dict[str, tuple[str, str]] = {}
    for line in text.split(SECTION, 1)[1].splitlines():
        if line.startswith("## "):
            break
        found = ROW.match(line)
        if found is None:
            assert not line.startswith("| `"), f"a row the check cannot read: {line}"
            continue
        name = found["name"]
        assert name not in rows, f"{name} has two rows"
        rows[name] = (found["status"], found["note"].strip())
    return rows


def test_every_public_roost_name_has_a_row_that_does_not_call_it_absent():
    rows = table()
    missing = [f"{m}.{n}" for m in MODULES for n in roost_names(m) if f"{m}.{n}" not in rows]
    assert not missing, f"public names of roost the table does not list: {missing}"
    absent = [f"{m}.{n}" for m in MODULES for n in roost_names(m) if rows[f"{m}.{n}"][0] == "absent"]
    assert not absent, f"said absent, but roost exports them: {absent}"


def test_every_flyte_name_and_module_has_a_row():
    rows = table()
    missing = [f"{m}.{n}" for m, names in flyte_surface.NAMES.items() for n in names if f"{m}.{n}" not in rows]
    missing += [m for m in flyte_surface.MODULES_ABSENT if m not in rows]
    assert not missing, f"Flyte {flyte_surface.FLYTE_VERSION} names the table does not list: {missing}"


def test_what_the_table_says_roost_has_exists_and_what_it_says_is_absent_does_not():
    flyte_names = {f"{m}.{n}" for m, names in flyte_surface.NAMES.items() for n in names}
    flyte_names |= set(flyte_surface.NAMES) - {"flyte"}  # its modules: flyte.io, flyte.remote, ...
    for name, (status, note) in table().items():
        if name.startswith(("flyte ", "roost ")):
            continue  # commands: the next test
        if name in flyte_surface.MODULES_ABSENT:
            assert status == "absent" and note, name
            continue
        if status == "absent":
            assert not has(name), f"{name} is said to be absent, but roost has it"
            assert note, f"{name} is absent without a reason"
        else:
            assert has(name), f"{name} is said to be there ({status}), but roost has no such name"
        if status == "differs":
            assert note, f"{name} differs without saying how"
        if status == "roost only":
            assert name not in flyte_names, f"{name} is a Flyte name, not roost's only"
        elif status in ("works", "differs"):
            assert name in flyte_names, f"{name} is not a Flyte {flyte_surface.FLYTE_VERSION} name: say 'roost only'"


def test_the_command_rows_match_both_command_lines():
    rows = {name: row for name, row in table().items() if name.startswith(("flyte ", "roost "))}
    commands = roost_commands()
    missing = [f"flyte {c}" for c in flyte_surface.CLI if f"flyte {c}" not in rows]
    assert not missing, f"Flyte commands the table does not list: {missing}"
    covered: set[str] = set()
    for name, (status, note) in rows.items():
        same = "roost " + name.split(" ", 1)[1]
        named = {c for c in re.findall(r"`(roost [a-z -]+?)(?: [A-Z]+)?`", note) if c in commands}
        if name.startswith("roost "):
            assert status == "roost only" and name in commands, name
            covered.add(name)
        elif status == "works":
            assert same in commands, f"{name} is said to work, but there is no `{same}`"
            covered.add(same)
        elif status == "differs":
            assert note and (same in commands or named), f"{name} differs: name the roost command in its note"
            covered |= named | ({same} & commands)
        else:
            assert same not in commands, f"{name} is said to be absent, but `{same}` exists"
            assert note, f"{name} is absent without a reason"
    assert commands <= covered, f"roost commands the table does not list: {sorted(commands - covered)}"
