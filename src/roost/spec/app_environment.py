"""AppEnvironment: the declaration of a long-running service (``flyte.app``).

An app is an environment plus what a service needs: the port it listens on, how it scales, its
domain, start-up parameters, and the functions that run it (``@env.server``, ``@env.on_startup``,
``@env.on_shutdown``). This module only declares and validates; serving comes from the runtime.
The small value types it is built from live in ``roost.spec.app_types``; ``roost.app`` exports both.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from roost.spec.app_types import (
    RESERVED_PORTS,
    Domain,
    Link,
    Parameter,
    Port,
    Scaling,
    Timeouts,
    serialize_parameters,
)
from roost.spec.environment import Environment, _type_name
from roost.spec.image import Image
from roost.spec.resources import Resources
from roost.spec.secrets import SecretRequest

# App names become DNS labels (host names, Kubernetes service names), hence no '_' and no '.'.
_APP_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

# The serving runtime's entry point. Parameters are materialised by it, so an app with parameters
# must be started through it.
FSERVE = "fserve"

# Stand-ins for values only known at deploy time; the deployer substitutes them.
VERSION_PLACEHOLDER = "{{version}}"
PROJECT_PLACEHOLDER = "{{project}}"
DOMAIN_PLACEHOLDER = "{{domain}}"
ORG_PLACEHOLDER = "{{org}}"

# What clone_with accepts besides its named parameters: every app field, plus the base fields that
# have no named parameter of their own.
_CLONE_KEYWORDS = frozenset(
    {
        "type",
        "port",
        "args",
        "command",
        "requires_auth",
        "scaling",
        "domain",
        "links",
        "include",
        "parameters",
        "cluster_pool",
        "cluster",
        "pod_template",
        "timeouts",
    }
)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppEnvironment(Environment):
    """A long-running service: an environment plus port, scaling, domain and start-up parameters.

    ``command`` replaces the default ``fserve`` entry point; ``args`` are appended to whichever
    command runs. Both may be a list of strings or one shell-quoted string.
    """

    type: str | None = None
    port: int | Port = 8080
    args: list[str] | str | None = None
    command: list[str] | str | None = None
    requires_auth: bool = True
    scaling: Scaling = field(default_factory=Scaling)
    domain: Domain | None = field(default_factory=Domain)
    links: list[Link] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    cluster_pool: str = "default"
    cluster: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)

    # Set by the decorators below, not by the constructor; not part of the app's identity.
    _server: Callable[..., Any] | None = field(default=None, init=False, repr=False, compare=False)
    _on_startup: Callable[..., Any] | None = field(default=None, init=False, repr=False, compare=False)
    _on_shutdown: Callable[..., Any] | None = field(default=None, init=False, repr=False, compare=False)

    def _validate(self) -> None:
        # Environment.__post_init__ registers the environment right after this hook returns, so the
        # app rules belong here: an app that breaks them must never reach the registry.
        super()._validate()
        self._validate_app()

    def _validate_app(self) -> None:
        if self.args is not None and not isinstance(self.args, (list, str)):
            raise TypeError(f"Expected args to be of type List[str] or str, got {_type_name(self.args)}")
        if isinstance(self.port, int) and not isinstance(self.port, bool):
            self.port = Port(self.port)
        if not isinstance(self.port, Port):
            raise TypeError(f"Expected port to be of type int or Port, got {_type_name(self.port)}")
        if self.port.port in RESERVED_PORTS:
            raise ValueError(
                f"port {self.port.port} is not allowed: ports {sorted(RESERVED_PORTS)} are reserved by the "
                "serving runtime"
            )
        if self.command is not None and not isinstance(self.command, (list, str)):
            raise TypeError(f"Expected command to be of type List[str] or str, got {_type_name(self.command)}")
        if not isinstance(self.scaling, Scaling):
            raise TypeError(f"Expected scaling to be of type Scaling, got {_type_name(self.scaling)}")
        if self.domain is not None and not isinstance(self.domain, Domain):
            raise TypeError(f"Expected domain to be of type Domain, got {_type_name(self.domain)}")
        if not isinstance(self.links, list):
            raise TypeError(f"Expected links to be of type List[Link], got {_type_name(self.links)}")
        for link in self.links:
            if not isinstance(link, Link):
                raise TypeError(f"Expected links to be of type List[Link], got element {_type_name(link)}")
        if not isinstance(self.timeouts, Timeouts):
            raise TypeError(f"Expected timeouts to be of type Timeouts, got {_type_name(self.timeouts)}")
        if not isinstance(self.parameters, list):
            raise TypeError(f"Expected parameters to be of type List[Parameter], got {_type_name(self.parameters)}")
        for parameter in self.parameters:
            if not isinstance(parameter, Parameter):
                raise TypeError(
                    f"Expected parameters to be of type List[Parameter], got element {_type_name(parameter)}"
                )
        if self.cluster is not None and self.cluster_pool != "default":
            raise ValueError(
                f"cluster ({self.cluster!r}) and cluster_pool ({self.cluster_pool!r}) are mutually "
                "exclusive: set one of them"
            )
        if self.parameters and self.command is not None:
            tokens = _split(self.command)
            if not tokens or tokens[0] != FSERVE:
                raise ValueError(
                    f"App {self.name!r} has parameters, which need the {FSERVE} runtime, but its custom "
                    f"command does not start with {FSERVE!r}: pass your arguments with args= or "
                    "declare the entry point with @env.server instead of command="
                )
        if not _APP_NAME.fullmatch(self.name):
            raise ValueError(
                f"App name {self.name!r} is invalid: use lowercase letters, digits and '-', starting and "
                "ending with a letter or digit (no '_' or '.')"
            )

    # -- lifecycle decorators ---------------------------------------------------------------

    def server(self, fn: F) -> F:
        """Declare ``fn`` (sync or async) as the function that runs the service. Returns ``fn``."""
        self._server = _callable(fn, "server")
        return fn

    def on_startup(self, fn: F) -> F:
        """Declare ``fn`` (sync or async) to run before the server starts. Returns ``fn``."""
        self._on_startup = _callable(fn, "on_startup")
        return fn

    def on_shutdown(self, fn: F) -> F:
        """Declare ``fn`` (sync or async) to run after the server stops. Returns ``fn``."""
        self._on_shutdown = _callable(fn, "on_shutdown")
        return fn

    @property
    def server_fn(self) -> Callable[..., Any] | None:
        """The function registered with ``@env.server``, if any."""
        return self._server

    @property
    def on_startup_fn(self) -> Callable[..., Any] | None:
        """The function registered with ``@env.on_startup``, if any."""
        return self._on_startup

    @property
    def on_shutdown_fn(self) -> Callable[..., Any] | None:
        """The function registered with ``@env.on_shutdown``, if any."""
        return self._on_shutdown

    # -- derived values -----------------------------------------------------------------------

    def get_port(self) -> Port:
        """The port as a ``Port`` (an int given to the constructor has been converted)."""
        return self.port  # type: ignore[return-value]  # converted in _validate_app

    @property
    def endpoint(self) -> str:
        """Where the app answers. roost serves apps locally only, so this is always localhost."""
        return f"http://localhost:{self.get_port().port}"

    def container_command(
        self,
        *,
        version: str = VERSION_PLACEHOLDER,
        project: str = PROJECT_PLACEHOLDER,
        domain: str = DOMAIN_PLACEHOLDER,
        org: str = ORG_PLACEHOLDER,
    ) -> list[str]:
        """The full argv the app's container starts with.

        With a custom ``command`` it is that command followed by ``args``. Otherwise it is::

            fserve --version V --project P --domain D --org O [--parameters JSON] -- *args

        where V, P, D, O default to placeholders (``{{version}}`` ...) that the deployer fills in,
        and ``--parameters`` carries ``serialize_parameters(self.parameters)``. A str ``command`` or
        ``args`` is split like a shell would (``shlex.split``).
        """
        args = _split(self.args)
        if self.command is not None:
            return _split(self.command) + args
        argv = [FSERVE, "--version", version, "--project", project, "--domain", domain, "--org", org]
        if self.parameters:
            argv += ["--parameters", serialize_parameters(self.parameters)]
        return [*argv, "--", *args]

    # -- cloning ------------------------------------------------------------------------------

    def clone_with(
        self,
        name: str,
        image: str | Image | Literal["auto"] | None = None,
        resources: Resources | None = None,
        env_vars: dict[str, str] | None = None,
        secrets: SecretRequest | None = None,
        depends_on: list[Environment] | None = None,
        description: str | None = None,
        interruptible: bool | None = None,
        service_account: str | None = None,
        **kwargs: Any,
    ) -> AppEnvironment:
        """A new app named ``name`` with every setting of this one except those given.

        A named argument left as ``None`` keeps this app's value. ``kwargs`` may set any of
        ``type, port, args, command, requires_auth, scaling, domain, links, include, parameters,
        cluster_pool, cluster, pod_template, timeouts``; anything else is a TypeError. The clone is
        validated and registered like any new environment, and keeps the registered server and
        lifecycle functions.
        """
        unknown = sorted(set(kwargs) - _CLONE_KEYWORDS)
        if unknown:
            raise TypeError(f"AppEnvironment.clone_with() got unexpected keyword arguments: {', '.join(unknown)}")
        values = self._get_kwargs()
        values.update(
            type=self.type,
            port=self.port,
            args=self.args,
            command=self.command,
            requires_auth=self.requires_auth,
            scaling=self.scaling,
            domain=self.domain,
            links=list(self.links),
            parameters=list(self.parameters),
            cluster_pool=self.cluster_pool,
            cluster=self.cluster,
            timeouts=self.timeouts,
        )
        named = {
            "image": image,
            "resources": resources,
            "env_vars": env_vars,
            "secrets": secrets,
            "description": description,
            "interruptible": interruptible,
            "service_account": service_account,
        }
        values.update({key: value for key, value in named.items() if value is not None})
        if depends_on is not None:
            values["depends_on"] = list(depends_on)
        values.update(kwargs)
        values["name"] = name
        clone = type(self)(**values)
        clone._server = self._server
        clone._on_startup = self._on_startup
        clone._on_shutdown = self._on_shutdown
        return clone


def _split(value: list[str] | str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return list(value)


def _callable(fn: Any, decorator: str) -> Callable[..., Any]:
    if not callable(fn):
        raise TypeError(f"@{decorator} expects a function, got {_type_name(fn)}")
    return fn
