"""Images on this machine: what applies locally, and real virtualenvs built with uv and reused."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import roost as flyte
from roost.errors import ImageBuildError, InvalidPackageError
from roost.images import local, venv
from roost.models import ActionPhase

from . import image_tasks
from .conftest import needs_pypi

BASE = image_tasks.BASE


def venv_dir(home: Path, image: flyte.Image) -> Path:
    return home / "venvs" / local.venv_key(local.plan(image).installs)


def built_logs(caplog: pytest.LogCaptureFixture) -> int:
    return sum("built its virtualenv" in r.getMessage() for r in caplog.records)


# -- what applies locally (no virtualenv needed) -------------------------------------------------------


def test_images_without_packages_use_the_running_interpreter():
    assert local.python_for(None) is local.DEFAULT
    assert local.python_for(flyte.Image.from_base("python:3.12")).python == sys.executable
    assert local.python_for(flyte.Image.from_debian_base()) == local.DEFAULT
    # The Debian base's own plumbing (user, /home/flyte, /opt/venv, apt) describes the base image,
    # which this machine stands in for: nothing of it applies or is reported.
    assert local.plan(flyte.Image.from_debian_base(install_flyte=False)) == local.LocalPlan((), (), None, ())


def test_env_vars_expand_like_docker_and_workdir_applies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", "/home/someone")
    image = BASE.with_env_vars({"A": "1", "B": "$A-${HOME}", "PATH": "/extra:$PATH", "C": "$NOPE."})
    image = image.with_workdir("/nowhere/else").with_workdir(str(tmp_path))
    found = local.python_for(image)
    env = found.env_dict
    assert env["A"] == "1" and env["B"] == "1-/home/someone" and env["C"] == "."
    assert env["PATH"] == "/extra:" + os.environ["PATH"]
    assert found.python == sys.executable and found.venv is None
    assert found.workdir == str(tmp_path)  # the last with_workdir wins


def test_relative_workdir_and_missing_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    assert local.plan(BASE.with_workdir("sub")).workdir == str(tmp_path / "sub")
    with caplog.at_level("WARNING", logger="roost"):
        found = local.python_for(BASE.with_workdir("/no/such/folder"))
    assert found.workdir is None
    assert "workdir /no/such/folder (no such folder here)" in caplog.text


def test_what_cannot_apply_locally_is_reported_once(tmp_path: Path, caplog):
    image = (
        BASE.with_apt_packages("git", "curl")
        .with_commands(["make all"])
        .with_source_folder(tmp_path, dst="/opt/src")
        .with_source_file(tmp_path / "x.py", dst="./code")  # relative: the code is at hand already
        .with_env_vars({"X": "1"})
    )
    with caplog.at_level("WARNING", logger="roost"):
        for _ in range(3):
            assert local.python_for(image).env_dict == {"X": "1"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "apt packages git, curl" in warnings[0] and "commands make all" in warnings[0]
    assert f"source folder {tmp_path} copied to /opt/src" in warnings[0]
    assert "x.py" not in warnings[0]


def test_dockerfile_images_are_reported(tmp_path: Path, caplog):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12\n")
    with caplog.at_level("WARNING", logger="roost"):
        found = local.python_for(flyte.Image.from_dockerfile(dockerfile, registry=None, name="df"))
    assert found.python == sys.executable
    assert f"the Dockerfile {dockerfile}" in caplog.text


# -- bad input ------------------------------------------------------------------------------------------


def test_invalid_package_is_refused_at_definition(tmp_path: Path):
    with pytest.raises(InvalidPackageError, match=r"Invalid package 'numpy==>1': with_pip_packages: Expected"):
        BASE.with_pip_packages("pandas", "numpy==>1")
    script = tmp_path / "job.py"
    script.write_text('# /// script\n# dependencies = ["requests>>2"]\n# ///\n')
    with pytest.raises(InvalidPackageError, match=r"from_uv_script\(job.py\)"):
        flyte.Image.from_uv_script(script, name="job")
    # pip's other spellings are not requirements but are fine: paths, URLs, VCS, archives.
    BASE.with_pip_packages("./libs/mine", "git+https://example.com/x.git", "pkg @ https://e.com/p.whl", "a.whl")


def test_layers_after_from_dockerfile_are_refused(tmp_path: Path):
    image = flyte.Image.from_dockerfile(tmp_path / "Dockerfile", registry="r.io", name="df")
    with pytest.raises(ValueError, match="cannot add layers to a Dockerfile-based image"):
        image.with_pip_packages("numpy")
    with pytest.raises(ValueError, match="cannot add layers to a Dockerfile-based image"):
        image.clone(extendable=True).with_env_vars({"A": "1"})


def test_missing_requirements_file_is_a_clear_build_error(tmp_path: Path):
    image = BASE.with_requirements(tmp_path / "requirements.txt")  # defining it does not fail
    with pytest.raises(ImageBuildError, match=r"requirements file '.*requirements\.txt' does not exist"):
        local.python_for(image)


# -- real virtualenvs ----------------------------------------------------------------------------------


@needs_pypi
def test_virtualenv_is_built_once_and_reused(roost_home: Path, caplog):
    assert importlib.util.find_spec("pyjokes") is None  # the test's own environment lacks it
    image = image_tasks.jokes_image
    with caplog.at_level("INFO", logger="roost"):
        first = local.python_for(image)
    assert first.built and first.venv == venv_dir(roost_home, image)
    assert first.python == str(first.venv / "bin" / "python")
    marker = json.loads((first.venv / venv.MARKER).read_text())
    assert marker["key"] == first.venv.name and marker["python"] == "{}.{}".format(*sys.version_info[:2])
    assert local.python_for(image).built is False  # this process knows it
    local.forget()
    again = local.python_for(image)  # as a fresh process: found on disk, not rebuilt
    assert again.built is False and again.python == first.python
    assert json.loads((first.venv / venv.MARKER).read_text())["built_at"] == marker["built_at"]
    assert built_logs(caplog) == 1
    # Nothing is left beside it but the lock file: the temporary build folder was renamed into place.
    assert sorted(p.name for p in first.venv.parent.iterdir()) == [f".{first.venv.name}.lock", first.venv.name]
    # roost is importable there without being installed, and the image's package comes first.
    code = "import roost, pyjokes, sys; print(pyjokes.__file__)"
    out = subprocess.run([first.python, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith(str(first.venv))
    assert first.env_dict["VIRTUAL_ENV"] == str(first.venv)
    assert first.env_dict["JOKE_MOOD"] == f"dry, at {os.environ['HOME']}"


@needs_pypi
def test_changed_definition_builds_a_new_virtualenv(tmp_path: Path, roost_home: Path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pyjokes==0.8.3\n")
    image = BASE.with_requirements(requirements)
    first = local.python_for(image)
    requirements.write_text("pyjokes==0.8.2  # another version\n")  # another size: seen at once
    second = local.python_for(image)  # the same Image value, in the same process
    assert first.built and second.built and first.venv != second.venv
    version = "from importlib.metadata import version; print(version('pyjokes'))"
    out = subprocess.run([second.python, "-c", version], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0.8.2"


@needs_pypi
def test_code_changes_keep_the_virtualenv(tmp_path: Path):
    """A source folder is part of the image identifier, not of what its virtualenv installs."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("A = 1\n")
    image = image_tasks.jokes_image.with_source_folder(code)
    identifier = image.identifier
    first = local.python_for(image)
    (code / "app.py").write_text("A = 2\n")
    local.forget()
    assert image.identifier != identifier
    again = local.python_for(image)
    assert first.built and not again.built and again.venv == first.venv


