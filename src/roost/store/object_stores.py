"""Credentials and options for object stores (``flyte.storage.S3 / GCS / ABFS``), as fsspec options.

``init(storage=S3(...))`` makes one of them the process's configuration; otherwise each protocol's
``auto()`` reads Flyte's environment variables (``FLYTE_AWS_ENDPOINT``, ``FLYTE_AWS_ACCESS_KEY_ID``,
``AZURE_STORAGE_ACCOUNT_NAME``, ...). Every URL roost opens (blobs, File, Dir, ``flyte.storage``) gets
the options of its protocol, so a run whose raw data lives on MinIO needs only this.

Flyte hands these to obstore; roost uses the fsspec filesystems (s3fs, gcsfs, adlfs), so
``get_fsspec_kwargs`` returns those filesystems' keywords (``key``/``secret``/``client_kwargs`` for s3fs,
``anon=True`` for anonymous access). Secret fields are left out of ``repr`` so they never reach a log.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else None


@dataclass(frozen=True)
class Storage:
    """Options of any object store: retries, backoff between them, debug logging."""

    retries: int = 3
    backoff: datetime.timedelta = datetime.timedelta(seconds=5)
    enable_debug: bool = False
    attach_execution_metadata: bool = True

    _KEY_ENV_VAR_MAPPING: ClassVar[dict[str, str]] = {
        "enable_debug": "FLYTE_STORAGE_DEBUG",
        "retries": "FLYTE_STORAGE_RETRIES",
        "backoff": "FLYTE_STORAGE_BACKOFF_SECONDS",
    }
    protocols: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _auto_as_kwargs(cls) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        retries = _env_int("FLYTE_STORAGE_RETRIES")
        if retries is not None:
            kwargs["retries"] = retries
        backoff = _env_int("FLYTE_STORAGE_BACKOFF_SECONDS")
        if backoff is not None:
            kwargs["backoff"] = datetime.timedelta(seconds=backoff)
        if os.environ.get("FLYTE_STORAGE_DEBUG", "").lower() in ("1", "true", "yes"):
            kwargs["enable_debug"] = True
        return kwargs

    @classmethod
    def auto(cls) -> Storage:
        """This configuration from the environment."""
        return cls(**cls._auto_as_kwargs())

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Keyword arguments for the fsspec filesystem of this store (``kwargs`` win)."""
        return dict(kwargs)


def _env(mapping: dict[str, str], key: str) -> str | None:
    return os.environ.get(mapping[key]) or None


@dataclass(frozen=True)
class S3(Storage):
    """S3 or an S3-compatible store (MinIO, LocalStack): endpoint, static keys, region, addressing."""

    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    region: str | None = None
    addressing_style: str | None = None

    _KEY_ENV_VAR_MAPPING: ClassVar[dict[str, str]] = {
        "endpoint": "FLYTE_AWS_ENDPOINT",
        "access_key_id": "FLYTE_AWS_ACCESS_KEY_ID",
        "secret_access_key": "FLYTE_AWS_SECRET_ACCESS_KEY",
        "addressing_style": "FLYTE_AWS_S3_ADDRESSING_STYLE",
    } | Storage._KEY_ENV_VAR_MAPPING
    protocols: ClassVar[tuple[str, ...]] = ("s3", "s3a")

    @classmethod
    def auto(cls, region: str | None = None) -> S3:
        m = cls._KEY_ENV_VAR_MAPPING
        values = {k: _env(m, k) for k in ("endpoint", "access_key_id", "secret_access_key", "addressing_style")}
        kwargs = {k: v for k, v in values.items() if v is not None}
        if region:
            kwargs["region"] = region
        return cls(**cls._auto_as_kwargs(), **kwargs)

    @classmethod
    def for_sandbox(cls) -> S3:
        """The Flyte sandbox's MinIO (``http://localhost:4566``, its well-known development keys)."""
        return cls(
            **cls._auto_as_kwargs(),
            endpoint="http://localhost:4566",
            access_key_id="minio",
            secret_access_key="miniostorage",
        )

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if anonymous:
            options["anon"] = True
        else:
            if self.access_key_id:
                options["key"] = self.access_key_id
            if self.secret_access_key:
                options["secret"] = self.secret_access_key
        client: dict[str, Any] = {}
        if self.endpoint:
            client["endpoint_url"] = self.endpoint
        if self.region:
            client["region_name"] = self.region
        if client:
            options["client_kwargs"] = client
        config: dict[str, Any] = {"retries": {"max_attempts": self.retries}}
        if self.addressing_style:
            config["s3"] = {"addressing_style": self.addressing_style}
        options["config_kwargs"] = config
        options.update(kwargs)
        return options


@dataclass(frozen=True)
class GCS(Storage):
    """Google Cloud Storage (credentials from the environment, as gcsfs finds them)."""

    protocols: ClassVar[tuple[str, ...]] = ("gs", "gcs")

    @classmethod
    def auto(cls) -> GCS:
        return cls(**cls._auto_as_kwargs())

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        options: dict[str, Any] = {"token": "anon"} if anonymous else {}
        options.update(kwargs)
        return options


@dataclass(frozen=True)
class ABFS(Storage):
    """Azure Blob Storage / Data Lake: account, key or service principal."""

    account_name: str | None = None
    account_key: str | None = field(default=None, repr=False)
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    _KEY_ENV_VAR_MAPPING: ClassVar[dict[str, str]] = {
        "account_name": "AZURE_STORAGE_ACCOUNT_NAME",
        "account_key": "AZURE_STORAGE_ACCOUNT_KEY",
        "tenant_id": "AZURE_TENANT_ID",
        "client_id": "AZURE_CLIENT_ID",
        "client_secret": "AZURE_CLIENT_SECRET",
    }
    protocols: ClassVar[tuple[str, ...]] = ("abfs", "abfss", "az")

    @classmethod
    def auto(cls) -> ABFS:
        values = {k: _env(cls._KEY_ENV_VAR_MAPPING, k) for k in cls._KEY_ENV_VAR_MAPPING}
        return cls(**{k: v for k, v in values.items() if v is not None})

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        options: dict[str, Any] = {"anon": True} if anonymous else {}
        for key in ("account_name", "account_key", "tenant_id", "client_id", "client_secret"):
            if getattr(self, key):
                options[key] = getattr(self, key)
        options.update(kwargs)
        return options


_configured: Storage | None = None
_BY_PROTOCOL: dict[str, type[Storage]] = {p: cls for cls in (S3, GCS, ABFS) for p in cls.protocols}


def configure_storage(storage: Storage | None) -> None:
    """Make ``storage`` the process's object-store configuration (``init(storage=...)``); None forgets it."""
    global _configured
    if storage is not None and not isinstance(storage, Storage):
        raise TypeError(f"storage must be flyte.storage.S3, GCS or ABFS (or a URL string), got {storage!r}")
    _configured = storage


def configured_storage() -> Storage | None:
    return _configured


def fsspec_kwargs(protocol: str | None, anonymous: bool = False) -> dict[str, Any]:
    """The fsspec options for ``protocol``: from the configured store when it is of that kind, else
    from the environment (``S3.auto()``, ...); none for other protocols (file, memory, ...)."""
    kind = _BY_PROTOCOL.get(protocol or "")
    if kind is None:
        return {}
    config = _configured if isinstance(_configured, kind) else kind.auto()
    return config.get_fsspec_kwargs(anonymous)
