"""An image on this machine: a virtualenv of its Python packages, its variables and its workdir.

``python_for(image)`` answers what a worker process for ``image`` runs: which interpreter, with which
extra environment variables, in which working directory. An image whose layers add Python packages
(pip packages, requirements, a uv or poetry project, a uv script) gets a virtualenv of its own,
built with uv under ``ROOST_HOME/venvs/<key>/`` with the running interpreter's Python:

* ``<key>`` is the identifier of the image's *package* layers (``venv_key``): a content hash like
  the image identifier, over the part of it that decides what is installed. The virtualenv is
  reused while that is unchanged, by every process sharing ROOST_HOME; editing a source folder the
  image copies (which changes the image identifier) does not rebuild it;
* built atomically: in a temporary folder beside it, renamed into place once complete, with a marker
  file naming the key; a file lock keeps two processes from building the same one at once;
* roost stays importable without being installed there: a ``.pth`` file appends the controller's
  own package folders *after* the virtualenv's, so the image's packages win.

What cannot apply on a laptop (apt packages, commands, files copied to absolute paths, a Dockerfile,
pixi environments) is reported once per image, as a warning. The machine itself stands in for the
base image, so the plumbing that makes the Debian base (its user, ``/home/flyte``, ``/opt/venv``) is
neither applied nor reported.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from roost.errors import ImageBuildError
from roost.images import venv
from roost.images.installs import UV_INSTALL_LAYERS
from roost.spec import image_layers as L
from roost.spec.debian_base import own_layers
from roost.spec.image import Image
from roost.store.store_config import current

logger = logging.getLogger("roost")

VENVS_DIR = "venvs"


@dataclass(frozen=True)
class LocalImage:
    """What a worker for an image runs: ``python`` with ``env`` added, in ``workdir``.

    ``built`` says whether this call built the virtualenv (False when it was there already);
    ``startup_path`` is the ``sys.path`` the interpreter has by itself, which a launcher need not
    (and must not, or the controller's packages would shadow the image's) repeat in PYTHONPATH.
    """

    python: str
    env: tuple[tuple[str, str], ...] = ()
    workdir: str | None = None
    venv: Path | None = None
    built: bool = False
    startup_path: tuple[str, ...] = ()

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)


DEFAULT = LocalImage(sys.executable)


@dataclass(frozen=True)
class LocalPlan:
    """How an image applies here: its install layers, its variables, its workdir, what it cannot do."""

    installs: tuple[L.Layer, ...]
    env: tuple[tuple[str, str], ...]
    workdir: str | None
    not_applied: tuple[str, ...]


_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def _expand(value: str, env: Mapping[str, str]) -> str:
    # Docker expands $VAR and ${VAR} in ENV values against the image's environment so far; here the
    # environment so far is this machine's plus the image's earlier variables.
    return _VAR.sub(lambda m: env.get(m.group("braced") or m.group("plain"), ""), value)


def _describe(layer: L.Layer) -> str | None:
    """Why a layer cannot apply locally (None: it applies, or there is nothing to apply)."""
    if isinstance(layer, L.AptPackages):
        return f"apt packages {', '.join(layer.packages)}"
    if isinstance(layer, L.Commands):
        return f"commands {'; '.join(layer.commands)}"
    if isinstance(layer, L.SourceFolder) and layer.dst.startswith("/"):
        return f"source folder {layer.src} copied to {layer.dst}"
    if isinstance(layer, L.SourceFiles) and layer.dst.startswith("/"):
        return f"source files {', '.join(p.name for p in layer.srcs)} copied to {layer.dst}"
    if isinstance(layer, (L.PixiProject, L.PixiScript)):
        return f"the pixi environment of {getattr(layer, 'manifest', None) or getattr(layer, 'script', '')}"
    return None


def plan(image: Image, environ: Mapping[str, str] | None = None) -> LocalPlan:
    """What of ``image`` applies on this machine (pure: no file is written, nothing is built).

    ``environ`` is what ``$VAR`` in the image's variables expands against (default: os.environ).
    """
    base = os.environ if environ is None else environ
    not_applied: list[str] = []
    if image.dockerfile is not None:
        not_applied.append(f"the Dockerfile {image.dockerfile}")
    installs: list[L.Layer] = []
    env: dict[str, str] = {}
    workdir: str | None = None
    for layer in own_layers(image):
        if isinstance(layer, UV_INSTALL_LAYERS):
            installs.append(layer)
        elif isinstance(layer, L.EnvVars):
            for key, value in layer.env_vars:
                env[key] = _expand(value, {**base, **env})
        elif isinstance(layer, L.WorkDir):
            workdir = layer.workdir
        else:
            reason = _describe(layer)
            if reason is not None:
                not_applied.append(reason)
    if workdir is not None:
        folder = Path(workdir) if os.path.isabs(workdir) else Path.cwd() / workdir
        if folder.is_dir():
            workdir = str(folder)
        else:
            not_applied.append(f"workdir {workdir} (no such folder here)")
            workdir = None
    return LocalPlan(tuple(installs), tuple(env.items()), workdir, tuple(not_applied))


def venv_key(installs: tuple[L.Layer, ...]) -> str:
    """The name of the virtualenv of these install layers: what decides what is installed, only.

    It covers each layer's options and package strings (``repr``, which keeps ``"ab", "c"`` apart
    from ``"a", "bc"``), the content of the files it names and the running Python version -- not
    the image's variables, source folders or apt packages: editing code the image copies leaves its
    virtualenv as it is, and images that install the same things share one.
    """
    h = hashlib.md5(usedforsecurity=False)
    h.update(f"python{sys.version_info[0]}.{sys.version_info[1]}".encode())
    for layer in installs:
        h.update(b"\0" + repr(layer).encode() + b"\0" + layer.contribution())
    return h.hexdigest()


def _files_of(layer: L.Layer) -> tuple[Path, ...]:
    if isinstance(layer, L.Requirements):
        return (layer.file,)
    if isinstance(layer, L.UVProject):
        return (layer.pyproject, layer.uvlock)
    if isinstance(layer, L.PoetryProject):
        return (layer.pyproject, layer.poetry_lock)
    if isinstance(layer, L.UVScript):
        return (layer.script,)
    return ()


def _signature(image: Image) -> tuple[tuple[str, int, int], ...]:
    """Size and mtime of the files the install layers read: an edited requirements file makes the
    next action look again, while an unchanged image costs a few stats, not reading the files."""
    stats = []
    for layer in image._layers:
        for path in _files_of(layer):
            try:
                st = path.stat()
                stats.append((str(path), st.st_mtime_ns, st.st_size))
            except OSError:
                stats.append((str(path), -1, -1))
    return tuple(stats)


# What this process knows per image and ROOST_HOME: after the first answer, starting a worker costs
# a dictionary look-up (and a stat per requirements-like file), not a look at the virtualenv.
_KNOWN: dict[tuple[Image, Path], tuple[tuple[tuple[str, int, int], ...], LocalImage]] = {}
_KNOWN_LOCK = threading.Lock()
_BUILDING: dict[tuple[Image, Path], threading.Lock] = {}


def _home(home: Path | str | None) -> Path:
    return Path(home) if home is not None else current().home


def known(image: Image | None, home: Path | str | None = None) -> LocalImage | None:
    """The answer for ``image`` if this process has it already (never builds, never blocks)."""
    if image is None or (not image._layers and image.dockerfile is None):
        return DEFAULT
    entry = _KNOWN.get((image, _home(home)))
    if entry is None or entry[0] != _signature(image):
        return None
    return entry[1]


def _installs(image: Image) -> tuple[L.Layer, ...]:
    return tuple(la for la in own_layers(image) if isinstance(la, UV_INSTALL_LAYERS))


def needs_build(image: Image, home: Path | str | None = None) -> bool:
    """Whether ``python_for(image)`` would build a virtualenv (cheap: a marker file is read)."""
    if known(image, home) is not None:
        return False
    installs = _installs(image)
    if not installs:
        return False
    key = venv_key(installs)
    return not venv.is_ready(_home(home) / VENVS_DIR / key, key)


def python_for(
    image: Image | None, *, home: Path | str | None = None, on_output: venv.OutputSink | None = None
) -> LocalImage:
    """The interpreter, variables and workdir of ``image``'s workers, building its virtualenv if needed."""
    answer = known(image, home)
    if answer is not None:
        return replace(answer, built=False) if answer.built else answer
    assert image is not None
    root = _home(home)
    key = (image, root)
    with _KNOWN_LOCK:
        lock = _BUILDING.setdefault(key, threading.Lock())
    with lock:  # two actions of one image in this process: one builds, the other waits for it
        answer = known(image, root)
        if answer is not None:
            return replace(answer, built=False) if answer.built else answer
        signature = _signature(image)  # before reading the files: a later edit is seen next time
        answer = _materialise(image, root, on_output)
        _KNOWN[key] = (signature, answer)
    return answer


