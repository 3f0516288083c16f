"""``init()``, and Flyte's other ways to initialise: from a config file, an API key, inside a cluster,
passthrough.

``init()`` records what it was given in ``settings.py`` (which the runner reads); the others accept
Flyte's signature and end in ``init()``. Flyte runs a program locally when no control
plane is configured, and so does roost: no config file, or one naming no endpoint, is a local run
(said once, at debug level, with the reason). An endpoint names a roost server (``roost server
start``, docs/server.md): runs default to mode="remote" there and ``flyte.remote`` reads from it.
Nothing is sent until a run or a read needs the server.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roost.errors import InitializationError
from roost.runtime.runs import settings
from roost.runtime.task_api import logs
from roost.store import store_config
from roost.store.open_stores import get_store

if TYPE_CHECKING:  # imported where used: a plain init() reads no config file and configures no object store
    from roost.runtime.runs.flyte_config import Config

logger = logging.getLogger("roost")

_said_local: set[str] = set()

# The prefix of the keys a roost server issues (roost.server.api_keys.KEY_PREFIX).
ROOST_KEY_PREFIX = "roost_"

# The image reference a bare "URI" (no "name=") names, as in Flyte's CLI.
DEFAULT_IMAGE_REF = "default"


def control_plane_refused(endpoint: str, source: str, to_run_locally: str) -> InitializationError:
    """The error for a control plane roost has no client for (a Flyte cluster's in-pod endpoint)."""
    return InitializationError(
        "NoControlPlane",
        "user",
        f"roost cannot reach a Flyte control plane ({endpoint}, from {source}): it runs programs on this "
        f"machine or on a roost server (flyte.init(endpoint='http://127.0.0.1:8686')). To run locally, "
        f"{to_run_locally}",
    )


def init(
    org: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    root_dir: str | Path | None = None,
    log_level: int | str | None = None,
    endpoint: str | None = None,
    api_key: str | None = None,
    storage: Any = None,
    images: dict[str, str] | None = None,
    local_persistence: bool = False,
    ray_address: str | None = None,
    **kwargs: Any,
) -> None:
    """Configure roost for this process. Without arguments: local runs, recorded under ROOST_HOME.

    roost always records runs (``local_persistence`` is accepted and implied). It does not talk to a
    roost server: ``endpoint`` is its address (``http://127.0.0.1:8686``, or Flyte's ``dns:///host:port``),
    ``api_key`` a key it issued (``roost server create-key``; else ``$ROOST_API_KEY``). Runs then default
    to mode="remote" on it.

    ``ray_address`` (roost): a Ray cluster, as ``ray.init`` takes it ("auto", "127.0.0.1:6379",
    "ray://host:10001"). The runs that follow execute their actions there (isolation "ray"), and
    ``mode="remote"`` / ``mode="hybrid"`` mean "on that cluster" (docs/ray.md). The connection is
    made when the first action needs it.
    """
    if ray_address is not None and (not isinstance(ray_address, str) or not ray_address.strip()):
        raise ValueError(f"ray_address must be a Ray address such as 'auto' or '127.0.0.1:6379', got {ray_address!r}")
    insecure = kwargs.get("insecure")
    if endpoint is not None:
        from roost.runtime.runs.server_client import endpoint_url

        endpoint_url(endpoint, insecure)  # a malformed address is refused now, not at the first run
    elif api_key:
        raise ValueError("api_key needs the endpoint of the roost server it belongs to: flyte.init(endpoint=...)")
    raw_data_url = storage if isinstance(storage, str) else None
    # A flyte.storage.S3 / GCS / ABFS: its options for every URL of that kind (blobs, File, flyte.storage).
    if not (storage is None or isinstance(storage, str)) or "roost.store.object_stores" in sys.modules:
        from roost.store import object_stores

        object_stores.configure_storage(None if storage is None or isinstance(storage, str) else storage)
    if log_level is not None:
        logging.getLogger("roost").setLevel(log_level)
    if kwargs.get("user_log_level") is not None:
        logs.user_logger.setLevel(kwargs["user_log_level"])
    settings.set_current(
        settings.InitSettings(
            initialized=True,
            org=org,
            project=project,
            domain=domain,
            root_dir=root_dir,
            images=dict(images or {}),
            ray_address=ray_address,
            endpoint=endpoint or None,
            api_key=api_key or None,
            insecure=insecure,
        )
    )
    store_config.configure(raw_data_url=raw_data_url)
    get_store()


def _say_local_once(reason: str) -> None:
    if reason not in _said_local:
        _said_local.add(reason)
        logger.debug("init_from_config: %s; running locally", reason)


def _image_refs(config: Config, images: tuple[str, ...] | None) -> dict[str, str]:
    refs = dict(config.image.image_refs)
    for value in images or ():
        if not isinstance(value, str):
            raise TypeError(f"images must be strings 'name=uri' or 'uri', got {value!r}")
        name, sep, uri = value.partition("=")
        refs[name if sep else DEFAULT_IMAGE_REF] = uri if sep else value
    return refs


def init_from_config(
    path_or_config: str | Path | Config | None = None,
    root_dir: Path | None = None,
    log_level: int | None = None,
    log_format: str = "console",
    user_log_level: int | None = None,
    org: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    storage: Any = None,
    batch_size: int = 1000,
    image_builder: str | None = None,
    images: tuple[str, ...] | None = None,
    sync_local_sys_paths: bool = True,
) -> None:
    """Initialise from Flyte's config file: ``path_or_config`` (a path, relative to ``root_dir`` when
    given, or a ``Config``), else the file Flyte's search finds (``roost.runtime.runs.flyte_config``).

    The file's ``task:`` org/project/domain apply unless given here; its ``image.image_refs`` and
    ``images`` ("name=uri" or "uri") name images. No file, or no ``admin.endpoint``: local runs.
    """
    from roost.runtime.runs import flyte_config
    from roost.runtime.runs.flyte_config import Config

    if isinstance(path_or_config, Config):
        config = path_or_config
    elif isinstance(path_or_config, (str, Path)):
        path = Path(root_dir).expanduser() / path_or_config if root_dir else Path(path_or_config).expanduser()
        if not path.is_file():
            raise InitializationError(
                "ConfigFileNotFoundError",
                "user",
                f"Configuration file '{path}' does not exist (current working directory: {Path.cwd()})",
            )
        config = flyte_config.load(path)
    elif path_or_config is None:
        config = flyte_config.auto()
    else:
        raise TypeError(f"path_or_config must be a path or a Config, got {type(path_or_config).__name__}")

    where = f"Flyte config {config.source}" if config.source else "Flyte config"
    if config.source is None:
        _say_local_once("no Flyte config file found (./config.yaml, ./.flyte/config.yaml, $FLYTECTL_CONFIG, ...)")
    elif not config.platform.endpoint:
        _say_local_once(f"{where} names no control plane (admin.endpoint)")
    init(
        org=org or config.task.org,
        project=project or config.task.project,
        domain=domain or config.task.domain,
        root_dir=root_dir,
        log_level=log_level,
        user_log_level=user_log_level,
        storage=storage,
        images=_image_refs(config, images),
        local_persistence=config.local.persistence,
        # admin.endpoint names a roost server: runs go there (its key from $ROOST_API_KEY).
        endpoint=config.platform.endpoint,
        insecure=config.platform.insecure or None,
    )


def _api_key_parts(api_key: str) -> list[str] | None:
    # Flyte's key is base64 of "endpoint:client_id:client_secret:org" (split from the right: the
    # endpoint may hold colons itself, "dns:///host"). ``roost server create-key`` gives keys of this
    # form too, with roost's own key as the client secret.
    try:
        parts = base64.b64decode(api_key.encode("utf-8"), validate=True).decode("utf-8").rsplit(":", 3)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return parts if len(parts) == 4 and parts[0] else None


def init_from_api_key(
    api_key: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    root_dir: Path | None = None,
    log_level: int | None = None,
    log_format: str | None = None,
    storage: Any = None,
    batch_size: int = 1000,
    image_builder: str = "local",
    images: dict[str, str] | None = None,
    sync_local_sys_paths: bool = True,
    insecure_skip_verify: bool = False,
    ca_cert_file_path: str | None = None,
) -> None:
    """A key ``roost server create-key`` printed (Flyte's form: it names the server): runs go to that
    server. Any other key names a Flyte control plane: refused (the key itself is never repeated)."""
    source = "the api_key argument"
    if api_key is None:
        api_key = os.environ.get("FLYTE_API_KEY")
        source = "$FLYTE_API_KEY"
        if not api_key:
            raise InitializationError(
                "MissingApiKeyError",
                "user",
                "API key must be provided either as a parameter or via the FLYTE_API_KEY environment variable",
            )
    parts = _api_key_parts(api_key)
    if parts is not None and parts[2].startswith(ROOST_KEY_PREFIX):
        endpoint, key = parts[0], parts[2]
        where = {"project": project, "domain": domain, "root_dir": root_dir}
        init(**where, log_level=log_level, storage=storage, images=images, endpoint=endpoint, api_key=key)
        return
    endpoint = parts[0] if parts is not None else "the endpoint in the key"
    raise control_plane_refused(endpoint, source, "call flyte.init() instead")


def init_in_cluster(
    org: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    api_key: str | None = None,
    endpoint: str | None = None,
    insecure: bool = False,
) -> dict[str, Any]:
    """Flyte's task-pod initialisation. A config file named by ``$UCTL_CONFIG``/``$FLYTECTL_CONFIG`` is read
    as ``init_from_config`` reads it; otherwise the pod's control plane is the endpoint, which is refused."""
    config_path = None if api_key else (os.environ.get("UCTL_CONFIG") or os.environ.get("FLYTECTL_CONFIG"))
    if config_path:
        init_from_config(
            config_path,
            org=org or os.environ.get("_U_ORG_NAME"),
            project=project or os.environ.get("FLYTE_INTERNAL_EXECUTION_PROJECT"),
            domain=domain or os.environ.get("FLYTE_INTERNAL_EXECUTION_DOMAIN"),
        )
        return {"headless": True, "insecure": insecure}
    if api_key or os.environ.get("_UNION_EAGER_API_KEY") or os.environ.get("EAGER_API_KEY"):
        raise control_plane_refused("the cluster's control plane", "an API key", "call flyte.init() instead")
    target = endpoint or os.environ.get("_U_EP_OVERRIDE", "host.docker.internal:8090")
    raise control_plane_refused(target, "init_in_cluster", "call flyte.init() instead")


def init_passthrough(
    endpoint: str | None = None,
    org: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    insecure: bool = False,
) -> dict[str, Any]:
    """Passthrough authentication to ``endpoint`` (or ``$_U_EP_OVERRIDE``). With neither, Flyte initialises
    without a control plane, and so does roost: local runs."""
    target = endpoint or os.environ.get("_U_EP_OVERRIDE")
    if target:
        raise control_plane_refused(target, "init_passthrough", "call flyte.init_passthrough() without an endpoint")
    init(org=org, project=project, domain=domain, root_dir=Path.cwd())
    return {"endpoint": endpoint, "insecure": insecure}


def _current(name: str) -> str:
    from roost.runtime.task_api.task_context import ctx

    task_context = ctx()
    value = getattr(task_context.action, name, None) if task_context is not None else None
    if value is None:
        value = getattr(settings.current(), name)
    if value is None:
        raise InitializationError(
            f"{name.capitalize()}NotInitializedError",
            "user",
            f"{name.capitalize()} has not been initialized. Call flyte.init({name}=...) or flyte.init_from_config() "
            f"with a config file whose task: section names a {name}",
        )
    return str(value)


def current_project() -> str:
    """The project of the running task, else the one ``init`` / the config file set."""
    return _current("project")


def current_domain() -> str:
    """The domain of the running task, else the one ``init`` / the config file set."""
    return _current("domain")


def _aio(func: Any) -> None:
    async def aio(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    aio.__name__ = aio.__qualname__ = f"{func.__name__}.aio"
    func.aio = aio


for _func in (init, init_from_config, init_from_api_key, init_in_cluster, init_passthrough):
    _aio(_func)
