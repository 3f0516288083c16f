"""Secret: a reference to a value held in a secret store, injected into an action when it starts."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

# The only mount path the platform supports; roost uses the same so a task reads secrets from the
# same place on a laptop as on a cluster.
SECRETS_MOUNT = "/etc/flyte/secrets"

_ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass
class Secret:
    """``Secret(key, group=None, mount=None, as_env_var=None)``.

    Without ``mount`` or ``as_env_var`` the value is exposed as an environment variable named
    ``GROUP_KEY`` (or ``KEY``), upper-cased with ``-`` turned into ``_``.
    """

    key: str
    group: str | None = None
    mount: Path | None = None
    as_env_var: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise TypeError(f"Secret key must be a non-empty str, got {self.key!r}")
        if self.group is not None and not isinstance(self.group, str):
            raise TypeError(f"Secret group must be a str, got {type(self.group).__name__}")
        if self.mount is not None:
            if Path(self.mount) != Path(SECRETS_MOUNT):
                raise ValueError(
                    f"Secret mount {str(self.mount)!r} is not supported: only {SECRETS_MOUNT} is supported"
                )
            self.mount = Path(self.mount)
        if self.mount is None and self.as_env_var is None:
            raw = f"{self.group}_{self.key}" if self.group else self.key
            self.as_env_var = raw.replace("-", "_").upper()
        if self.as_env_var is not None and not _ENV_VAR_NAME.match(self.as_env_var):
            raise ValueError(
                f"Secret as_env_var {self.as_env_var!r} (for key {self.key!r}) is not a valid environment "
                "variable name: it must match ^[A-Z_][A-Z0-9_]*$; pass as_env_var= explicitly"
            )

    @property
    def mount_path(self) -> Path | None:
        """The file the value is written to when mounted: ``/etc/flyte/secrets/<key>``."""
        return None if self.mount is None else self.mount / self.key

    def stable_hash(self) -> str:
        parts = [self.key, self.group or "", str(self.mount) if self.mount else "", self.as_env_var or ""]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def __hash__(self) -> int:
        return int(self.stable_hash()[:16], 16)

    def __eq__(self, other: object) -> bool:
        # Defined by hand because the dataclass __eq__ demands the exact same class: the design-document form
        # SecretRequest(key="k") names the same secret as Secret(key="k") and must not be counted twice
        # when an environment's and a task's secrets are merged.
        if not isinstance(other, Secret):
            return NotImplemented
        return (self.key, self.group, self.mount, self.as_env_var) == (
            other.key,
            other.group,
            other.mount,
            other.as_env_var,
        )


if TYPE_CHECKING:
    SecretRequest = Union[str, Secret, list[Union[str, Secret]]]
else:

    class SecretRequest(Secret):
        """The type of ``secrets=``: a ``str`` key, a ``Secret``, or a list of them.

        The Flyte SDK defines it as a type alias only; Flyte 2's design documents also call it like a class
        (``SecretRequest(key="my-api-key")``), so at run time it is that: a ``Secret``.
        """


def normalize_secrets(request: str | Secret | list[str | Secret] | None) -> tuple[Secret, ...]:
    """A secret request as a tuple of ``Secret`` objects (strings become ``Secret(key=s)``)."""
    if not request:
        return ()
    items = request if isinstance(request, list) else [request]
    out: list[Secret] = []
    for item in items:
        if isinstance(item, str):
            out.append(Secret(key=item))
        elif isinstance(item, Secret):
            out.append(item)
        else:
            raise TypeError(f"secrets entries must be str or Secret, got {type(item).__name__}")
    return tuple(out)