@needs_pypi
def test_two_processes_build_one_virtualenv(roost_home: Path):
    """Both ask at once; the file lock lets one build while the other waits and reuses it."""
    code = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        from roost.images import local
        from images import image_tasks
        print(local.python_for(image_tasks.jokes_image).built)
        """
    )
    tests_dir = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "ROOST_HOME": str(roost_home)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, tests_dir], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    answers = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert answers == ["False", "True"]


@needs_pypi
def test_a_failed_install_leaves_nothing_behind(roost_home: Path):
    image = BASE.with_pip_packages("roost-test-no-such-package-3f9a==1.0")
    with pytest.raises(ImageBuildError, match=r"uv could not install roost-test-no-such-package-3f9a==1.0 \(exit"):
        local.python_for(image)
    assert [p.name for p in (roost_home / "venvs").iterdir()] == [f".{venv_dir(roost_home, image).name}.lock"]


# -- runs -------------------------------------------------------------------------------------------------


@needs_pypi
def test_a_task_imports_its_images_package_and_the_second_run_reuses_the_virtualenv(roost_home: Path, caplog):
    with caplog.at_level("INFO", logger="roost"):
        out = flyte.run(image_tasks.tell_joke).outputs()[0]
        assert out["joke"] and out["version"] == "0.8.3"
        folder = venv_dir(roost_home, image_tasks.jokes_image)
        assert out["python"] == str(folder / "bin" / "python") and out["virtual_env"] == str(folder)
        assert out["mood"] == f"dry, at {os.environ['HOME']}"
        local.forget()  # the next run finds the virtualenv as a fresh controller would
        run = flyte.run(image_tasks.tell_joke)
        assert run.outputs()[0]["python"] == out["python"]
    assert built_logs(caplog) == 1
    assert run.phase == ActionPhase.SUCCEEDED


@needs_pypi
def test_reusable_environment_replicas_run_in_the_image(roost_home: Path):
    version, python = flyte.run(image_tasks.pooled_joke).outputs()[0].split()
    assert version == "0.8.3" and python.startswith(str(roost_home / "venvs"))


@needs_pypi
def test_nested_call_from_an_image_worker():
    assert flyte.run(image_tasks.joke_then_plain).outputs()[0] == "0.8.3:3"


@needs_pypi
def test_the_first_action_waits_for_the_build_as_initializing(store, monkeypatch: pytest.MonkeyPatch):
    """The build runs in a thread, the action shows INITIALIZING meanwhile, and the loop stays free."""
    release = threading.Event()
    real_build = venv._build

    def held_build(*args, **kwargs):
        assert release.wait(60)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(venv, "_build", held_build)
    result: list[object] = []
    runner = threading.Thread(
        target=lambda: result.append(flyte.with_runcontext(name="image-init").run(image_tasks.tell_joke))
    )
    runner.start()
    try:
        phase = None
        deadline = time.monotonic() + 30
        while phase != ActionPhase.INITIALIZING and time.monotonic() < deadline:
            store.flush()
            actions = store.list_actions("image-init")
            phase = actions[0].phase if actions else None
            time.sleep(0.02)
        assert phase == ActionPhase.INITIALIZING
        # Meanwhile other runs go on: the runtime loop is not blocked by uv.
        assert flyte.run(image_tasks.plain_length, "four").outputs()[0] == 4
    finally:
        release.set()
        runner.join(60)
    assert result[0].outputs()[0]["version"] == "0.8.3"