def forget() -> None:
    """Drop what this process knows (tests use it to see what a fresh process would do)."""
    with _KNOWN_LOCK:
        _KNOWN.clear()
        _BUILDING.clear()


def _materialise(image: Image, home: Path, on_output: venv.OutputSink | None) -> LocalImage:
    name = image.name or image.base_image or "image"
    installs = _installs(image)
    folder = home / VENVS_DIR / venv_key(installs) if installs else None
    # A worker of a virtualenv runs as if it were activated; the image's variables come after, so
    # PATH=/x:$PATH keeps the virtualenv on PATH.
    activation: dict[str, str] = {}
    if folder is not None:
        path = f"{venv.bin_of(folder)}{os.pathsep}{os.environ.get('PATH', '')}"
        activation = {"VIRTUAL_ENV": str(folder), "PATH": path}
    local = plan(image, {**os.environ, **activation})
    if local.not_applied:
        logger.warning(
            "image %s: %s cannot apply to a local worker, so %s skipped; a docker build applies %s "
            "(`roost build FILE ENV --dockerfile` shows how)",
            name,
            "; ".join(local.not_applied),
            "it is" if len(local.not_applied) == 1 else "they are",
            "it" if len(local.not_applied) == 1 else "them",
        )
    if folder is None:
        return LocalImage(sys.executable, local.env, local.workdir)
    running = sys.version_info[:2]
    if tuple(image.python_version) != running:
        logger.warning(
            "image %s asks for Python %d.%d; its local virtualenv uses the running Python %d.%d",
            name,
            *image.python_version,
            *running,
        )
    try:
        for layer in local.installs:  # only what the virtualenv needs must be there
            layer.validate()
    except (OSError, ValueError, ImageBuildError) as e:
        raise ImageBuildError(f"cannot build the virtualenv of image {name}: {e}") from e
    started = time.monotonic()
    folder, built = venv.ensure(folder.parent, folder.name, local.installs, on_output)
    if built:
        logger.info("image %s: built its virtualenv %s in %.1f s", name, folder, time.monotonic() - started)
    python = str(venv.python_of(folder))
    env = {**activation, **dict(local.env)}
    return LocalImage(python, tuple(env.items()), local.workdir, folder, built, venv.startup_path(python))


__all__ = ["DEFAULT", "LocalImage", "LocalPlan", "forget", "known", "needs_build", "plan", "python_for"]
