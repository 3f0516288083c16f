"""Flyte's configuration file (``config.yaml``), found and read the way Flyte finds and reads it.

A Flyte program usually starts with ``flyte.init_from_config()``; the file it finds says where the
control plane is (``admin.endpoint``) and which project and domain to use (``task:``). roost reads
the same file so that the program runs unchanged: no file, or a file naming no endpoint, means a
local run (as in Flyte); an endpoint means a remote run, which roost refuses until it has a server.

Where the file is looked for, first found wins (Flyte's order):

1. ``./config.yaml``
2. ``./.flyte/config.yaml``
3. ``<git root>/.flyte/config.yaml`` (the nearest folder above the working directory holding ``.git``)
4. ``$UCTL_CONFIG``, then ``$FLYTECTL_CONFIG``
5. ``~/.union/config.yaml``, then ``~/.flyte/config.yaml``

``roost --config FILE`` names the file before any of these. Where a file is read, ``FLYTE_<SECTION>_<KEY>``
environment variables (``FLYTE_ADMIN_ENDPOINT``, ``FLYTE_TASK_PROJECT``, ...) override its values, as in
Flyte. A file that cannot be read or is not a YAML mapping is an ``InitializationError`` naming it
(Flyte only warns and carries on with nothing, which turns a typo into a silently different run).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.errors import InitializationError

CONFIG_ENV_VARS = ("UCTL_CONFIG", "FLYTECTL_CONFIG")

# Set by the CLI's global ``--config``: looked at before Flyte's search order.
_explicit_path: Path | None = None


def use_config_file(path: str | Path | None) -> None:
    """Make ``path`` the file that ``init_from_config()`` without arguments reads (``roost --config``)."""
    global _explicit_path
    _explicit_path = None if path is None else Path(path).expanduser()


@dataclass(frozen=True)
class PlatformConfig:
    """The ``admin:`` section: where the Flyte control plane is."""

    endpoint: str | None = None
    insecure: bool = False
    insecure_skip_verify: bool = False
    console_endpoint: str | None = None
    ca_cert_file_path: str | None = None
    http_proxy_url: str | None = None
    auth_mode: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class TaskConfig:
    """The ``task:`` section: the org, project and domain runs belong to."""

    org: str | None = None
    project: str | None = None
    domain: str | None = None


@dataclass(frozen=True)
class ImageConfig:
    """The ``image:`` section: builder, named image references, registry."""

    builder: str | None = None
    image_refs: dict[str, str] = field(default_factory=dict)
    registry: str | None = None


@dataclass(frozen=True)
class LocalConfig:
    """The ``local:`` section. roost records every run whatever ``persistence`` says."""

    persistence: bool = False
    tracked: bool = False
    tracked_strict: bool = False


@dataclass(frozen=True)
class Config:
    """A Flyte configuration: what ``flyte.config.auto()`` returns and ``init_from_config`` accepts."""

    platform: PlatformConfig = field(default_factory=PlatformConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    local: LocalConfig = field(default_factory=LocalConfig)
    source: Path | None = None

    @classmethod
    def auto(cls, config_file: str | Path | None = None) -> Config:
        return auto(config_file)


def _git_root(start: Path) -> Path | None:
    # Flyte asks git; looking for the .git entry needs no subprocess and finds the same folder.
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def resolve_config_path() -> Path | None:
    """The config file ``init_from_config()`` without arguments reads, or None (then runs are local)."""
    if _explicit_path is not None:
        return _explicit_path
    for candidate in (Path("config.yaml"), Path(".flyte", "config.yaml")):
        if candidate.is_file():
            return candidate
    root = _git_root(Path.cwd())
    if root is not None and (root / ".flyte" / "config.yaml").is_file():
        return root / ".flyte" / "config.yaml"
    for var in CONFIG_ENV_VARS:
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    for folder in (".union", ".flyte"):
        candidate = Path.home() / folder / "config.yaml"
        if candidate.is_file():
            return candidate
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping; an ``InitializationError`` naming the file if it is not one."""
    try:
        import yaml
    except ImportError as e:  # pragma: no cover - pyyaml is a dependency
        raise InitializationError(
            "ConfigFileError", "user", f"reading Flyte config {path} needs PyYAML (pip install pyyaml)"
        ) from e
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InitializationError(
            "ConfigFileNotFoundError", "user", f"Flyte config file {path} does not exist (cwd: {Path.cwd()})"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InitializationError("ConfigFileError", "user", f"cannot read Flyte config {path}: {e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InitializationError(
            "ConfigFileError", "user", f"Flyte config {path} is not valid YAML: {_one_line(e)}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InitializationError(
            "ConfigFileError", "user", f"Flyte config {path} must be a YAML mapping, got {type(data).__name__}"
        )
    return data


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class _Reader:
    """Values by Flyte's dotted switch (``admin.endpoint``): ``FLYTE_ADMIN_ENDPOINT`` first, then the file."""

    def __init__(self, data: dict[str, Any], path: Path):
        self._data = data
        self._path = path

    def get(self, switch: str, convert: Callable[[Any], Any] = str) -> Any:
        env = os.environ.get("FLYTE_" + switch.upper().replace(".", "_"))
        if env is not None:
            return convert(env)
        value: Any = self._data
        for key in switch.split("."):
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        # Flyte treats empty values as unset (false stays false).
        if value is None or (value == "" and convert is not _to_bool) or isinstance(value, (dict, list)):
            return None
        return convert(value)

    def mapping(self, switch: str) -> dict[str, str]:
        value: Any = self._data
        for key in switch.split("."):
            if not isinstance(value, dict) or key not in value:
                return {}
            value = value[key]
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise InitializationError(
                "ConfigFileError", "user", f"Flyte config {self._path}: {switch} must be a mapping of name to image URI"
            )
        return {str(k): str(v) for k, v in value.items()}


def load(path: Path) -> Config:
    """The configuration in ``path`` (with ``FLYTE_*`` environment overrides)."""
    r = _Reader(read_yaml(path), path)
    platform = PlatformConfig(
        endpoint=r.get("admin.endpoint"),
        insecure=bool(r.get("admin.insecure", _to_bool)),
        insecure_skip_verify=bool(r.get("admin.insecureSkipVerify", _to_bool)),
        console_endpoint=r.get("console.endpoint"),
        ca_cert_file_path=r.get("admin.caCertFilePath"),
        http_proxy_url=r.get("admin.httpProxyURL"),
        auth_mode=r.get("admin.authType"),
        client_id=r.get("admin.clientId"),
    )
    task = TaskConfig(org=r.get("task.org"), project=r.get("task.project"), domain=r.get("task.domain"))
    image = ImageConfig(
        builder=r.get("image.builder"), image_refs=r.mapping("image.image_refs"), registry=r.get("image.registry")
    )
    local = LocalConfig(
        persistence=bool(r.get("local.persistence", _to_bool)),
        tracked=bool(r.get("local.tracked", _to_bool)),
        tracked_strict=bool(r.get("local.tracked_strict", _to_bool)),
    )
    return Config(platform=platform, task=task, image=image, local=local, source=path)


def auto(config_file: str | Path | None = None) -> Config:
    """The configuration of ``config_file``, else of the file Flyte's search finds, else the defaults
    (no endpoint: local runs). As in Flyte, environment overrides apply only where a file was found."""
    path = Path(config_file).expanduser() if config_file is not None else resolve_config_path()
    return Config() if path is None else load(path)
