"""The small values an ``AppEnvironment`` is declared with.

``Port``, ``Scaling`` (with ``Scaling.Concurrency`` / ``Scaling.RequestRate``), ``Timeouts``,
``Link``, ``Domain``, ``Subdomain`` and ``Parameter``, plus the delayed parameter values
``RunOutput``, ``AppEndpoint`` and ``ArtifactValue`` (resolved when the app is deployed or served).
Each is validated on construction; none does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import timedelta
from typing import Any, Literal

# Ports the serving runtime (proxy, metrics, health probes) binds inside an app's container; an app
# listening on one of them would collide with it.
RESERVED_PORTS: frozenset[int] = frozenset({8012, 8022, 8112, 9090, 9091})

_MAX_REQUEST_TIMEOUT = timedelta(hours=1)
_SHELL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _type_name(value: object) -> str:
    return type(value).__name__


def _is_int(value: object) -> bool:
    # bool is an int subclass, but ``port=True`` or ``replicas=False`` is always a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Port:
    """``Port(port, name=None)``: the port an app listens on, optionally named (e.g. ``"h2c"``)."""

    port: int
    name: str | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.port):
            raise TypeError(f"Expected port to be of type int, got {_type_name(self.port)}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range: must be between 1 and 65535")
        if self.port in RESERVED_PORTS:
            raise ValueError(
                f"port {self.port} is not allowed: ports {sorted(RESERVED_PORTS)} are reserved by the serving runtime"
            )
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"Expected port name to be of type str, got {_type_name(self.name)}")


@dataclass
class Scaling:
    """``Scaling(replicas=(0, 1), metric=None, scaledown_after=None)``: how many replicas serve the app.

    ``replicas`` is ``(min, max)``; an int ``n`` means exactly ``n``. ``metric`` picks what autoscaling
    follows; ``scaledown_after`` is how long a replica may sit idle before it is removed (an int is
    seconds).
    """

    @dataclass(frozen=True)
    class Concurrency:
        """Scale on the number of requests in flight per replica (``val`` >= 1)."""

        val: int

        def __post_init__(self) -> None:
            if not _is_int(self.val):
                raise TypeError(f"Expected Scaling.Concurrency val to be of type int, got {_type_name(self.val)}")
            if self.val < 1:
                raise ValueError(f"Scaling.Concurrency val must be >= 1, got {self.val}")

    @dataclass(frozen=True)
    class RequestRate:
        """Scale on requests per second per replica (``val`` >= 1)."""

        val: int | float

        def __post_init__(self) -> None:
            if not (_is_int(self.val) or isinstance(self.val, float)):
                raise TypeError(f"Expected Scaling.RequestRate val to be a number, got {_type_name(self.val)}")
            if self.val < 1:
                raise ValueError(f"Scaling.RequestRate val must be >= 1, got {self.val}")

    replicas: int | tuple[int, int] = (0, 1)
    metric: Scaling.Concurrency | Scaling.RequestRate | None = None
    scaledown_after: int | timedelta | None = None

    def __post_init__(self) -> None:
        self.replicas = _normalize_replicas(self.replicas)
        if self.metric is not None and not isinstance(self.metric, (Scaling.Concurrency, Scaling.RequestRate)):
            raise TypeError(
                "Expected scaling metric to be Scaling.Concurrency or Scaling.RequestRate, "
                f"got {_type_name(self.metric)}"
            )
        if _is_int(self.scaledown_after):
            if self.scaledown_after < 0:  # type: ignore[operator]
                raise ValueError(f"scaledown_after must not be negative, got {self.scaledown_after}")
            self.scaledown_after = timedelta(seconds=self.scaledown_after)  # type: ignore[arg-type]
        elif self.scaledown_after is not None and not isinstance(self.scaledown_after, timedelta):
            raise TypeError(
                f"Expected scaledown_after to be of type int or timedelta, got {_type_name(self.scaledown_after)}"
            )

    def get_replicas(self) -> tuple[int, int]:
        """``(min, max)`` replicas."""
        return self.replicas  # type: ignore[return-value]  # normalised in __post_init__


def _normalize_replicas(replicas: object) -> tuple[int, int]:
    if _is_int(replicas):
        if replicas < 0:  # type: ignore[operator]
            raise ValueError(f"replicas must not be negative, got {replicas}")
        return (replicas, replicas)  # type: ignore[return-value]
    if not isinstance(replicas, tuple):
        raise TypeError(f"Expected replicas to be an int or a (min, max) tuple, got {_type_name(replicas)}")
    if len(replicas) != 2:
        raise ValueError(f"replicas must be a (min, max) tuple of length 2, got {replicas!r}")
    low, high = replicas
    if not (_is_int(low) and _is_int(high)):
        raise TypeError(f"replicas (min, max) must both be int, got {replicas!r}")
    if low < 0:
        raise ValueError(f"replicas min must be >= 0, got {replicas!r}")
    if high < 1:
        raise ValueError(f"replicas max must be >= 1, got {replicas!r}")
    if high < low:
        raise ValueError(f"replicas max must be >= min, got {replicas!r}")
    return (low, high)


@dataclass
class Timeouts:
    """``Timeouts(request=None)``: the longest a single request may take (an int is seconds; ≤ 1 hour)."""

    request: int | timedelta | None = None

    def __post_init__(self) -> None:
        if _is_int(self.request):
            self.request = timedelta(seconds=self.request)  # type: ignore[arg-type]
        elif self.request is not None and not isinstance(self.request, timedelta):
            raise TypeError(f"Expected request timeout to be of type int or timedelta, got {_type_name(self.request)}")
        if self.request is not None:
            if self.request < timedelta(0):
                raise ValueError(f"request timeout must not be negative, got {self.request}")
            if self.request > _MAX_REQUEST_TIMEOUT:
                raise ValueError(f"request timeout must be at most 1 hour, got {self.request}")


@dataclass(frozen=True)
class Link:
    """``Link(path, title, is_relative=False)``: a link shown with the app (relative to its URL if asked)."""

    path: str
    title: str
    is_relative: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.path, str):
            raise TypeError(f"Expected link path to be of type str, got {_type_name(self.path)}")
        if not isinstance(self.title, str):
            raise TypeError(f"Expected link title to be of type str, got {_type_name(self.title)}")


@dataclass
class Subdomain:
    """Where the app's subdomain comes from: an app name, or a function computing it at deploy time.

    Build it with ``Subdomain.from_app_name(...)`` or ``Subdomain.from_function(...)``; exactly one of
    ``app_name`` and ``function`` is set.
    """

    app_name: str | None = None
    function: Callable[..., str] | None = None
    project_domain_suffix: Literal["hash", "default"] = "hash"

    def __post_init__(self) -> None:
        if (self.app_name is None) == (self.function is None):
            raise ValueError("Subdomain needs exactly one of app_name or function")
        if self.app_name is not None and not isinstance(self.app_name, str):
            raise TypeError(f"Expected Subdomain app_name to be of type str, got {_type_name(self.app_name)}")
        if self.function is not None and not callable(self.function):
            raise TypeError(f"Expected Subdomain function to be callable, got {_type_name(self.function)}")
        if self.project_domain_suffix not in ("hash", "default"):
            raise ValueError(f"project_domain_suffix must be 'hash' or 'default', got {self.project_domain_suffix!r}")

    @classmethod
    def from_app_name(cls, name: str, project_domain_suffix: Literal["hash", "default"] = "hash") -> Subdomain:
        return cls(app_name=name, project_domain_suffix=project_domain_suffix)

    @classmethod
    def from_function(cls, fn: Callable[..., str]) -> Subdomain:
        return cls(function=fn)


@dataclass
class Domain:
    """``Domain(subdomain=None, custom_domain=None)``: the host name an app is reachable at."""

    subdomain: str | Subdomain | None = None
    custom_domain: str | None = None

    def __post_init__(self) -> None:
        if self.subdomain is not None and not isinstance(self.subdomain, (str, Subdomain)):
            raise TypeError(f"Expected subdomain to be of type str or Subdomain, got {_type_name(self.subdomain)}")
        if self.custom_domain is not None and not isinstance(self.custom_domain, str):
            raise TypeError(f"Expected custom_domain to be of type str, got {_type_name(self.custom_domain)}")


@dataclass
class RunOutput:
    """An output of a run (``run_name``) or of the latest run of a task (``task_name``).

    ``getter`` is the path into the outputs: ``(0,)`` is the first output; further items index or key
    into it.
    """

    type: str
    run_name: str | None = None
    task_name: str | None = None
    task_version: str | None = None
    task_auto_version: str | None = None
    getter: tuple[int | str, ...] = (0,)

    def __post_init__(self) -> None:
        if (self.run_name is None) == (self.task_name is None):
            raise ValueError("RunOutput needs exactly one of run_name or task_name")
        if self.type == "app_endpoint":
            raise ValueError("RunOutput type cannot be 'app_endpoint'; use AppEndpoint for another app's URL")


@dataclass
class AppEndpoint:
    """The URL of another app, resolved when this one is deployed or served."""

    app_name: str
    public: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.app_name, str):
            raise TypeError(f"Expected AppEndpoint app_name to be of type str, got {_type_name(self.app_name)}")


@dataclass
class ArtifactValue:
    """A named artifact (latest version unless ``version`` is given), resolved at deploy or serve time."""

    name: str
    version: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"Expected ArtifactValue name to be of type str, got {_type_name(self.name)}")


def _file_or_dir_kind(value: object) -> str | None:
    # roost.io (File, Dir) sits in a layer this module must not import; recognise its classes, and
    # subclasses of them, by name instead.
    for cls in type(value).__mro__:
        if cls.__name__ == "File":
            return "file"
        if cls.__name__ == "Dir":
            return "dir"
    return None


@dataclass
class Parameter:
    """A value handed to the app at start-up, as an environment variable and/or a mounted file.

    ``value`` is a str, File, Dir, RunOutput, AppEndpoint or ArtifactValue; it may be left out and
    supplied when the app is served.
    """

    name: str
    value: Any = None
    type: str | None = None
    env_var: str | None = None
    download: bool = True
    mount: str | None = None
    ignore_patterns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"Expected parameter name to be of type str, got {_type_name(self.name)}")
        if self.value is not None and not (
            isinstance(self.value, (str, RunOutput, AppEndpoint, ArtifactValue)) or _file_or_dir_kind(self.value)
        ):
            raise TypeError(
                f"Parameter {self.name!r}: value must be str, File, Dir, RunOutput, ArtifactValue or "
                f"AppEndpoint, got {_type_name(self.value)}"
            )
        if self.env_var is not None and not (
            isinstance(self.env_var, str) and _SHELL_IDENTIFIER.fullmatch(self.env_var)
        ):
            raise ValueError(
                f"Parameter {self.name!r}: env_var {self.env_var!r} is not a valid environment variable name "
                "(letters, digits and '_', not starting with a digit)"
            )

    def to_dict(self) -> dict[str, Any]:
        """This parameter as JSON-ready data (``value`` tagged with its kind)."""
        return {
            "name": self.name,
            "value": _value_to_dict(self.value),
            "type": self.type,
            "env_var": self.env_var,
            "download": self.download,
            "mount": self.mount,
            "ignore_patterns": list(self.ignore_patterns),
        }


_VALUE_KINDS: dict[type, str] = {
    RunOutput: "run_output",
    AppEndpoint: "app_endpoint",
    ArtifactValue: "artifact",
}


def _value_to_dict(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"kind": "string", "value": value}
    for cls, kind in _VALUE_KINDS.items():
        if isinstance(value, cls) and is_dataclass(value):
            return {"kind": kind, **asdict(value)}
    return {"kind": _file_or_dir_kind(value), "path": str(value.path)}  # type: ignore[attr-defined]


def serialize_parameters(parameters: list[Parameter]) -> str:
    """Parameters as the compact JSON string the ``fserve`` runtime receives in ``--parameters``."""
    import json  # only deploy and serve need it; keep importing the definitions cheap

    return json.dumps([p.to_dict() for p in parameters], separators=(",", ":"), sort_keys=True)
