"""``roost build FILE [ENV]``: run as a real process against a ROOST_HOME of the test's own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from roost.images import docker

from .conftest import needs_pypi

PROGRAM = textwrap.dedent(
    """
    from pathlib import Path
    import roost as flyte

    base = flyte.Image.from_base("python:3.12-slim").clone(name="app", extendable=True)
    jokes = flyte.TaskEnvironment(name="jokes", image=base.with_pip_packages("pyjokes==0.8.3"))
    tools = flyte.TaskEnvironment(name="tools", image=base.with_apt_packages("git").with_env_vars({"A": "1"}))
    plain = flyte.TaskEnvironment(name="plain")
    broken = flyte.TaskEnvironment(
        name="broken", image=base.with_requirements(Path(__file__).parent / "missing-requirements.txt")
    )


    @jokes.task
    def tell() -> str:
        import pyjokes

        return pyjokes.get_joke()
    """
)


@pytest.fixture
def prog(tmp_path: Path) -> Path:
    path = tmp_path / "prog.py"
    path.write_text(PROGRAM)
    return path


def roost(*args: str, docker_cli: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env[docker.DOCKER_ENV] = docker_cli or shutil.which("docker") or "/nonexistent/docker"
    return subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "build", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=cwd,
    )


def test_dockerfile_is_printed_without_building(prog: Path, roost_home: Path):
    out = roost(str(prog), "jokes", "--dockerfile")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("# environment jokes: app:")
    assert "uv pip install --python python3 pyjokes==0.8.3" in out.stdout
    assert "# build context:" in out.stdout
    assert not (roost_home / "venvs").exists()  # nothing was built


def test_usage_errors_exit_2(prog: Path, tmp_path: Path):
    unknown = roost(str(prog), "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        f"Error: no environment 'nope' in {prog}; environments there: broken, jokes, plain, tools"
    )
    assert roost(str(tmp_path / "missing.py")).returncode == 2
    both = roost(str(prog), "--push", "--local")
    assert both.returncode == 2 and "pick one" in both.stderr
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    nothing = roost(str(empty))
    assert nothing.returncode == 2 and "declares no environments" in nothing.stderr


def test_a_failed_build_is_one_line_and_exit_1(prog: Path):
    out = roost(str(prog), "broken", "--local")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: building the image of broken failed: cannot build the virtualenv")
    assert "missing-requirements.txt' does not exist" in lines[0]


def test_push_without_an_engine_fails_clearly(prog: Path):
    if shutil.which("docker") is None or docker.engine_status(shutil.which("docker")).answers:
        pytest.skip("needs a docker CLI without an engine")
    out = roost(str(prog), "tools", "--push")
    assert out.returncode == 1
    assert "Error: building the image of tools failed: no Docker engine answers" in out.stderr
    assert "(docker info said: " in out.stderr


@needs_pypi
def test_build_without_an_engine_makes_the_local_virtualenvs(prog: Path, roost_home: Path):
    out = roost(str(prog))  # every environment of the file, in order; "broken" comes last and fails
    assert out.returncode == 1
    text = out.stdout
    assert "✓ jokes (local): no Docker engine answers" in text and "built the local virtualenv" in text
    assert "✓ tools (local): " in text and "adds no Python packages" in text
    assert "✓ plain: the default image, prebuilt; nothing to build" in text
    assert "apt packages git cannot apply to a local worker" in out.stderr  # reported, once
    assert out.stderr.strip().splitlines()[-1].startswith("Error: building the image of broken failed")
    again = roost(str(prog), "jokes")
    assert again.returncode == 0 and "is up to date" in again.stdout
    assert len(list((roost_home / "venvs").iterdir())) == 2  # the virtualenv and its lock file
