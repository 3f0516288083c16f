"""Docker builds: the command line, secrets at build time, the tag check, and no engine here.

Two kinds of test: with the real ``docker`` CLI of this machine (which has no engine, so a build
must fail at once, saying so), and with a stand-in ``docker`` (a small script named by
``$ROOST_DOCKER``) that records how roost called it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import textwrap
from pathlib import Path

import pytest

import roost as flyte
from roost.errors import ImageBuildError
from roost.images import docker
from roost.images.build import build_image

from .conftest import needs_pypi

BASE = flyte.Image.from_base("python:3.12-slim").clone(name="app", registry="reg.example.com", extendable=True)
REAL_DOCKER = shutil.which("docker")
SECRET_VALUE = "s3cr3t-build-value-9d2f"

FAKE_DOCKER = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys
    args = sys.argv[1:]
    log = os.environ["FAKE_DOCKER_LOG"]
    entry = {{"args": args}}
    code = 0
    if args[:1] == ["info"]:
        print("27.1.0")
    elif args[:2] == ["buildx", "version"]:
        print("github.com/docker/buildx v0.17.0")
    elif args[:3] == ["buildx", "imagetools", "inspect"] or args[:2] == ["manifest", "inspect"]:
        if os.environ.get("FAKE_TAG_EXISTS") != "1":
            print("ERROR: " + args[-1] + ": not found", file=sys.stderr)
            code = 1
    elif args[:2] == ["image", "inspect"]:
        print("Error: No such image: " + args[-1], file=sys.stderr)
        code = 1
    elif args[:2] == ["buildx", "build"]:
        context = args[-1]
        entry["dockerfile"] = open(args[args.index("--file") + 1]).read()
        entry["context"] = sorted(
            os.path.relpath(os.path.join(root, f), context) for root, _, files in os.walk(context) for f in files
        )
        secrets = [args[i + 1] for i, a in enumerate(args) if a == "--secret"]
        entry["secret_values"] = [os.environ.get(s.split("env=")[1]) for s in secrets]
        print("#1 building " + args[args.index("--tag") + 1])
        code = int(os.environ.get("FAKE_BUILD_EXIT", "0"))
        if code:
            print("ERROR: failed to solve: process did not complete successfully")
    with open(log, "a") as f:
        f.write(json.dumps(entry) + "\\n")
    sys.exit(code)
    """
)


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A stand-in docker CLI; returns a function reading what it was asked, call by call."""
    script = tmp_path / "fake-docker"
    script.write_text(FAKE_DOCKER.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "docker.log"
    monkeypatch.setenv(docker.DOCKER_ENV, str(script))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return calls


# -- the real docker CLI, no engine ----------------------------------------------------------------------


@pytest.fixture
def real_docker_without_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    if REAL_DOCKER is None:
        pytest.skip("no docker CLI on this machine")
    status = docker.engine_status(REAL_DOCKER)
    if status.answers:
        pytest.skip("a Docker engine answers here; these tests are about machines without one")
    monkeypatch.setenv(docker.DOCKER_ENV, REAL_DOCKER)
    return REAL_DOCKER


def test_no_engine_is_a_clear_error(real_docker_without_engine: str):
    status = docker.engine_status()
    assert not status.answers and status.detail
    with pytest.raises(ImageBuildError, match=r"^no Docker engine answers: .*\(docker info said: .+\)$") as info:
        docker.build_with_docker(BASE.with_pip_packages("numpy"), resolve_secret=lambda s: "")
    assert status.detail in str(info.value)
    # roost build falls back to the local virtualenv, unless a push asks for docker.
    with pytest.raises(ImageBuildError, match="no Docker engine answers"):
        build_image(BASE.with_env_vars({"A": "1"}), push=True)
    outcome = build_image(BASE.with_env_vars({"A": "1"}))
    assert outcome.how == "local" and outcome.detail.startswith("no Docker engine answers (docker info said:")


def test_missing_docker_cli_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(docker.DOCKER_ENV, str(tmp_path / "no-docker-here"))
    with pytest.raises(ImageBuildError, match=r"docker info said: .*no-docker-here: command not found"):
        docker.build_with_docker(BASE.with_pip_packages("numpy"), resolve_secret=lambda s: "")


# -- the command line ------------------------------------------------------------------------------------


def test_build_command():
    args = docker.build_command(
        docker="docker",
        dockerfile=Path("/ctx/Dockerfile"),
        context=Path("/ctx/context"),
        tag="reg.example.com/app:abc",
        platforms=("linux/amd64", "linux/arm64"),
        secret_vars={"GITHUB_PAT": "ROOST_BUILD_SECRET_0"},
        push=True,
    )
    assert args == [
        "docker", "buildx", "build", "--file", "/ctx/Dockerfile", "--tag", "reg.example.com/app:abc",
        "--platform", "linux/amd64,linux/arm64", "--secret", "id=GITHUB_PAT,env=ROOST_BUILD_SECRET_0",
        "--push", "/ctx/context",
    ]  # fmt: skip
    plain = docker.build_command(
        docker="docker",
        dockerfile=Path("D"),
        context=Path("C"),
        tag="t",
        platforms=("linux/amd64",),
        secret_vars={},
        push=False,
        buildx=False,
    )
    assert plain == ["docker", "build", "--file", "D", "--tag", "t", "--platform", "linux/amd64", "C"]


def test_platforms(monkeypatch: pytest.MonkeyPatch):
    multi = BASE.clone(platform=("linux/amd64", "linux/arm64"))
    assert docker.build_platforms(multi, push=True) == ("linux/amd64", "linux/arm64")
    # A local image store keeps one platform per tag: the machine's own when it is declared.
    monkeypatch.setattr(docker.platform, "machine", lambda: "aarch64")
    assert docker.build_platforms(multi, push=False) == ("linux/arm64",)
    monkeypatch.setattr(docker.platform, "machine", lambda: "s390x")
    assert docker.build_platforms(BASE.clone(platform=("linux/arm64",)), push=False) == ("linux/arm64",)


# -- a full build with a stand-in docker -------------------------------------------------------------------


def test_build_with_secrets_and_context(fake_docker, tmp_path: Path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests\n")
    token = flyte.Secret(key="GITHUB_PAT", as_env_var="GITHUB_PAT_ENV")
    image = BASE.with_requirements(requirements, secret_mounts=[token]).with_apt_packages("git")
    lines: list[str] = []
    result = docker.build_with_docker(image, push=True, resolve_secret=lambda s: SECRET_VALUE, on_output=lines.append)
    assert result.built and result.uri == image.uri and "pushed" in result.detail
    calls = fake_docker()
    assert [c["args"][:2] for c in calls] == [
        ["buildx", "imagetools"],  # the registry is asked first: an existing tag needs no engine
        ["info", "--format"],
        ["buildx", "version"],
        ["buildx", "build"],
    ]
    build = calls[-1]
    assert SECRET_VALUE not in " ".join(build["args"]) and SECRET_VALUE not in build["dockerfile"]
    assert build["secret_values"] == [SECRET_VALUE]  # handed over in the docker process's environment
    assert "--secret" in build["args"] and "--push" in build["args"]
    assert build["context"] == ["layer-00/requirements.txt"]
    assert "uv pip install --python python3 -r /tmp/roost/layer-00/requirements.txt" in build["dockerfile"]
    assert lines == [f"#1 building {image.uri}"]


def test_existing_tag_is_not_rebuilt(fake_docker, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_TAG_EXISTS", "1")
    result = docker.build_with_docker(BASE.with_pip_packages("numpy"), resolve_secret=lambda s: "")
    assert not result.built and "in the registry already" in result.detail
    assert [c["args"][:2] for c in fake_docker()] == [["buildx", "imagetools"]]


def test_failed_docker_build(fake_docker, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_BUILD_EXIT", "17")
    with pytest.raises(ImageBuildError, match=r"docker build of .* failed \(exit 17\): ERROR: failed to solve"):
        docker.build_with_docker(BASE.with_pip_packages("numpy"), resolve_secret=lambda s: "")


def test_existing_images_are_not_built(fake_docker):
    result = docker.build_with_docker(flyte.Image.from_base("python:3.12"), resolve_secret=lambda s: "")
    assert not result.built and "used as is" in result.detail
    assert fake_docker() == []


def test_dockerfile_images_build_in_their_folder(fake_docker, tmp_path: Path):
    folder = tmp_path / "ctx"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM alpine\nCOPY data.txt /\n")
    (folder / "data.txt").write_text("x\n")
    image = flyte.Image.from_dockerfile(folder / "Dockerfile", registry=None, name="custom")
    assert docker.build_with_docker(image, resolve_secret=lambda s: "").built
    build = fake_docker()[-1]
    assert build["args"][-1] == str(folder) and build["context"] == ["Dockerfile", "data.txt"]
    assert "--load" in build["args"]


@needs_pypi
def test_build_image_prefers_docker_when_an_engine_answers(fake_docker):
    outcome = build_image(BASE.with_pip_packages("pyjokes"))
    assert outcome.how == "docker" and outcome.built
    local_outcome = build_image(BASE.with_pip_packages("pyjokes"), local_only=True)
    assert local_outcome.how == "local" and local_outcome.local is not None and local_outcome.local.venv
    assert os.path.isdir(local_outcome.local.venv)
