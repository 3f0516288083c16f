"""Ray token authentication, as the driver's connection needs it.

Ray (2.52+) authenticates every RPC of a cluster started with ``RAY_AUTH_MODE=token`` -- which
``ray start --head`` turns on by itself when a token exists on the machine (``~/.ray/auth_token``,
written the first time any local Ray cluster starts). A driver connecting to an explicit address
does not turn it on by itself, so without help it is refused and Ray retries for 20 s, printing a
warning each second. roost does what Ray documents for its clients instead:

- ``RAY_AUTH_MODE`` set: respected as it is (``disabled`` or ``token``).
- otherwise, a token found where Ray looks for one (``RAY_AUTH_TOKEN``, the file named by
  ``RAY_AUTH_TOKEN_PATH``, ``~/.ray/auth_token``): token mode, with that token. A cluster without
  authentication ignores the token, so this is safe against either kind of head.

The setting goes into this process's environment, so every process roost starts afterwards that
talks to Ray inherits it. A refused token is reported as one line before ``ray.init`` starts its
retry loop (:func:`check_cluster`).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from roost.errors import InitializationError

MODE = "RAY_AUTH_MODE"
TOKEN = "RAY_AUTH_TOKEN"
TOKEN_PATH = "RAY_AUTH_TOKEN_PATH"

# How long a TCP connection to the cluster's address may take before the address counts as dead
# (ray.init would otherwise wait 40 s for a GCS that is not there).
CONNECT_TIMEOUT = 5.0


def default_token_path() -> Path:
    return Path.home() / ".ray" / "auth_token"


def token_source() -> str | None:
    """Where the token Ray would use comes from, in Ray's order of precedence; None without one.

    A ``RAY_AUTH_TOKEN_PATH`` that cannot be read is an error here: Ray itself aborts the whole
    process on it, from native code, with no Python exception to catch.
    """
    if os.environ.get(TOKEN):
        return TOKEN
    named = os.environ.get(TOKEN_PATH)
    if named:
        try:
            text = Path(named).read_text()
        except OSError as e:
            raise InitializationError(
                "RayAuthTokenUnreadable",
                "user",
                f"{TOKEN_PATH} names {named!r}, which cannot be read ({e.strerror or e}): point it at the "
                f"cluster's token file, or unset it",
            ) from None
        if not text.strip():
            raise InitializationError("RayAuthTokenUnreadable", "user", f"{TOKEN_PATH} names {named!r}, which is empty")
        return TOKEN_PATH
    try:
        if default_token_path().read_text().strip():
            return "~/.ray/auth_token"
    except OSError:
        pass
    return None


def configure(ray: ModuleType | None = None) -> str:
    """Settle this process's authentication setting before it connects; returns the mode in force.

    ``ray``, when already imported, has cached its configuration from the environment at import
    time: it is re-read, as Ray does itself when it turns token mode on for a new local cluster.
    """
    mode = os.environ.get(MODE)
    if mode is None:
        mode = "token" if token_source() else "disabled"
        if mode == "token":
            os.environ[MODE] = mode
    elif mode.lower() == "token":
        token_source()  # a named token file that cannot be read: one clear error, not an abort
    if ray is not None:
        config = getattr(getattr(ray, "_raylet", None), "Config", None)
        if config is not None and not ray.is_initialized():
            config.initialize("")
    return mode.lower()


def check_cluster(address: str, mode: str) -> None:
    """Fail with one line when nothing answers at ``address`` or the cluster refuses this
    process's authentication; a no-op for addresses that are not ``host:port`` (``auto``,
    ``ray://``), which ray.init resolves itself."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address or not host:
        return
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as e:
        raise InitializationError(
            "RayConnectionFailed",
            "user",
            f"cannot connect to the Ray cluster at {address!r}: nothing answers there ({e.strerror or e})",
        ) from None
    try:
        from ray._raylet import GcsClient
    except ImportError:  # a Ray without it: ray.init reports what goes wrong, less briefly
        return
    try:
        with _native_stderr_silenced():
            GcsClient(address=address)
    except Exception as e:
        if "auth" not in type(e).__name__.lower() and "InvalidAuthToken" not in str(e):
            return  # anything else: ray.init meets it too, and says so
        raise InitializationError("RayAuthenticationFailed", "user", refused_message(address, mode)) from None


def refused_message(address: str, mode: str) -> str:
    """One line, short enough for the CLI's error line; never the token itself."""
    start = f"Ray token authentication: {address}"
    fix = f"set {TOKEN} or {TOKEN_PATH} to its token (docs/ray.md)"
    if mode == "token":
        return f"{start} refused the token from {token_source()}; {fix}"
    if os.environ.get(MODE):
        return f"{start} needs a token and {MODE}={os.environ[MODE]} here; set {MODE}=token and {TOKEN} (docs/ray.md)"
    return f"{start} needs a token and none was found; {fix}"


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Ray's native client logs a warning to file descriptor 2 for the refused probe; the error
    raised instead says it in one line."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
