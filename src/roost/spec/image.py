"""Image: the container image a task runs in, defined as a base plus an ordered list of layers.

An ``Image`` is an immutable value. It is created by a ``from_*`` constructor and grown by ``with_*``
methods, each returning a new image with one more layer (``roost.spec.image_layers``). Nothing here
builds anything or touches the network: definition only reads files to compute the content tag.

Identity (as Flyte computes it): ``tag`` is a preset tag for the released default images, otherwise the MD5 of
the base image string, the Dockerfile contents and each layer's contribution, in order. Registry,
name, platform and Python version are not part of it. ``identifier`` (the design documents' name) is that
content digest; it is stable across processes and machines because only contents are hashed.

The checks that turn the arguments of constructors and ``with_*`` methods into stored values are in
``roost.spec.image_args``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Literal

from roost.errors import ImageBuildError
from roost.spec import image_layers as L
from roost.spec import pep723
from roost.spec.debian_base import debian_base_layers
from roost.spec.image_args import (
    DEFAULT_PLATFORM,
    SecretMounts,
    _abs,
    _extra_args,
    _install_mode,
    _optional_str,
    _pip_options,
    _platform,
    _python_version,
    _registry_secret,
    _running_python,
    _str,
    _strings,
    _varargs,
    check_packages,
)
from roost.spec.secrets import Secret, normalize_secrets

# The SDK release whose prebuilt default images from_debian_base() points at.
DEFAULT_FLYTE_VERSION = "2.12.1"
DEFAULT_IMAGE_REPOSITORY = "ghcr.io/flyteorg/flyte"
DEFAULT_IMAGE_NAME = "flyte"
DEBIAN_BASE_PLATFORMS: tuple[str, ...] = ("linux/amd64", "linux/arm64")
# Python versions roost itself runs on; requires-python of a uv script picks the lowest admitted one.
SCRIPT_PYTHON_CANDIDATES: list[tuple[int, int]] = [(3, 10), (3, 11), (3, 12), (3, 13), (3, 14)]

_CONSTRUCT = object()  # only the from_* constructors hold it, so Image(...) from outside fails


@dataclass(frozen=True, kw_only=True)
class Image:
    """A container image definition. Create it with a ``from_*`` constructor, never ``Image(...)``."""

    base_image: str | None = None
    dockerfile: Path | None = None
    registry: str | None = None
    name: str | None = None
    platform: tuple[str, ...] = DEFAULT_PLATFORM
    python_version: tuple[int, int] = field(default_factory=_running_python)
    extendable: bool = False
    _layers: tuple[L.Layer, ...] = ()
    _is_cloned: bool = False
    _ref_name: str | None = None
    _preset_tag: str | None = None
    _registry_secret: str | Secret | None = None
    _token: InitVar[object] = None

    def __post_init__(self, _token: object) -> None:
        if _token is not _CONSTRUCT:
            raise TypeError(
                "Image objects cannot be created with Image(...): use a constructor such as "
                "Image.from_debian_base(), Image.from_base(uri), Image.from_dockerfile(file, registry, name) "
                "or Image.from_uv_script(script, name=...)"
            )

    def _evolve(self, **changes: object) -> Image:
        return dataclasses.replace(self, _token=_CONSTRUCT, **changes)  # type: ignore[arg-type]

    @classmethod
    def _new(cls, **fields: object) -> Image:
        return cls(_token=_CONSTRUCT, **fields)  # type: ignore[arg-type]

    # ----------------------------------------------------------------------------------------------
    # Constructors

    @classmethod
    def from_debian_base(
        cls,
        python_version: tuple[int, int] | None = None,
        flyte_version: str | None = None,
        install_flyte: bool = True,
        registry: str | None = None,
        registry_secret: str | Secret | None = None,
        name: str | None = None,
        platform: tuple[str, ...] | None = None,
    ) -> Image:
        """The default image: the released prebuilt image, or a Debian slim Python base.

        With ``install_flyte=True`` it is ``ghcr.io/flyteorg/flyte:py<M>.<m>-v<flyte_version>``;
        otherwise ``python:<M>.<m>-slim-bookworm`` plus the base layers (preset tag ``py<M>.<m>``).
        Giving ``registry`` or ``name`` makes it a clone with them, whose tag is content-hashed.
        """
        version = _python_version(python_version)
        pv = f"{version[0]}.{version[1]}"
        platforms = _platform(platform) if platform is not None else DEBIAN_BASE_PLATFORMS
        if install_flyte:
            release = _optional_str(flyte_version, "flyte_version") or DEFAULT_FLYTE_VERSION
            release = release.removeprefix("v")
            image = cls._new(
                base_image=f"{DEFAULT_IMAGE_REPOSITORY}:py{pv}-v{release}",
                name=DEFAULT_IMAGE_NAME,
                platform=platforms,
                python_version=version,
                extendable=True,
                _preset_tag=f"py{pv}-v{release}",
            )
        else:
            image = cls._new(
                base_image=f"python:{pv}-slim-bookworm",
                name=DEFAULT_IMAGE_NAME,
                platform=platforms,
                python_version=version,
                extendable=True,
                # Built, not pulled: its URI is name:tag, so it counts as cloned from the slim image.
                _is_cloned=True,
                _layers=debian_base_layers(pv),
                _preset_tag=f"py{pv}",
            )
        if registry is not None or name is not None:
            image = image.clone(registry=registry, name=name)
        if registry_secret is not None:
            image = image._evolve(_registry_secret=_registry_secret(registry_secret))
        return image

    @classmethod
    def from_base(cls, image_uri: str) -> Image:
        """An existing image, used as is. Not extendable: ``clone(name=..., extendable=True)`` first."""
        if not isinstance(image_uri, str):
            raise TypeError(f"image_uri must be a str, got {type(image_uri).__name__}")
        return cls._new(base_image=image_uri)

    @classmethod
    def from_ref_name(cls, name: str = "default") -> Image:
        """A reference resolved at run time from ``init(images={name: uri})`` or the config."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"from_ref_name() needs a non-empty str name, got {name!r}")
        return cls._new(_ref_name=name)

    @classmethod
    def from_dockerfile(
        cls, file: Path | str, registry: str | None, name: str, platform: tuple[str, ...] | None = None
    ) -> Image:
        """An image built from a Dockerfile (context: its directory). Never takes layers."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"from_dockerfile() needs a name for the built image, got {name!r}")
        return cls._new(
            dockerfile=_abs(file, "file"),
            registry=_optional_str(registry, "registry"),
            name=name,
            platform=_platform(platform),
            _is_cloned=True,
        )

    @classmethod
    def from_uv_script(
        cls,
        script: Path | str,
        *,
        name: str,
        registry: str | None = None,
        registry_secret: str | Secret | None = None,
        python_version: tuple[int, int] | None = None,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        platform: tuple[str, ...] | None = None,
        secret_mounts: SecretMounts = None,
    ) -> Image:
        """A Debian base (without flyte) plus the dependencies of a PEP 723 script.

        Python: ``python_version`` if given; else the lowest of 3.10-3.14 that the script's
        ``requires-python`` admits; else the running interpreter. A script that cannot be read yet
        is accepted here (its path goes into the tag) and rejected by ``validate()``.
        """
        _script_image_name("from_uv_script", name)
        path = _abs(script, "script")
        deps: tuple[str, ...] = ()
        requires: str | None = None
        read = True
        try:
            text = path.read_text()
        except OSError:
            read = False
        else:
            block = pep723.script_metadata_block(text)
            meta = pep723.parse_script_metadata(block) if block is not None else {}
            deps = _strings(tuple(meta.get("dependencies", ())), "dependencies", "script metadata")
            check_packages(f"from_uv_script({path.name})", deps)
            requires = meta.get("requires-python")
        if python_version is None and requires:
            chosen = pep723.admitted_minor(requires, SCRIPT_PYTHON_CANDIDATES)
            if chosen is None:
                raise ValueError(
                    f"requires-python {requires!r} of {str(path)!r} admits none of Python 3.10-3.14; "
                    "pass python_version=(3, <minor>) explicitly"
                )
            python_version = chosen
        layer = L.UVScript(
            script=path,
            dependencies=deps,
            requires_python=requires,
            metadata_read=read,
            **_pip_options("from_uv_script", index_url, extra_index_urls, pre, extra_args, secret_mounts),
        )
        return cls._script_image(layer, "from_uv_script", name, registry, registry_secret, platform, python_version)

    @classmethod
    def from_pixi_script(
        cls,
        script: Path | str,
        *,
        name: str,
        registry: str | None = None,
        registry_secret: str | Secret | None = None,
        environment: str = "default",
        extra_args: str | None = None,
        platform: tuple[str, ...] | None = None,
        secret_mounts: SecretMounts = None,
    ) -> Image:
        """A Debian base (without flyte) plus the conda/PyPI environment of a pixi PEP 723 script."""
        _script_image_name("from_pixi_script", name)
        layer = L.PixiScript(
            script=_abs(script, "script"),
            environment=_str(environment, "environment"),
            extra_args=_extra_args("from_pixi_script", extra_args),
            secret_mounts=normalize_secrets(secret_mounts),
        )
        return cls._script_image(layer, "from_pixi_script", name, registry, registry_secret, platform)

    @classmethod
    def _script_image(
        cls,
        layer: L.Layer,
        method: str,
        name: str,
        registry: str | None,
        registry_secret: str | Secret | None,
        platform: tuple[str, ...] | None,
        python_version: tuple[int, int] | None = None,
    ) -> Image:
        """A Debian base without flyte, named ``name``, plus the layer that installs a script's environment."""
        base = cls.from_debian_base(
            python_version=python_version,
            install_flyte=False,
            registry=registry,
            registry_secret=registry_secret,
            name=name,
            platform=platform,
        )
        return base._with_layer(layer, method)

    def clone(
        self,
        registry: str | None = None,
        registry_secret: str | Secret | None = None,
        name: str | None = None,
        base_image: str | None = None,
        python_version: tuple[int, int] | None = None,
        addl_layer: L.Layer | None = None,
        extendable: bool | None = None,
        platform: tuple[str, ...] | None = None,
    ) -> Image:
        """A copy with changed base properties (None keeps the current value), marked as cloned.

        A clone's URI is ``registry/name:<content tag>``: the preset tag of a default image no longer
        describes it once anything can differ.
        """
        changes: dict[str, object] = {"_is_cloned": True, "_preset_tag": None}
        if registry is not None:
            changes["registry"] = _str(registry, "registry")
        if registry_secret is not None:
            changes["_registry_secret"] = _registry_secret(registry_secret)
        if name is not None:
            changes["name"] = _str(name, "name")
        if base_image is not None:
            changes["base_image"] = _str(base_image, "base_image")
        if python_version is not None:
            changes["python_version"] = _python_version(python_version)
        if extendable is not None:
            if not isinstance(extendable, bool):
                raise TypeError(f"extendable must be a bool, got {type(extendable).__name__}")
            changes["extendable"] = extendable
        if platform is not None:
            changes["platform"] = _platform(platform)
        image = self._evolve(**changes)
        if addl_layer is not None:
            if not isinstance(addl_layer, L.Layer):
                raise TypeError(f"addl_layer must be an image layer, got {type(addl_layer).__name__}")
            image = image._with_layer(addl_layer, "clone(addl_layer=...)")
        return image

    # ----------------------------------------------------------------------------------------------
    # Layers

    def _with_layer(self, layer: L.Layer, method: str) -> Image:
        if self.dockerfile is not None:
            raise ValueError(
                f"{method}: cannot add layers to a Dockerfile-based image ({self.dockerfile}), even a "
                "clone with extendable=True; put the step in the Dockerfile instead"
            )
        if not self.extendable:
            raise ValueError(
                f"{method}: cannot add layers to {self._describe()}, which is not extendable "
                "(from_base, from_ref_name and clone(extendable=False) images are not); "
                "use .clone(name=..., extendable=True) first"
            )
        if not self.name:
            raise ValueError(
                f"{method}: cannot add a layer to {self._describe()}, which has no name; use .clone(name=...) first"
            )
        return self._evolve(_layers=(*self._layers, layer), _is_cloned=True, _preset_tag=None)

    def with_pip_packages(
        self,
        *packages: str,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        secret_mounts: SecretMounts = None,
    ) -> Image:
        method = "with_pip_packages"
        layer = L.PipPackages(
            packages=check_packages(method, _varargs(method, "packages", packages)),
            **_pip_options(method, index_url, extra_index_urls, pre, extra_args, secret_mounts),
        )
        return self._with_layer(layer, method)

    def with_requirements(
        self,
        file: Path | str,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        secret_mounts: SecretMounts = None,
    ) -> Image:
        method = "with_requirements"
        path = _abs(file, "file")
        if path.suffix != ".txt":
            raise ValueError(
                f"{method}: the requirements file must have a .txt suffix, got {path.name!r}; for a "
                "pyproject.toml use with_uv_project() or with_poetry_project()"
            )
        options = _pip_options(method, index_url, extra_index_urls, pre, extra_args, secret_mounts)
        return self._with_layer(L.Requirements(file=path, **options), method)

    def with_uv_project(
        self,
        pyproject_file: Path | str,
        uvlock: Path | str | None = None,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        secret_mounts: SecretMounts = None,
        project_install_mode: Literal["dependencies_only", "install_project"] = "dependencies_only",
    ) -> Image:
        method = "with_uv_project"
        pyproject = _abs(pyproject_file, "pyproject_file")
        layer = L.UVProject(
            pyproject=pyproject,
            uvlock=_lock_file(uvlock, "uvlock", pyproject, "uv.lock"),
            project_install_mode=_install_mode(method, project_install_mode),
            **_pip_options(method, index_url, extra_index_urls, pre, extra_args, secret_mounts),
        )
        return self._with_layer(layer, method)

    def with_poetry_project(
        self,
        pyproject_file: Path | str,
        poetry_lock: Path | str | None = None,
        extra_args: str | None = None,
        secret_mounts: SecretMounts = None,
        project_install_mode: Literal["dependencies_only", "install_project"] = "dependencies_only",
    ) -> Image:
        method = "with_poetry_project"
        pyproject = _abs(pyproject_file, "pyproject_file")
        layer = L.PoetryProject(
            pyproject=pyproject,
            poetry_lock=_lock_file(poetry_lock, "poetry_lock", pyproject, "poetry.lock"),
            extra_args=_extra_args(method, extra_args),
            secret_mounts=normalize_secrets(secret_mounts),
            project_install_mode=_install_mode(method, project_install_mode),
        )
        return self._with_layer(layer, method)

    def with_pixi_project(
        self,
        manifest_file: Path | str,
        pixi_lock: Path | str | None = None,
        environment: str = "default",
        extra_args: str | None = None,
        secret_mounts: SecretMounts = None,
        project_install_mode: Literal["dependencies_only", "install_project"] = "dependencies_only",
    ) -> Image:
        method = "with_pixi_project"
        manifest = _abs(manifest_file, "manifest_file")
        if manifest.is_dir():
            # A project directory: pixi.toml wins over pyproject.toml, as pixi itself decides.
            found = [manifest / n for n in L.PIXI_MANIFEST_NAMES if (manifest / n).is_file()]
            manifest = found[0] if found else manifest / L.PIXI_MANIFEST_NAMES[0]
        layer = L.PixiProject(
            manifest=manifest,
            pixi_lock=_lock_file(pixi_lock, "pixi_lock", manifest, "pixi.lock"),
            environment=_str(environment, "environment"),
            extra_args=_extra_args(method, extra_args),
            secret_mounts=normalize_secrets(secret_mounts),
            project_install_mode=_install_mode(method, project_install_mode),
        )
        return self._with_layer(layer, method)

    def with_apt_packages(self, *packages: str, secret_mounts: SecretMounts = None) -> Image:
        method = "with_apt_packages"
        layer = L.AptPackages(
            packages=_varargs(method, "packages", packages), secret_mounts=normalize_secrets(secret_mounts)
        )
        return self._with_layer(layer, method)

    def with_commands(self, commands: list[str] | str, secret_mounts: SecretMounts = None) -> Image:
        method = "with_commands"
        items = [commands] if isinstance(commands, str) else commands
        if not isinstance(items, (list, tuple)):
            raise TypeError(f"{method}: commands must be a str or a list of str, got {type(commands).__name__}")
        layer = L.Commands(
            commands=_strings(tuple(items), "commands", method),
            secret_mounts=normalize_secrets(secret_mounts),
        )
        return self._with_layer(layer, method)

    def with_env_vars(self, env_vars: dict[str, str]) -> Image:
        method = "with_env_vars"
        if not isinstance(env_vars, dict):
            raise TypeError(f"{method}: env_vars must be a dict of str to str, got {type(env_vars).__name__}")
        for k, v in env_vars.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"{method}: env_vars must map str to str, got {k!r}: {v!r}; convert values with str()")
        return self._with_layer(L.EnvVars(env_vars=tuple(env_vars.items())), method)

    def with_workdir(self, workdir: str) -> Image:
        return self._with_layer(L.WorkDir(workdir=_str(workdir, "workdir")), "with_workdir")

    def with_source_folder(self, src: Path | str, dst: str = ".", copy_contents_only: bool = False) -> Image:
        path = _abs(src, "src")
        dst = _str(dst, "dst")
        if dst == "." and not copy_contents_only:
            dst = f"./{path.name}"
        layer = L.SourceFolder(src=path, dst=dst, copy_contents_only=copy_contents_only)
        return self._with_layer(layer, "with_source_folder")

    def with_source_file(self, src: Path | str | list[Path | str], dst: str = ".") -> Image:
        method = "with_source_file"
        items = list(src) if isinstance(src, (list, tuple)) else [src]
        paths = tuple(_abs(p, "src") for p in items)
        seen: dict[str, Path] = {}
        for p in paths:
            if p.name in seen:
                raise ValueError(
                    f"{method}: {str(seen[p.name])!r} and {str(p)!r} have the same file name {p.name!r} and "
                    f"would overwrite each other in {dst!r}; add them in separate with_source_file() calls "
                    "with different dst"
                )
            seen[p.name] = p
        return self._with_layer(L.SourceFiles(srcs=paths, dst=_str(dst, "dst")), method)

    def with_code_bundle(
        self, copy_style: Literal["loaded_modules", "all"] = "loaded_modules", dst: str = "."
    ) -> Image:
        if copy_style not in L.CODE_BUNDLE_STYLES:
            raise ValueError(f"with_code_bundle: copy_style must be 'loaded_modules' or 'all', got {copy_style!r}")
        return self._with_layer(L.CodeBundle(copy_style=copy_style, dst=_str(dst, "dst")), "with_code_bundle")

    def with_dockerignore(self, path: Path | str) -> Image:
        return self._with_layer(L.DockerIgnore(path=_abs(path, "path")), "with_dockerignore")

    def with_local_v2(self) -> Image:
        return self._with_layer(L.LocalV2(), "with_local_v2")

    def with_local_v2_plugins(self, *plugins: str) -> Image:
        method = "with_local_v2_plugins"
        names = _varargs(method, "plugins", plugins)
        for n in names:
            if not n.startswith("flyteplugins-"):
                raise ValueError(f"{method}: plugin names must start with 'flyteplugins-', got {n!r}")
        return self._with_layer(L.LocalV2Plugins(plugins=names), method)

    # ----------------------------------------------------------------------------------------------
    # Identity

    @property
    def identifier(self) -> str:
        """The content digest (MD5 hex, or "latest" when nothing contributes); see the module doc."""
        h = hashlib.md5(usedforsecurity=False)
        size = 0
        parts: list[bytes] = []
        if self.base_image:
            parts.append(self.base_image.encode())
        if self.dockerfile is not None:
            parts.append(L.file_bytes_or_path(self.dockerfile))
        parts.extend(layer.contribution() for layer in self._layers)
        for part in parts:
            h.update(part)
            size += len(part)
        return h.hexdigest() if size else "latest"

    @property
    def tag(self) -> str:
        return self._preset_tag or self.identifier

    @property
    def uri(self) -> str:
        if self._ref_name is not None and not self.base_image:
            raise ImageBuildError(
                f"Image.from_ref_name({self._ref_name!r}) is a reference without a URI: map the name to an "
                "image in init(images={...}) or the config"
            )
        if not self._is_cloned:
            if not self.base_image:
                raise ImageBuildError("the image has no base image, so it has no URI; use Image.from_base(uri)")
            return self.base_image
        if not self.name:
            raise ImageBuildError(f"{self._describe()} has no name, so it has no URI; use .clone(name=...)")
        prefix = f"{self.registry}/" if self.registry else ""
        return f"{prefix}{self.name}:{self.tag}"

    @property
    def workdir(self) -> str | None:
        """The working directory inside the image: the last ``with_workdir`` wins."""
        for layer in reversed(self._layers):
            if isinstance(layer, L.WorkDir):
                return layer.workdir
        return None

    def validate(self) -> None:
        """Check that every file the definition names is there; called just before a build."""
        if self.dockerfile is not None:
            L.require_file(self.dockerfile, "Dockerfile")
        for layer in self._layers:
            layer.validate()

    def _describe(self) -> str:
        if self._ref_name is not None:
            return f"image reference {self._ref_name!r}"
        if self.dockerfile is not None:
            return f"Dockerfile image {str(self.dockerfile)!r}"
        return f"image {self.base_image!r}" if self.base_image else "an image without a base"


def _script_image_name(method: str, name: object) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{method}() needs name= for the built image, got {name!r}")


def _lock_file(value: Path | str | None, what: str, manifest: Path, default_name: str) -> Path:
    """The lock file given, or ``default_name`` next to the project's manifest."""
    return _abs(value, what) if value is not None else manifest.parent / default_name
