"""Identifiers: the same content gives the same identifier in every process; changed content a new one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import roost as flyte
from roost.images import local

from .test_dockerfile import CASES, base

TESTS_DIR = str(Path(__file__).resolve().parents[1])


def identifiers(folder: Path) -> dict[str, str]:
    return {name: make(folder / name).identifier for name, make in sorted(CASES.items())}


def test_every_layer_kind_has_the_same_identifier_in_another_process(tmp_path: Path):
    here = identifiers(tmp_path)
    code = textwrap.dedent(
        """
        import json, sys
        from pathlib import Path
        sys.path.insert(0, sys.argv[1])
        from images.test_identity import identifiers
        print(json.dumps(identifiers(Path(sys.argv[2]))))
        """
    )
    # Another interpreter, with another hash seed: nothing may depend on either.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, TESTS_DIR, str(tmp_path)], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(out.stdout) == here
    assert len(set(here.values())) == len(here)  # and every case is a different image


def test_requirements_content_decides_the_identifier_and_the_virtualenv(tmp_path: Path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pyjokes==0.8.3\n")
    image = base().with_requirements(requirements)
    first = image.identifier, local.venv_key(local.plan(image).installs)
    # A copy elsewhere, touched later: same content, same identifier and virtualenv.
    elsewhere = tmp_path / "copy" / "requirements.txt"
    elsewhere.parent.mkdir()
    shutil.copy(requirements, elsewhere)
    os.utime(elsewhere, (time.time() + 100, time.time() + 100))
    moved = base().with_requirements(elsewhere)
    assert moved.identifier == first[0]
    requirements.write_text("pyjokes==0.8.2\n")
    changed = image.identifier, local.venv_key(local.plan(image).installs)
    assert changed[0] != first[0] and changed[1] != first[1]


def test_what_the_virtualenv_key_ignores():
    image = base().with_pip_packages("pyjokes")
    key = local.venv_key(local.plan(image).installs)
    # Variables, workdir, apt packages, registry and name are the image's, not its virtualenv's.
    other = (
        flyte.Image.from_base("python:3.11")
        .clone(name="other", registry="r.io", extendable=True)
        .with_env_vars({"A": "1"})
        .with_pip_packages("pyjokes")
        .with_workdir("/srv")
        .with_apt_packages("git")
    )
    assert other.identifier != image.identifier
    assert local.venv_key(local.plan(other).installs) == key
    # Package boundaries count: "ab", "c" is not "a", "bc" (the image tag concatenates them).
    ab_c = local.plan(base().with_pip_packages("ab", "c")).installs
    a_bc = local.plan(base().with_pip_packages("a", "bc")).installs
    assert local.venv_key(ab_c) != local.venv_key(a_bc)
