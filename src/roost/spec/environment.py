"""Environment: the base of every execution environment (name, image, resources, env, secrets)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from roost.spec._frames import caller_file
from roost.spec.image import Image
from roost.spec.pod_template import PodTemplate
from roost.spec.resources import Resources
from roost.spec.secrets import Secret, SecretRequest

_NAME = re.compile(r"^[a-z0-9]+([_-][a-z0-9]+)*$")
_DESCRIPTION_MAX = 255
_TRUNCATION_MARK = "...(tr.)"

# Every environment constructed in this process, in load order (deploy tooling walks it).
_LOADED: list[Environment] = []


def list_loaded_environments() -> list[Environment]:
    """Every environment constructed so far in this process, in the order they were created."""
    return list(_LOADED)


def _type_name(value: object) -> str:
    return type(value).__name__


@dataclass
class Environment:
    """The runtime context shared by everything declared in it.

    Equality is by fields; environments are deliberately unhashable (they are mutable).
    """

    name: str
    depends_on: list[Environment] = field(default_factory=list)
    pod_template: str | PodTemplate | None = None
    description: str | None = None
    secrets: SecretRequest | None = None
    env_vars: dict[str, str] | None = None
    resources: Resources | None = None
    interruptible: bool = False
    image: str | Image | Literal["auto"] | None = "auto"
    include: tuple[str, ...] = ()
    service_account: str | None = None

    def __post_init__(self) -> None:
        self._validate()
        self._source_file = caller_file()
        _LOADED.append(self)

    def _validate(self) -> None:
        """Check and normalise the fields; subclasses extend it (base checks first)."""
        self._validate_base()

    def _validate_base(self) -> None:
        # Type checks run before the name check, in the order the platform SDK applies them.
        if self.image and not isinstance(self.image, (str, Image)):
            raise TypeError(f"Expected image to be of type str or Image, got {_type_name(self.image)}")
        if self.secrets and not isinstance(self.secrets, (str, Secret, list)):
            raise TypeError(
                f"Expected secrets to be of type SecretRequest (str, Secret or list of them), "
                f"got {_type_name(self.secrets)}"
            )
        if isinstance(self.secrets, list):
            for s in self.secrets:
                if not isinstance(s, (str, Secret)):
                    raise TypeError(f"Expected secrets entries to be str or Secret, got {_type_name(s)}")
        if self.service_account is not None and not isinstance(self.service_account, str):
            raise TypeError(f"Expected service_account to be of type str, got {_type_name(self.service_account)}")
        if self.depends_on is None:
            self.depends_on = []
        if not isinstance(self.depends_on, list):
            raise TypeError(f"Expected depends_on to be of type List[Environment], got {_type_name(self.depends_on)}")
        for dep in self.depends_on:
            if not isinstance(dep, Environment):
                raise TypeError(f"Expected depends_on to be of type List[Environment], got element {_type_name(dep)}")
        if self.resources is not None and not isinstance(self.resources, Resources):
            raise TypeError(f"Expected resources to be of type Resources, got {_type_name(self.resources)}")
        if self.env_vars is not None and not isinstance(self.env_vars, dict):
            raise TypeError(f"Expected env_vars to be of type Dict[str, str], got {_type_name(self.env_vars)}")
        if self.pod_template is not None and not isinstance(self.pod_template, (str, PodTemplate)):
            raise TypeError(
                f"Expected pod_template to be of type str or PodTemplate, got {_type_name(self.pod_template)}"
            )
        if self.description is not None and len(self.description) > _DESCRIPTION_MAX:
            keep = _DESCRIPTION_MAX - len(_TRUNCATION_MARK)
            self.description = self.description[:keep] + _TRUNCATION_MARK
        self.include = _normalize_include(self.include)
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                f"Environment name {self.name!r} must be in snake_case or kebab-case format: lowercase "
                "letters and digits separated by single '_' or '-' (for example 'my-env' or 'my_env_2')"
            )

    def add_dependency(self, *env: Environment) -> None:
        """Declare that this environment needs ``env`` deployed first. Duplicates are ignored."""
        for e in env:
            if not isinstance(e, Environment):
                raise TypeError(f"Expected Environment, got {_type_name(e)}")
            if e.name == self.name:
                raise ValueError(f"Cannot add self as a dependency (environment {self.name!r})")
        for e in env:
            if not any(d is e or (d.name == e.name and d == e) for d in self.depends_on):
                self.depends_on.append(e)

    def clone_with(
        self,
        name: str,
        image: str | Image | Literal["auto"] | None = None,
        resources: Resources | None = None,
        env_vars: dict[str, str] | None = None,
        secrets: SecretRequest | None = None,
        depends_on: list[Environment] | None = None,
        **kwargs: Any,
    ) -> Environment:
        raise NotImplementedError(
            f"{type(self).__name__} cannot be cloned; clone a TaskEnvironment or AppEnvironment instead"
        )

    def _get_kwargs(self) -> dict[str, Any]:
        """The constructor arguments that reproduce this environment's base fields.

        ``depends_on`` is copied into a new list so that a clone's ``add_dependency`` cannot reach
        back into the original.
        """
        kwargs: dict[str, Any] = {
            "depends_on": list(self.depends_on),
            "image": self.image,
            "interruptible": self.interruptible,
            "include": self.include,
        }
        for name in ("resources", "secrets", "env_vars", "pod_template", "description", "service_account"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        return kwargs

    @property
    def source_file(self) -> str | None:
        """The file that declared this environment (relative ``include`` paths start there)."""
        return self._source_file


def _normalize_include(include: Any) -> tuple[str, ...]:
    if include is None:
        return ()
    if isinstance(include, str):
        raise TypeError(
            f"include must be a sequence of paths, not a single str ({include!r}); write include=({include!r},)"
        )
    if not isinstance(include, Iterable):
        raise TypeError(f"include must be a sequence of paths, got {_type_name(include)}")
    items = tuple(include)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"include entries must be str paths or globs, got {_type_name(item)}")
    return items
