"""The roost Debian base: the layers that turn ``python:<M.m>-slim-bookworm`` into it, and seeing past them.

``Image.from_debian_base(install_flyte=False)`` (and so every ``from_*_script`` image) starts with
these layers. ``own_layers`` gives what the user added on top of them, for the code that lets this
machine stand in for the base image (local virtualenvs, Ray's runtime_env, the isolation rule).
"""

from __future__ import annotations

from typing import Protocol

from roost.spec import image_layers as L


class LayeredImage(Protocol):
    """What ``own_layers`` reads of an image (spec/image.Image, which builds on these layers)."""

    python_version: tuple[int, int]
    base_image: str | None
    _layers: tuple[L.Layer, ...]


VENV = "/opt/venv"


def debian_base_layers(pv: str) -> tuple[L.Layer, ...]:
    """The layers that make ``python:<pv>-slim-bookworm`` the roost Debian base (install_flyte=False)."""
    return (
        L.Labels(
            labels=(
                ("org.opencontainers.image.title", "roost-debian-base"),
                ("org.opencontainers.image.base.name", f"python:{pv}-slim-bookworm"),
            )
        ),
        L.RunAsUser(user="flyte", home="/home/flyte"),
        L.WorkDir(workdir="/home/flyte"),
        L.EnvVars(env_vars=(("VIRTUAL_ENV", VENV), ("PATH", f"{VENV}/bin:$PATH"))),
        L.AptPackages(packages=("build-essential", "ca-certificates")),
    )


def own_layers(image: LayeredImage) -> tuple[L.Layer, ...]:
    """The layers the user added: without the plumbing that makes a slim Python image the Debian base.

    Locally the machine itself stands in for the base image, so its user, workdir, virtualenv
    variables and apt packages describe nothing to apply here.
    """
    pv = f"{image.python_version[0]}.{image.python_version[1]}"
    base = debian_base_layers(pv)
    if image.base_image == f"python:{pv}-slim-bookworm" and image._layers[: len(base)] == base:
        return image._layers[len(base) :]
    return image._layers
