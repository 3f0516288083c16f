"""Building an image with Docker: ``docker buildx build`` where an engine answers, and a tag check.

Nothing here assumes a Docker engine exists: ``engine_status()`` asks (``docker info``) and a build
without one fails at once with an ``ImageBuildError`` that quotes what ``docker info`` said. The
Docker CLI to use is ``$ROOST_DOCKER`` (default ``docker``), which is also how tests point roost at
a stand-in.

Secrets: the rendered Dockerfile mounts each secret by id; the value is resolved here (the roost
secret store, else the environment, as for tasks), handed to the ``docker`` process in a variable
of its own environment and named on the command line only by that variable (``--secret
id=ID,env=VAR``). A value is never on a command line, in the Dockerfile, in a layer or in a message.
"""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from roost.errors import ImageBuildError
from roost.images.context import write_context
from roost.images.dockerfile import DockerfilePlan, render, secret_id
from roost.spec.image import Image
from roost.spec.secrets import Secret

DOCKER_ENV = "ROOST_DOCKER"
SECRET_VAR_PREFIX = "ROOST_BUILD_SECRET_"
_PROBE_TIMEOUT = 30.0
# What registries and the CLI answer when a tag is simply not there (as opposed to unreachable).
_MISSING = ("no such manifest", "manifest unknown", "not found", "no such image", "does not exist")

OutputSink = Callable[[str], None]


def docker_binary() -> str:
    return os.environ.get(DOCKER_ENV) or "docker"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _probe(args: list[str]) -> subprocess.CompletedProcess[str] | str:
    """Run a short docker command; a string says why it could not run at all."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=_PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return f"{args[0]}: command not found"
    except subprocess.TimeoutExpired:
        return f"`{' '.join(args[:2])}` did not answer within {_PROBE_TIMEOUT:g} s"


@dataclass(frozen=True)
class EngineStatus:
    answers: bool
    detail: str  # the server version, or what docker said instead


def engine_status(docker: str | None = None) -> EngineStatus:
    """Whether a Docker engine answers (``docker info``)."""
    docker = docker or docker_binary()
    result = _probe([docker, "info", "--format", "{{.ServerVersion}}"])
    if isinstance(result, str):
        return EngineStatus(False, result)
    version = result.stdout.strip()
    if result.returncode == 0 and version and "<no value>" not in version:
        return EngineStatus(True, version)
    return EngineStatus(False, _last_line(result.stderr + "\n" + result.stdout))


def require_engine(docker: str | None = None) -> EngineStatus:
    status = engine_status(docker)
    if not status.answers:
        raise ImageBuildError(
            "no Docker engine answers: docker builds need a running Docker daemon; use `roost build --local` "
            f"for the local virtualenv instead (docker info said: {status.detail})"
        )
    return status


def has_buildx(docker: str | None = None) -> bool:
    result = _probe([docker or docker_binary(), "buildx", "version"])
    return not isinstance(result, str) and result.returncode == 0


def image_exists(uri: str, *, in_registry: bool, docker: str | None = None) -> bool | None:
    """Whether the tag exists already: True, False, or None when nobody could be asked.

    A registry tag is looked up in the registry (no engine needed); a tag without a registry can
    only exist in the local engine.
    """
    docker = docker or docker_binary()
    if in_registry:
        attempts = [[docker, "buildx", "imagetools", "inspect", uri], [docker, "manifest", "inspect", uri]]
    else:
        attempts = [[docker, "image", "inspect", uri]]
    for args in attempts:
        result = _probe(args)
        if isinstance(result, str):
            return None
        if result.returncode == 0:
            return True
        said = (result.stderr + result.stdout).lower()
        if "unknown command" in said or "is not a docker command" in said:
            continue  # no buildx plugin: ask the next way
        return False if any(m in said for m in _MISSING) else None
    return None


def host_platform() -> str:
    machine = platform.machine().lower()
    return "linux/arm64" if machine in ("arm64", "aarch64") else "linux/amd64"


def build_platforms(image: Image, push: bool) -> tuple[str, ...]:
    """Every declared platform when pushing; otherwise one (a local image store holds one per tag)."""
    if push or len(image.platform) == 1:
        return image.platform
    native = host_platform()
    return (native,) if native in image.platform else image.platform[:1]


def build_command(
    *,
    docker: str,
    dockerfile: Path,
    context: Path,
    tag: str,
    platforms: tuple[str, ...],
    secret_vars: Mapping[str, str],
    push: bool,
    buildx: bool = True,
) -> list[str]:
    """The docker command line; ``secret_vars`` maps a secret id to the variable holding its value."""
    args = [docker, "buildx", "build"] if buildx else [docker, "build"]
    args += ["--file", str(dockerfile), "--tag", tag, "--platform", ",".join(platforms)]
    for sid, var in secret_vars.items():
        args += ["--secret", f"id={sid},env={var}"]
    if buildx:
        args.append("--push" if push else "--load")
    args.append(str(context))
    return args


def secret_environment(
    secrets: tuple[Secret, ...], resolve: Callable[[Secret], str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(secret id -> variable name, variable name -> value) for the secrets a plan mounts."""
    names: dict[str, str] = {}
    values: dict[str, str] = {}
    for number, secret in enumerate(secrets):
        sid = secret_id(secret)
        if sid in names:
            continue
        var = f"{SECRET_VAR_PREFIX}{number}"
        names[sid] = var
        values[var] = resolve(secret)
    return names, values


