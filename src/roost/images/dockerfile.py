"""Image -> Dockerfile: one instruction block per layer, in layer order, plus its build context.

Conventions every rendered Dockerfile follows (the golden files in tests/images/golden show each):

* BuildKit syntax (``# syntax=docker/dockerfile:1``): files a step only reads are bind-mounted from
  the build context for that step, so they leave nothing behind in the image; uv's download cache
  is a cache mount, not a layer.
* Python packages install with ``uv pip install --python python3``: into the virtualenv on PATH
  when the image has one (the Debian base's ``/opt/venv``), else into the system Python. uv itself
  is copied in from its official image, pinned.
* A secret a layer needs is a secret mount (``RUN --mount=type=secret,id=...,env=VAR``): its value
  exists only while that step runs, never in a layer, never in this text. The builder supplies it
  with ``--secret id=...`` at build time.
* Build steps run as root; a user the image declares (the Debian base's ``flyte``) is created when
  its layer comes and becomes the image's user by a final ``USER``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from roost.errors import ImageBuildError
from roost.images import pixi
from roost.images.context import ContextEntry
from roost.images.installs import UV_INSTALL_LAYERS, pip_option_args, poetry_requirements, script_dependencies
from roost.spec import image_layers as L
from roost.spec.image import DEFAULT_IMAGE_REPOSITORY, Image
from roost.spec.secrets import Secret

UV_IMAGE = "ghcr.io/astral-sh/uv:0.13.9"
UV_CACHE_MOUNT = "--mount=type=cache,target=/root/.cache/uv"
MOUNT_ROOT = "/tmp/roost"  # where a step sees the context files bind-mounted for it
PIP = "uv pip install --python python3"
CONTINUE = " \\\n    "
DEFAULT_IMAGE_USER = "flyte"  # the user of the released default images (and of the Debian base)


def secret_id(secret: Secret) -> str:
    """The BuildKit id of a secret: the Dockerfile and ``--secret id=`` must agree on it."""
    raw = f"{secret.group}.{secret.key}" if secret.group else secret.key
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)


@dataclass(frozen=True)
class DockerfilePlan:
    """A rendered image: the Dockerfile, what goes into its build context, the secrets it mounts."""

    text: str
    context: tuple[ContextEntry, ...] = ()
    secrets: tuple[Secret, ...] = ()
    # A Dockerfile image builds in its own folder, as is; rendered images get a fresh context folder.
    context_dir: Path | None = None
    # False when there is nothing to build: the image is an existing one, used as is.
    buildable: bool = True

    def listing(self) -> str:
        """The Dockerfile followed by the build context, as ``roost build --dockerfile`` prints it."""
        lines = [self.text.rstrip("\n"), "", "# build context:"]
        if self.context_dir is not None:
            lines.append(f"#   {self.context_dir.name}/  (the Dockerfile's own folder, as it is)")
        lines += [f"#   {entry.describe()}" for entry in self.context]
        if not self.context and self.context_dir is None:
            lines.append("#   (empty)")
        return "\n".join(lines) + "\n"


@dataclass
class _Renderer:
    image: Image
    lines: list[str] = field(default_factory=list)
    context: list[ContextEntry] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)
    user: str | None = None
    ignore_files: tuple[Path, ...] = ()

    def run(self, command: str, mounts: list[str] | None = None, secrets: tuple[Secret, ...] = ()) -> None:
        parts = [*(mounts or []), *(self._secret_mount(s) for s in secrets)]
        self.lines.append("RUN " + "".join(p + CONTINUE for p in parts) + command)

    def _secret_mount(self, secret: Secret) -> str:
        if secret not in self.secrets:
            self.secrets.append(secret)
        sid = secret_id(secret)
        if secret.mount_path is not None:
            return f"--mount=type=secret,id={sid},target={secret.mount_path}"
        return f"--mount=type=secret,id={sid},env={secret.as_env_var}"

    def add(self, dest: str, source: Path | None = None, content: bytes | None = None, folder: bool = False) -> None:
        ignores: tuple[Path, ...] = ()
        if folder and source is not None:
            # The folder's own .dockerignore (as its content tag honours it), then with_dockerignore's.
            ignores = (source / ".dockerignore", *self.ignore_files)
        self.context.append(ContextEntry(dest, source, content, ignores))

    def copy(self, sources: list[str], dst: str) -> None:
        chown = f"--chown={self.user}:{self.user} " if self.user else ""
        self.lines.append(f"COPY {chown}{' '.join(sources)} {dst}")


def render(image: Image) -> DockerfilePlan:
    """The Dockerfile of ``image`` and its build context (no file is written, nothing is built)."""
    if image.dockerfile is not None:
        try:
            text = image.dockerfile.read_text()
        except OSError as e:
            raise ImageBuildError(f"cannot read the Dockerfile {str(image.dockerfile)!r}: {e.strerror}") from None
        return DockerfilePlan(text, context_dir=image.dockerfile.parent)
    if image._ref_name is not None and not image.base_image:
        image.uri  # noqa: B018 - raises the ImageBuildError that explains an unresolved reference
    if not image.base_image:
        raise ImageBuildError(
            "the image has no base image to build FROM; use Image.from_base(uri) or from_debian_base()"
        )
    r = _Renderer(image)
    r.ignore_files = tuple(la.path for la in image._layers if isinstance(la, L.DockerIgnore))
    r.lines += ["# syntax=docker/dockerfile:1", f"FROM {image.base_image}"]
    if image.base_image.startswith(f"{DEFAULT_IMAGE_REPOSITORY}:"):
        # The released default image runs as its non-root user; build steps need root, as above.
        r.lines.append("USER root")
        r.user = DEFAULT_IMAGE_USER
    if any(_needs_uv(la) for la in image._layers):
        r.lines.append(f"COPY --from={UV_IMAGE} /uv /uvx /usr/local/bin/")
    if any(isinstance(la, (L.PixiProject, L.PixiScript)) for la in image._layers):
        r.lines.append(f"COPY --from={pixi.PIXI_IMAGE} /usr/local/bin/pixi /usr/local/bin/pixi")
    for index, layer in enumerate(image._layers):
        _render_layer(r, layer, f"layer-{index:02d}")
    if r.user:
        r.lines.append(f"USER {r.user}")
    text = "\n".join(r.lines) + "\n"
    return DockerfilePlan(text, tuple(r.context), tuple(r.secrets), buildable=image._is_cloned)


def _needs_uv(layer: L.Layer) -> bool:
    if isinstance(layer, L.EnvVars):
        return any(k == "VIRTUAL_ENV" for k, _ in layer.env_vars)
    return isinstance(layer, (*UV_INSTALL_LAYERS, L.LocalV2))


def _quoted(items: tuple[str, ...] | list[str]) -> str:
    return " ".join(shlex.quote(i) for i in items)


def _pip(layer: L.Layer, *targets: str) -> str:
    return " ".join([PIP, *(shlex.quote(a) for a in pip_option_args(layer)), *targets])


def _env_value(value: str) -> str:
    # Double quotes keep spaces together and still let Docker expand $PATH-style references.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _render_layer(r: _Renderer, layer: L.Layer, where: str) -> None:
    mounted = f"{MOUNT_ROOT}/{where}"
    bind = f"--mount=type=bind,source={where},target={mounted}"
    if isinstance(layer, (L.PipPackages, L.UVScript, L.LocalV2Plugins)):
        if isinstance(layer, L.PipPackages):
            packages = layer.packages
        elif isinstance(layer, L.UVScript):
            packages = script_dependencies(layer)
        else:
            packages = layer.plugins
        if not packages:
            r.lines.append(f"# {type(layer).__name__}: no packages to install")
            return
        r.run(_pip(layer, _quoted(packages)), [UV_CACHE_MOUNT], getattr(layer, "secret_mounts", ()))
    elif isinstance(layer, L.Requirements):
        r.add(f"{where}/{layer.file.name}", layer.file)
        r.run(_pip(layer, "-r", f"{mounted}/{layer.file.name}"), [bind, UV_CACHE_MOUNT], layer.secret_mounts)
    elif isinstance(layer, L.UVProject):
        _uv_project(r, layer, where, mounted, bind)
    elif isinstance(layer, L.PoetryProject):
        r.add(f"{where}/requirements.txt", content=poetry_requirements(layer.poetry_lock).encode())
        command = _pip(layer, "-r", f"{mounted}/requirements.txt")
        if layer.project_install_mode == "install_project":
            r.add(f"{where}/project", layer.pyproject.parent, folder=True)
            command += f"{CONTINUE}&& {_pip(layer, '--no-deps', f'{mounted}/project')}"
            bind += ",rw"  # building the project writes next to its sources; the writes are dropped
        r.run(command, [bind, UV_CACHE_MOUNT], layer.secret_mounts)
    elif isinstance(layer, L.AptPackages):
        command = CONTINUE.join(
            [
                "apt-get update",
                f"&& apt-get install -y --no-install-recommends {_quoted(layer.packages)}",
                "&& rm -rf /var/lib/apt/lists/*",
            ]
        )
        r.run(command, secrets=layer.secret_mounts)
    elif isinstance(layer, L.Commands):
        for command in layer.commands:
            r.run(command, secrets=layer.secret_mounts)
    elif isinstance(layer, L.EnvVars):
        if layer.env_vars:
            r.lines.append("ENV " + " ".join(f"{k}={_env_value(v)}" for k, v in layer.env_vars))
        if any(k == "VIRTUAL_ENV" for k, _ in layer.env_vars):
            major, minor = r.image.python_version
            r.run(f'uv venv --allow-existing --python python{major}.{minor} "$VIRTUAL_ENV"')
    elif isinstance(layer, L.WorkDir):
        r.lines.append(f"WORKDIR {layer.workdir}")
    elif isinstance(layer, L.Labels):
        r.lines.append("LABEL " + " ".join(f"{k}={_env_value(v)}" for k, v in layer.labels))
    elif isinstance(layer, L.RunAsUser):
        home, user = shlex.quote(layer.home), shlex.quote(layer.user)
        r.run(f"id -u {user} >/dev/null 2>&1 || useradd --create-home --home-dir {home} --shell /bin/bash {user}")
        r.user = layer.user
    elif isinstance(layer, L.SourceFolder):
        r.add(f"{where}/{layer.src.name}", layer.src, folder=True)
        r.copy([f"{where}/{layer.src.name}/"], layer.dst)
    elif isinstance(layer, L.SourceFiles):
        for src in layer.srcs:
            r.add(f"{where}/{src.name}", src)
        dst = layer.dst if layer.dst.endswith("/") else layer.dst + "/"
        r.copy([f"{where}/{src.name}" for src in layer.srcs], dst)
    elif isinstance(layer, L.CodeBundle):
        r.lines.append(
            f"# code bundle ({layer.copy_style}, dst={layer.dst}): baked in at deploy time only when a run uses "
            'copy_style="none"; nothing to build here'
        )
    elif isinstance(layer, L.DockerIgnore):
        r.lines.append(f"# {layer.path.name}: filters every source folder copied into the build context")
    elif isinstance(layer, L.LocalV2):
        _local_roost(r, where, mounted, bind)
    elif isinstance(layer, L.PixiProject):
        _pixi_project(r, layer, where)
    elif isinstance(layer, L.PixiScript):
        folder = f"{pixi.PIXI_ROOT}/{where}"
        manifest = pixi.script_manifest(layer.script, r.image.python_version, r.image.platform)
        r.add(f"{where}/pixi.toml", content=manifest.encode())
        r.copy([f"{where}/pixi.toml"], f"{folder}/")
        extra = " " + _quoted(shlex.split(layer.extra_args)) if layer.extra_args else ""
        command = f"pixi install --manifest-path {folder}/pixi.toml --environment {shlex.quote(layer.environment)}"
        r.run(command + extra, secrets=layer.secret_mounts)
        r.lines.append(f'ENV PATH="{pixi.env_bin(folder, layer.environment)}:$PATH"')
    else:
        raise ImageBuildError(f"roost cannot render a {type(layer).__name__} layer into a Dockerfile")


def _uv_project(r: _Renderer, layer: L.UVProject, where: str, mounted: str, bind: str) -> None:
    # The lock decides the versions: uv exports it as pinned requirements, then installs those.
    project_dir = layer.pyproject.parent
    if layer.project_install_mode == "install_project":
        r.add(where, project_dir, folder=True)
        bind += ",rw"  # building the project writes next to its sources; the writes are dropped
    else:
        r.add(f"{where}/pyproject.toml", layer.pyproject)
    if layer.project_install_mode != "install_project" or layer.uvlock != project_dir / "uv.lock":
        r.add(f"{where}/uv.lock", layer.uvlock)
    exported = f"/tmp/roost-{where}-requirements.txt"
    steps = [
        f"uv export --frozen --no-hashes --no-header --no-emit-project --project {mounted} --output-file {exported}",
        f"&& {_pip(layer, '-r', exported)}",
    ]
    if layer.project_install_mode == "install_project":
        steps.append(f"&& {_pip(layer, '--no-deps', mounted)}")
    steps.append(f"&& rm {exported}")
    r.run(CONTINUE.join(steps), [bind, UV_CACHE_MOUNT], layer.secret_mounts)


def _local_roost(r: _Renderer, where: str, mounted: str, bind: str) -> None:
    """with_local_v2(): install the roost this process runs, from its source checkout."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "pyproject.toml").is_file() or not (root / "src" / "roost").is_dir():
        raise ImageBuildError(
            "with_local_v2() installs roost from its source checkout, but this roost is not running from one "
            f"({root} has no pyproject.toml and src/roost)"
        )
    for name in ("pyproject.toml", "README.md"):  # what building the package reads besides src/
        if (root / name).is_file():
            r.add(f"{where}/roost/{name}", root / name)
    r.add(f"{where}/roost/src/roost", root / "src" / "roost", folder=True)
    r.run(f"{PIP} {mounted}/roost", [bind + ",rw", UV_CACHE_MOUNT])


def _pixi_project(r: _Renderer, layer: L.PixiProject, where: str) -> None:
    folder = f"{pixi.PIXI_ROOT}/{where}"
    if layer.project_install_mode == "install_project":
        r.add(where, layer.manifest.parent, folder=True)
    else:
        r.add(f"{where}/{layer.manifest.name}", layer.manifest)
    if layer.project_install_mode != "install_project" or layer.pixi_lock != layer.manifest.parent / "pixi.lock":
        r.add(f"{where}/pixi.lock", layer.pixi_lock)
    r.copy([f"{where}/"], f"{folder}/")
    extra = " " + _quoted(shlex.split(layer.extra_args)) if layer.extra_args else ""
    command = (
        f"pixi install --frozen --manifest-path {folder}/{layer.manifest.name} "
        f"--environment {shlex.quote(layer.environment)}{extra}"
    )
    r.run(command, secrets=layer.secret_mounts)
    # Later layers (pip packages included) see the pixi environment's python first, as in the SDK.
    r.lines.append(f'ENV PATH="{pixi.env_bin(folder, layer.environment)}:$PATH"')
