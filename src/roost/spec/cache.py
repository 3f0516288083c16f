"""Cache, CachePolicy and FunctionBodyPolicy: when a task's stored result may stand in for a run."""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol, Union, runtime_checkable

CacheBehavior = Literal["auto", "override", "disable"]

_CANONICAL = ("auto", "override", "disable")
_ALIASES = {
    "enable": "auto",
    "enabled": "auto",
    "on": "auto",
    "true": "auto",
    "yes": "auto",
    "off": "disable",
    "false": "disable",
    "no": "disable",
    "none": "disable",
}


def normalize_behavior(behavior: object) -> CacheBehavior:
    """The canonical behaviour for a string, honouring the case-insensitive aliases."""
    if isinstance(behavior, str):
        if behavior in _CANONICAL:
            return behavior  # type: ignore[return-value]
        lowered = behavior.lower()
        if lowered in _CANONICAL:
            return lowered  # type: ignore[return-value]
        if lowered in _ALIASES:
            return _ALIASES[lowered]  # type: ignore[return-value]
    raise ValueError(
        f"Invalid cache behavior {behavior!r}: expected one of {', '.join(_CANONICAL)} (aliases: {', '.join(_ALIASES)})"
    )


@dataclass
class VersionParameters:
    """What a cache policy may look at to compute a version."""

    func: Callable[..., Any] | None = None
    image: Any = None
    code_bundle: Any = None


@runtime_checkable
class CachePolicy(Protocol):
    """Computes a cache version from a task's definition; the versions of all policies are combined."""

    def get_version(self, salt: str, params: VersionParameters) -> str: ...


class FunctionBodyPolicy:
    """Version = SHA-256 of the function's syntax tree (decorators included) plus the salt.

    Because it hashes the parsed tree, editing comments or blank lines keeps the version, while any
    change to code, docstring, name or decorator arguments produces a new one.
    """

    def get_version(self, salt: str, params: VersionParameters) -> str:
        if params.func is None:
            raise ValueError("FunctionBodyPolicy needs the task function to compute a version")
        return function_body_hash(params.func, salt)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FunctionBodyPolicy)

    def __hash__(self) -> int:
        return hash(FunctionBodyPolicy)

    def __repr__(self) -> str:
        return "FunctionBodyPolicy()"


def function_body_hash(func: Callable[..., Any], salt: str = "") -> str:
    func = inspect.unwrap(func)
    source = textwrap.dedent(inspect.getsource(func))
    tree = ast.dump(ast.parse(source), include_attributes=False)
    return hashlib.sha256((tree + salt).encode()).hexdigest()


def _as_max_age(value: object) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, timedelta)):
        raise TypeError(f"Cache max_age must be an int (seconds), a timedelta or None, got {type(value).__name__}")
    age = timedelta(seconds=value) if isinstance(value, int) else value
    if age < timedelta(0):
        raise ValueError(f"Cache max_age must be nonnegative, got {age}")
    return age


@dataclass
class Cache:
    """``Cache(behavior, version_override=None, serialize=False, ignored_inputs=(), salt="",
    policies=None, max_age=None)``.

    - ``"auto"``: the version comes from the policies (default: the function body).
    - ``"override"``: ``version_override`` is the version.
    - ``"disable"``: no caching.
    ``serialize=True`` runs identical concurrent calls once; ``max_age`` (0 = forever) bounds how old
    a stored result may be and still be used.
    """

    behavior: CacheBehavior
    version_override: str | None = None
    serialize: bool = False
    ignored_inputs: tuple[str, ...] | str = field(default_factory=tuple)
    salt: str = ""
    policies: list[CachePolicy] | CachePolicy | None = None
    max_age: timedelta | int | None = None

    def __post_init__(self) -> None:
        self.max_age = _as_max_age(self.max_age)
        self.behavior = normalize_behavior(self.behavior)
        if isinstance(self.ignored_inputs, str):
            self.ignored_inputs = (self.ignored_inputs,)
        else:
            self.ignored_inputs = tuple(self.ignored_inputs)
        if self.policies is None:
            self.policies = [FunctionBodyPolicy()]
        elif not isinstance(self.policies, list):
            self.policies = [self.policies]
        if self.behavior != "disable" and not self.version_override and not self.policies:
            raise ValueError(
                "Cache policies is empty: at least one cache policy is needed to compute a version "
                "(or set version_override)"
            )

    def is_enabled(self) -> bool:
        return self.behavior in ("auto", "override")

    def get_ignored_inputs(self) -> tuple[str, ...]:
        return self.ignored_inputs  # type: ignore[return-value]

    def get_version(self, params: VersionParameters | None = None) -> str:
        if not self.is_enabled():
            return ""
        if self.version_override:
            return self.version_override
        if params is None:
            raise ValueError("Cache.get_version needs version parameters (the task function and image)")
        parts = []
        for policy in self.policies:  # type: ignore[union-attr]
            try:
                parts.append(policy.get_version(self.salt, params))
            except Exception as e:
                raise ValueError(f"Cache policy {policy!r} failed to compute a version: {e}") from e
        return hashlib.sha256("".join(parts).encode()).hexdigest()


CacheRequest = Union[CacheBehavior, Cache]


def normalize_cache(value: object) -> Cache:
    """A task's ``cache=`` as a Cache object (strings go through the alias lookup)."""
    if isinstance(value, Cache):
        return value
    if value is None:
        return Cache(behavior="disable")
    return Cache(behavior=value)  # type: ignore[arg-type]