def _stream(args: list[str], env: dict[str, str], on_output: OutputSink | None) -> tuple[int, list[str]]:
    tail: list[str] = []
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            tail = [*tail[-19:], line]
            if on_output is not None:
                on_output(line)
        return process.wait(), tail


@dataclass(frozen=True)
class DockerBuild:
    uri: str
    built: bool  # False: the tag existed already, or the image is an existing one used as is
    detail: str


def build_with_docker(
    image: Image,
    *,
    push: bool = False,
    resolve_secret: Callable[[Secret], str],
    docker: str | None = None,
    on_output: OutputSink | None = None,
) -> DockerBuild:
    """Build (and with ``push`` push) ``image`` as ``image.uri``; skip it when the tag exists."""
    docker = docker or docker_binary()
    plan = render(image)
    uri = image.uri
    if not plan.buildable:
        return DockerBuild(uri, False, f"{uri} is an existing image, used as is")
    if image.registry and image_exists(uri, in_registry=True, docker=docker):
        return DockerBuild(uri, False, f"{uri} is in the registry already")
    require_engine(docker)
    if not image.registry and not push and image_exists(uri, in_registry=False, docker=docker):
        return DockerBuild(uri, False, f"{uri} is in the local Docker engine already")
    names, values = secret_environment(plan.secrets, resolve_secret)
    buildx = has_buildx(docker)
    with tempfile.TemporaryDirectory(prefix="roost-build-") as scratch:
        dockerfile, context = _prepare(plan, image, Path(scratch))
        platforms = build_platforms(image, push)
        if not buildx and len(platforms) > 1:
            platforms = platforms[:1]  # plain `docker build` makes one platform per run
        args = build_command(
            docker=docker,
            dockerfile=dockerfile,
            context=context,
            tag=uri,
            platforms=platforms,
            secret_vars=names,
            push=push,
            buildx=buildx,
        )
        env = {**os.environ, **values}
        if not buildx:
            env["DOCKER_BUILDKIT"] = "1"  # secret and bind mounts need BuildKit
        code, tail = _stream(args, env, on_output)
        if code != 0:
            raise ImageBuildError(f"docker build of {uri} failed (exit {code}): {_last_line(chr(10).join(tail))}")
        if push and not buildx:
            code, tail = _stream([docker, "push", uri], env, on_output)
            if code != 0:
                raise ImageBuildError(f"docker push of {uri} failed (exit {code}): {_last_line(chr(10).join(tail))}")
    return DockerBuild(uri, True, f"built {uri}" + (" and pushed it" if push else ""))


def _prepare(plan: DockerfilePlan, image: Image, scratch: Path) -> tuple[Path, Path]:
    """(Dockerfile, context folder) for the build: the image's own, or a fresh rendered context."""
    if plan.context_dir is not None:
        assert image.dockerfile is not None
        return image.dockerfile, plan.context_dir
    context = scratch / "context"
    context.mkdir()
    write_context(plan.context, context)
    dockerfile = scratch / "Dockerfile"
    dockerfile.write_text(plan.text)
    return dockerfile, context
