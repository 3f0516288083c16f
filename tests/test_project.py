"""Project hygiene that CI enforces: ruff is clean, README's test command is the one CI runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it is in the test extra)")
    result = subprocess.run(
        [ruff, "check", "src", "tests", "examples", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart.*?```(?:bash|sh)\n(.*?)```", readme, re.S)
    assert block, "README.md needs a Quickstart with a bash block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_quickstart_is_two_commands_and_ci_runs_the_second():
    commands = quickstart_commands()
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci, f"{commands[1]!r} must be what .ci/run runs"


def test_package_is_typed():
    assert (ROOT / "src" / "roost" / "py.typed").exists()


def test_readme_docs_examples_and_docstrings_cite_no_document_a_reader_lacks():
    # The repository's text stands alone: it says the fact instead of pointing at design notes,
    # specifications or issue numbers that are not in it.
    cited = re.compile(r"SPEC\.md|SPEC ?§|SPEC \d|\bseeds?\b|seed[- ]\d{3}|\bissue #?\d+", re.IGNORECASE)
    paths = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "examples").glob("*.py")]
    paths += list((ROOT / "src").rglob("*.py"))
    found = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in paths
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if cited.search(line)
    ]
    assert not found, "\n".join(found)
