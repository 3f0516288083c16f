"""What a task is packaged with when it is sent somewhere else to run: ``CodeBundle``,
``SerializationContext`` and ``PathRewrite`` (``flyte.models``).

roost runs programs on this machine, so nothing here is produced by a local run; the classes exist
with Flyte's fields and checks so that plugin code and programs that build or inspect them
(``task.custom_config(sctx)``, ``container_args(sctx)``) run unchanged.
"""

from __future__ import annotations

import os
import pathlib
import uuid
from dataclasses import dataclass, replace
from typing import Any


def generate_random_name() -> str:
    """A unique name (a UUID4 string), as Flyte makes one."""
    return str(uuid.uuid4())


@dataclass(frozen=True, kw_only=True)
class CodeBundle:
    """The code of a program, packed (``tgz``) or pickled (``pkl``), and where it is unpacked.

    ``computed_version`` is the hash of the code.
    """

    computed_version: str
    destination: str = "."
    tgz: str | None = None
    pkl: str | None = None
    downloaded_path: pathlib.Path | None = None
    files: list[str] | None = None

    def __post_init__(self) -> None:
        if self.tgz is None and self.pkl is None:
            raise ValueError("Either tgz or pkl must be provided")

    def with_downloaded_path(self, path: pathlib.Path) -> CodeBundle:
        return replace(self, downloaded_path=path)


@dataclass(frozen=True)
class SerializationContext:
    """Facts available while a task is turned into its deployable form: version, project, domain,
    code bundle, where inputs and outputs will be, and the interpreter that will run it."""

    version: str
    project: str | None = None
    domain: str | None = None
    org: str | None = None
    code_bundle: CodeBundle | None = None
    input_path: str = "{{.input}}"
    output_path: str = "{{.outputPrefix}}"
    interpreter_path: str = "/opt/venv/bin/python"
    image_cache: Any = None
    root_dir: pathlib.Path | None = None

    def get_entrypoint_path(self, interpreter_path: str | None = None) -> str:
        """The runtime entrypoint next to the interpreter (``<bin>/runtime.py``)."""
        return os.path.join(os.path.dirname(interpreter_path or self.interpreter_path), "runtime.py")


@dataclass(frozen=True, kw_only=True)
class PathRewrite:
    """Rewrite paths that start with ``old_prefix`` to start with ``new_prefix`` (``"old->new"``)."""

    old_prefix: str
    new_prefix: str

    def __post_init__(self) -> None:
        if not self.old_prefix or not self.new_prefix:
            raise ValueError("Both old_prefix and new_prefix must be non-empty strings.")
        if self.old_prefix == self.new_prefix:
            raise ValueError("old_prefix and new_prefix must be different.")

    @classmethod
    def from_str(cls, pattern: str) -> PathRewrite:
        parts = pattern.split("->")
        if len(parts) != 2:
            raise ValueError(f"Invalid path rewrite pattern: {pattern}. Expected format 'old_prefix->new_prefix'.")
        return cls(old_prefix=parts[0], new_prefix=parts[1])

    def apply(self, path: str) -> str:
        """``path`` with the prefix replaced, or unchanged when it does not start with it."""
        return self.new_prefix + path[len(self.old_prefix) :] if path.startswith(self.old_prefix) else path

    def __repr__(self) -> str:
        return f"{self.old_prefix}->{self.new_prefix}"
