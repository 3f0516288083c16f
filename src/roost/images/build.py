"""``roost build``'s choice: a docker build where an engine answers, else the local virtualenv."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from roost.images import docker
from roost.images.local import LocalImage, python_for
from roost.images.venv import OutputSink
from roost.spec.image import Image
from roost.store.secret_store import SecretStore
from roost.store.store_config import current


@dataclass(frozen=True)
class BuildOutcome:
    """What ``build_image`` did: ``how`` it built (or found) the image, and one line saying so."""

    how: Literal["docker", "local"]
    built: bool
    detail: str
    uri: str | None = None
    local: LocalImage | None = None


def build_image(
    image: Image,
    *,
    push: bool = False,
    local_only: bool = False,
    home: Path | None = None,
    docker_cli: str | None = None,
    on_output: OutputSink | None = None,
) -> BuildOutcome:
    """Build ``image``: with docker when an engine answers (or ``push`` asks for a registry), else as
    the local virtualenv its workers use. Raises ImageBuildError (or InvalidPackageError) on failure."""
    home = home or current().home
    if not local_only:
        status = docker.engine_status(docker_cli)
        if status.answers or push:
            store = SecretStore(home=home)
            result = docker.build_with_docker(
                image, push=push, resolve_secret=store.resolve, docker=docker_cli, on_output=on_output
            )
            return BuildOutcome("docker", result.built, result.detail, uri=result.uri)
        fallback = f"no Docker engine answers (docker info said: {status.detail}); "
    else:
        fallback = ""
    found = python_for(image, home=home, on_output=on_output)
    if found.venv is None:
        detail = "adds no Python packages, so no virtualenv is needed; its variables and workdir apply to its workers"
    elif found.built:
        detail = f"built the local virtualenv {found.venv}"
    else:
        detail = f"the local virtualenv {found.venv} is up to date"
    return BuildOutcome("local", found.built, fallback + detail, local=found)


def build(image: Image) -> str:
    """``flyte.build(image)``: build (or find) the image; its URI, or where its virtualenv is."""
    outcome = build_image(image)
    if outcome.uri is not None:
        return outcome.uri
    venv = outcome.local.venv if outcome.local is not None else None
    return str(venv) if venv is not None else image.uri


def build_images(*envs: object) -> dict[str, str]:
    """``flyte.build_images(*envs)``: ``build`` the image of each environment, by environment name."""
    built: dict[str, str] = {}
    for env in envs:
        image = getattr(env, "image", None)
        if isinstance(image, Image):
            built[getattr(env, "name", repr(env))] = build(image)
    return built


async def _build_aio(image: Image) -> str:
    return await asyncio.to_thread(build, image)


async def _build_images_aio(*envs: object) -> dict[str, str]:
    return await asyncio.to_thread(build_images, *envs)


build.aio = _build_aio  # type: ignore[attr-defined]
build_images.aio = _build_images_aio  # type: ignore[attr-defined]
