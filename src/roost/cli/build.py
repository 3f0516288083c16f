"""``roost build FILE [ENV] [--dockerfile] [--push] [--local]``: build the images of a program.

For each environment FILE declares (or the one named ENV), its image is built: with docker where a
Docker engine answers, otherwise -- or with ``--local`` -- as the local virtualenv its workers run
in. ``--dockerfile`` prints each image's Dockerfile and build context and builds nothing.

Exit codes: 0 built (or already there); 1 a build failed (one line says why); 2 bad usage (unknown
file or environment, conflicting options).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import click
from rich.console import Console
from rich.markup import escape

from roost.cli.loading import load_program
from roost.cli.render import one_line
from roost.errors import ImageBuildError, InvalidPackageError, SecretNotFoundError
from roost.images.build import build_image
from roost.images.dockerfile import render
from roost.runtime.loader import load_module
from roost.spec.environment import Environment, list_loaded_environments
from roost.spec.image import Image

# What a failed build raises on purpose; anything else is a bug and keeps its traceback.
_BUILD_ERRORS = (ImageBuildError, InvalidPackageError, SecretNotFoundError, FileNotFoundError, ValueError)


def _same_file(a: str | None, b: str | None) -> bool:
    return bool(a and b) and Path(a).resolve() == Path(b).resolve()  # type: ignore[arg-type]


def environments_of(module: ModuleType, location: str, name: str | None) -> list[Environment]:
    """The environments declared in the module's file (each name once), or the one called ``name``."""
    everywhere = list_loaded_environments()
    here = [e for e in everywhere if _same_file(getattr(e, "_source_file", None), getattr(module, "__file__", None))]
    chosen: dict[str, Environment] = {}
    for env in here if name is None else [*here, *everywhere]:
        if name is None or env.name == name:
            chosen.setdefault(env.name, env)
    if name is not None and name not in chosen:
        known = ", ".join(sorted({e.name for e in here})) or "none"
        raise click.UsageError(f"no environment {name!r} in {location}; environments there: {known}")
    if not chosen:
        raise click.UsageError(f"{location} declares no environments")
    return list(chosen.values())


def _image_of(env: Environment) -> Image | None:
    if isinstance(env.image, Image):
        return env.image
    if isinstance(env.image, str) and env.image != "auto":
        return Image.from_base(env.image)
    return None  # "auto" / None: the default image, prebuilt


def _describe(image: Image) -> str:
    try:
        return image.uri
    except ImageBuildError:
        return image.name or image.base_image or "an unnamed image"


@click.command("build")
@click.argument("file")
@click.argument("env_name", metavar="[ENV]", required=False)
@click.option("--dockerfile", is_flag=True, help="Print each image's Dockerfile and build context; build nothing.")
@click.option("--push", is_flag=True, help="Push the image to its registry after a docker build.")
@click.option("--local", "local_only", is_flag=True, help="Build the local virtualenv even where Docker answers.")
def build_command(file: str, env_name: str | None, dockerfile: bool, push: bool, local_only: bool) -> int:
    """Build the images of a program's environments.

    Every environment FILE declares, or only ENV: with docker where an engine answers, else as the
    local virtualenv the environment's workers run in."""
    if push and local_only:
        raise click.UsageError("--push needs a docker build, and --local builds the local virtualenv; pick one")
    if push and dockerfile:
        raise click.UsageError("--dockerfile only prints; it cannot --push")
    module = load_program(file, lambda: load_module(file))
    envs = environments_of(module, file, env_name)
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    done: dict[Image, str] = {}
    for env in envs:
        image = _image_of(env)
        if image is None:
            console.print(f"[green]✓[/] {env.name}: the default image, prebuilt; nothing to build")
            continue
        if dockerfile:
            _print_dockerfile(env, image)
            continue
        if image in done:
            console.print(f"[green]✓[/] {env.name}: same image as {done[image]}")
            continue
        _build(console, env, image, push, local_only)
        done[image] = env.name
    return 0


def _print_dockerfile(env: Environment, image: Image) -> None:
    try:
        plan = render(image)
    except _BUILD_ERRORS as e:
        raise click.ClickException(f"rendering the Dockerfile of {env.name} failed: {e}") from None
    click.echo(f"# environment {env.name}: {_describe(image)}")
    if not plan.buildable:
        click.echo(f"# {_describe(image)} is an existing image, used as is: nothing to build")
    click.echo(plan.listing())


def _build(console: Console, env: Environment, image: Image, push: bool, local_only: bool) -> None:
    label = f"{env.name}: {_describe(image)}"
    with console.status(f"building {escape(label)}") as status:

        def show(line: str) -> None:
            # uv and docker talk a lot; the status line shows the latest of it.
            if line.strip():
                status.update(f"building {escape(label)}  [dim]{escape(one_line(line, 80))}[/]")

        try:
            outcome = build_image(image, push=push, local_only=local_only, on_output=show)
        except _BUILD_ERRORS as e:
            message = getattr(e, "message", None) or str(e)
            raise click.ClickException(f"building the image of {env.name} failed: {message}") from None
    mark = "[green]✓[/]"
    console.print(f"{mark} {escape(env.name)} ({outcome.how}): {escape(outcome.detail)}")
