"""Argument checks for ``Image``'s constructors and ``with_*`` methods.

Each takes what a caller passed and returns the value an ``Image`` or a layer stores (a tuple of
str, an absolute ``Path``, a ``(major, minor)`` pair), or raises a TypeError or ValueError that names
the method and the argument. They run when an image is defined: nothing here builds anything.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from roost.errors import InvalidPackageError
from roost.spec import image_layers as L
from roost.spec.secrets import Secret, normalize_secrets

DEFAULT_PLATFORM: tuple[str, ...] = ("linux/amd64",)

SecretMounts = str | Secret | list[str | Secret] | None


def _running_python() -> tuple[int, int]:
    return (sys.version_info.major, sys.version_info.minor)


# Package strings pip and uv accept that are not PEP 508 requirements: paths, URLs, VCS, options.
_PIP_REFERENCE_PREFIXES = (".", "/", "~", "-", "git+", "hg+", "svn+", "bzr+", "file:")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tgz")


def check_packages(method: str, packages: tuple[str, ...]) -> tuple[str, ...]:
    """Refuse, at definition time, a package string that no installer could read (``"numpy==>1"``)."""
    from packaging.requirements import InvalidRequirement, Requirement  # only when packages are named

    for package in packages:
        text = package.strip()
        if text.startswith(_PIP_REFERENCE_PREFIXES) or "://" in text or text.endswith(_ARCHIVE_SUFFIXES):
            continue
        try:
            Requirement(text)
        except InvalidRequirement as e:
            reason = str(e).splitlines()[0] if str(e) else "not a valid requirement"
            raise InvalidPackageError(
                package, f"{method}: {reason}; write a PEP 508 requirement such as 'numpy>=1.26,<2'"
            ) from None
    return packages


def _python_version(value: object) -> tuple[int, int]:
    if value is None:
        return _running_python()
    if isinstance(value, str):
        # "3.12" is accepted too: it is what requires-python and the CLI speak.
        parts = value.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return (int(parts[0]), int(parts[1]))
    elif isinstance(value, (tuple, list)) and len(value) >= 2 and all(type(p) is int for p in value[:2]):
        return (value[0], value[1])
    raise TypeError(f"python_version must be a (major, minor) tuple such as (3, 12), got {value!r}")


def _platform(value: object) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_PLATFORM
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, (tuple, list)) or not items or not all(isinstance(p, str) for p in items):
        raise TypeError(f"platform must be a tuple of str such as ('linux/amd64',), got {value!r}")
    return tuple(items)


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


def _optional_str(value: object, what: str) -> str | None:
    return None if value is None else _str(value, what)


def _abs(value: object, what: str) -> Path:
    # Absolute from the start, so a later chdir cannot change which file the definition means.
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path (str or Path), got {type(value).__name__}")
    return Path(os.path.abspath(value))


def _registry_secret(value: object) -> str | Secret:
    if not isinstance(value, (str, Secret)):
        raise TypeError(f"registry_secret must be a str or Secret, got {type(value).__name__}")
    return value


def _strings(values: tuple[object, ...], what: str, method: str) -> tuple[str, ...]:
    for v in values:
        if isinstance(v, (list, tuple, set)):
            raise TypeError(f"{method}: {what} must be strings, got a nested {type(v).__name__} {v!r}; flatten it")
        if not isinstance(v, str):
            raise TypeError(f"{method}: {what} must be strings, got {type(v).__name__} {v!r}")
    return values  # type: ignore[return-value]


def _varargs(method: str, what: str, values: tuple[object, ...]) -> tuple[str, ...]:
    for v in values:
        if isinstance(v, (list, tuple, set)):
            raise TypeError(
                f"{method}() takes {what} as separate arguments, got a {type(v).__name__}; pass them "
                f"separately: {method}('a', 'b') or {method}(*my_list)"
            )
    return _strings(values, what, method)


def _extra_args(method: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{method}: extra_args must be one str such as '--no-deps', got {type(value).__name__}")
    return value


def _install_mode(method: str, value: object) -> str:
    if value not in L.PROJECT_INSTALL_MODES:
        raise ValueError(
            f"{method}: project_install_mode must be 'dependencies_only' or 'install_project', got {value!r}"
        )
    return value  # type: ignore[return-value]


def _pip_options(
    method: str,
    index_url: str | None,
    extra_index_urls: str | list[str] | None,
    pre: bool,
    extra_args: str | None,
    secret_mounts: SecretMounts,
) -> dict[str, object]:
    if extra_index_urls is None:
        extras: tuple[str, ...] = ()
    elif isinstance(extra_index_urls, str):
        extras = (extra_index_urls,)
    elif isinstance(extra_index_urls, (list, tuple)):
        extras = _strings(tuple(extra_index_urls), "extra_index_urls", method)
    else:
        raise TypeError(f"{method}: extra_index_urls must be a str or a list of str, got {extra_index_urls!r}")
    if not isinstance(pre, bool):
        raise TypeError(f"{method}: pre must be a bool, got {type(pre).__name__}")
    return {
        "index_url": _optional_str(index_url, "index_url"),
        "extra_index_urls": extras,
        "pre": pre,
        "extra_args": _extra_args(method, extra_args),
        "secret_mounts": normalize_secrets(secret_mounts),
    }
