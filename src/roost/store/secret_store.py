"""The local secret store: where ``roost secret create`` puts values and where an action's secrets come from.

Two backends, one interface (``set`` / ``get`` / ``delete`` / ``list`` / ``resolve``):

* ``file``: ``$ROOST_HOME/secrets/secrets.json``, mode 0600 inside a 0700 folder, replaced atomically
  (a private temp file, then ``os.replace``), so no reader ever sees a half-written or a
  world-readable file. A secrets file whose mode lets the group or others in is refused, not
  silently fixed: someone may already have read it, and the user should know.
* ``keyring``: the OS keyring through the optional ``keyring`` package. A keyring cannot list its
  entries, so the names (never the values) are kept in ``$ROOST_HOME/secrets/keyring-index.json``.

``backend="auto"`` (the default) picks ``keyring`` when the package is importable and a real backend
is configured, ``file`` otherwise -- except that an existing secrets file keeps ``file`` in force:
installing ``keyring`` later (it often arrives as a dependency of another tool) must not hide the
secrets already stored.

``resolve(secret)`` is what the runtime calls when an action starts: the stored value, else the
launching process's environment variable of the secret's name, else ``SecretNotFoundError``.

No value ever reaches an error message, a ``repr`` or a log line from this module. This layer takes
any object with ``key`` / ``group`` / ``as_env_var`` attributes, so it never imports ``roost.spec``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from roost.errors import SecretNotFoundError, StoreError
from roost.store.store_config import current

Backend = Literal["file", "keyring", "auto"]

SECRETS_DIR = "secrets"
SECRETS_FILE = "secrets.json"
KEYRING_INDEX_FILE = "keyring-index.json"
LOCK_FILE = ".lock"
FORMAT_VERSION = 1
# The keyring service is tied to the home folder, so two ROOST_HOMEs (tests, projects) never see each
# other's secrets -- the same isolation the file backend has by construction.
KEYRING_SERVICE_PREFIX = "roost:"

_DIR_MODE = 0o700
_FILE_MODE = 0o600
# Bits that let anyone but the owner in; their presence is what "not private" means here.
_NOT_PRIVATE = stat.S_IRWXG | stat.S_IRWXO
_POSIX = os.name == "posix"


class SecretRef(Protocol):
    """What ``resolve`` needs of a secret: ``roost.Secret`` fits, without this layer importing it."""

    key: str
    group: str | None
    as_env_var: str | None


def derived_env_var(key: str, group: str | None) -> str:
    """``GROUP_KEY`` (or ``KEY``), ``-`` turned into ``_``, upper-cased: the name Flyte derives."""
    raw = f"{group}_{key}" if group else key
    return raw.replace("-", "_").upper()


def _norm_group(group: str | None) -> str | None:
    # Secret treats an empty group as no group (`f"{group}_{key}" if group`); so must the store, or
    # a value set with group "" could never be found again.
    return group or None


def _check_name(what: str, name: str) -> None:
    # Keys become file names (/etc/flyte/secrets/<key>) and keyring user names ("group/key"); a
    # slash, a NUL or a line break would make either ambiguous or unsafe.
    if not isinstance(name, str) or not name:
        raise ValueError(f"secret {what} must be a non-empty string")
    bad = [c for c in ("/", "\0", "\n", "\r") if c in name]
    if bad or name in (".", ".."):
        raise ValueError(f"secret {what} {name!r} is not allowed: no '/', NUL or line breaks, and not '.' or '..'")


def _label(key: str, group: str | None) -> str:
    return f"{key!r} (group {group!r})" if group else f"{key!r} (no group)"


def create_command(key: str, group: str | None) -> str:
    """The command line that stores this secret, as the error messages suggest it."""
    cmd = f"roost secret create {shlex.quote(key)}"
    return f"{cmd} --group {shlex.quote(group)}" if group else cmd


class SecretStore:
    """Secret values by ``(key, group)``, kept private to the user; see the module docstring.

    ``home`` defaults to the configured ROOST_HOME. ``environ`` (default ``os.environ``) is where
    ``resolve`` looks for the fallback variables.
    """

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        backend: Backend = "auto",
        environ: Mapping[str, str] | None = None,
    ):
        self.home = Path(home).expanduser() if home is not None else current().home
        self.dir = self.home / SECRETS_DIR
        self.path = self.dir / SECRETS_FILE
        self.index_path = self.dir / KEYRING_INDEX_FILE
        self._environ = environ
        self._keyring: Any = None
        if backend == "auto":
            # The existing file wins (module docstring): a newly installed keyring must not hide it.
            self._keyring = None if self.path.exists() else _usable_keyring()
            self.backend: Literal["file", "keyring"] = "keyring" if self._keyring is not None else "file"
        elif backend == "keyring":
            self._keyring = _usable_keyring()
            if self._keyring is None:
                raise StoreError(
                    "secret backend 'keyring' was asked for, but the keyring package is not installed or has "
                    "no usable backend (pip install keyring, and configure one); or use the file backend"
                )
            self.backend = "keyring"
        elif backend == "file":
            self.backend = "file"
        else:
            raise ValueError(f"secret backend must be 'file', 'keyring' or 'auto', got {backend!r}")
        self.service = f"{KEYRING_SERVICE_PREFIX}{self.home}"

    def __repr__(self) -> str:
        return f"SecretStore(backend={self.backend!r}, location={self.location!r})"

    @property
    def location(self) -> str:
        """Where values live, in words for messages: the file's path or the keyring service."""
        if self.backend == "keyring":
            return f"the OS keyring (service {self.service!r})"
        return str(self.path)

    # --- the interface ------------------------------------------------------------------------------

    def set(self, key: str, value: str, group: str | None = None) -> None:
        """Store ``value`` under ``(key, group)``, replacing any value there."""
        group = _norm_group(group)
        _check_name("key", key)
        if group is not None:
            _check_name("group", group)
        if not isinstance(value, str):
            raise TypeError(f"secret value for {_label(key, group)} must be a str, got {type(value).__name__}")
        with self._locked():
            if self.backend == "keyring":
                self._keyring_call("store", key, group, "set_password", value)
                names = self._read_index()
                names.add((key, group))
                self._write_index(names)
            else:
                entries = self._read_file()
                entries[(key, group)] = value
                self._write_file(entries)

    def get(self, key: str, group: str | None = None) -> str | None:
        """The stored value of ``(key, group)``, or None. The environment is not consulted (see ``resolve``)."""
        group = _norm_group(group)
        if self.backend == "keyring":
            value = self._keyring_call("read", key, group, "get_password")
            return value if isinstance(value, str) else None
        return self._read_file().get((key, group))

    def delete(self, key: str, group: str | None = None) -> bool:
        """Remove ``(key, group)``; False when it was not stored."""
        group = _norm_group(group)
        with self._locked():
            if self.backend == "keyring":
                names = self._read_index()
                present = self._keyring_call("read", key, group, "get_password") is not None
                if present:
                    self._keyring_call("delete", key, group, "delete_password")
                if (key, group) in names:
                    names.discard((key, group))
                    self._write_index(names)
                return present
            entries = self._read_file()
            if entries.pop((key, group), None) is None:
                return False
            self._write_file(entries)
            return True

    def list(self) -> list[tuple[str, str | None]]:
        """Every stored ``(key, group)``, sorted; names only."""
        names = self._read_index() if self.backend == "keyring" else set(self._read_file())
        return sorted(names, key=lambda name: (name[1] or "", name[0]))

    def resolve(self, secret: SecretRef) -> str:
        """The value an action receives for ``secret``: stored, else from the environment, else an error.

        The environment fallback reads the secret's ``as_env_var`` and then its derived name
        (``GROUP_KEY``), so a secret mounted as a file (no ``as_env_var``) can come from the
        environment too. An empty variable counts as unset: CI systems set unconfigured secrets to "".
        """
        key, group = secret.key, _norm_group(secret.group)
        value = self.get(key, group)
        if value is not None:
            return value
        environ = os.environ if self._environ is None else self._environ
        names = _env_names(secret)
        for name in names:
            found = environ.get(name)
            if found:
                return found
        variables = " or ".join(names)
        raise SecretNotFoundError(
            f"Secret {_label(key, group)} not found: it is not in the secret store ({self.location}) and the "
            f"environment variable {variables} is not set. Create it with: {create_command(key, group)}",
            key=key,
            group=group,
        )

    # --- the file backend ---------------------------------------------------------------------------

    def _read_file(self) -> dict[tuple[str, str | None], str]:
        data = self._read_private_json(self.path)
        if data is None:
            return {}
        try:
            return {(e["key"], _norm_group(e["group"])): e["value"] for e in data["secrets"]}
        except (KeyError, TypeError):
            pass
        # Raised outside the handler so no exception about the content (which is values) rides along
        # as __context__; the message names the file only.
        raise StoreError(f"secrets file {self.path} is not in roost's format")

    def _write_file(self, entries: dict[tuple[str, str | None], str]) -> None:
        secrets = [{"key": k, "group": g, "value": v} for (k, g), v in sorted(entries.items(), key=_sort_key)]
        self._write_private_json(self.path, {"version": FORMAT_VERSION, "secrets": secrets})

    # --- the keyring backend ------------------------------------------------------------------------

    def _keyring_call(self, doing: str, key: str, group: str | None, method: str, *value: str) -> Any:
        user = f"{group}/{key}" if group else key
        try:
            return getattr(self._keyring, method)(self.service, user, *value)
        except Exception as e:
            failure = type(e).__name__
        # A backend's message (a locked keyring, no D-Bus session) is not ours to vouch for, so only its
        # class is reported, and the error is raised outside the handler so the original is not kept
        # as __context__ either.
        raise StoreError(f"could not {doing} secret {_label(key, group)} in {self.location}: {failure}")

    def _read_index(self) -> set[tuple[str, str | None]]:
        data = self._read_private_json(self.index_path)
        if data is None:
            return set()
        try:
            return {(e["key"], _norm_group(e["group"])) for e in data["secrets"]}
        except (KeyError, TypeError):
            pass
        raise StoreError(f"secret index {self.index_path} is not in roost's format")

    def _write_index(self, names: set[tuple[str, str | None]]) -> None:
        secrets = [{"key": k, "group": g} for k, g in sorted(names, key=lambda n: (n[1] or "", n[0]))]
        self._write_private_json(self.index_path, {"version": FORMAT_VERSION, "secrets": secrets})

    # --- private files ------------------------------------------------------------------------------

    def _ensure_dir(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(self.dir, _DIR_MODE)
        except FileExistsError:
            pass
        if not _POSIX:
            return
        info = os.stat(self.dir)
        if info.st_uid != os.getuid():
            raise StoreError(f"secrets folder {self.dir} belongs to another user; roost will not store secrets there")
        if stat.S_IMODE(info.st_mode) != _DIR_MODE:
            # mkdir's mode is filtered by the umask, and an older folder may be looser: tightening
            # our own folder is always safe, so do it rather than complain.
            os.chmod(self.dir, _DIR_MODE)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write between processes (two `roost secret create` at once)."""
        self._ensure_dir()
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locks; writes stay atomic, only a race remains
            yield
            return
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read_private_json(self, path: Path) -> Any:
        """The JSON in ``path`` (None when absent), refusing a file anyone but the user could read."""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StoreError(f"cannot open {path}: {e.strerror} (a symbolic link is refused)") from None
        with os.fdopen(fd, "rb") as f:
            if _POSIX:
                # Checked on the open descriptor, so the file judged is the file read.
                info = os.fstat(f.fileno())
                if info.st_uid != os.getuid():
                    raise StoreError(f"{path} belongs to another user; roost will not read secrets from it")
                if stat.S_IMODE(info.st_mode) & _NOT_PRIVATE:
                    raise StoreError(
                        f"{path} is readable by other users (mode {stat.S_IMODE(info.st_mode):04o}); roost will "
                        f"not use it. Make it private with: chmod 600 {shlex.quote(str(path))} -- and, if others "
                        "could have read it, replace the secrets it holds"
                    )
            raw = f.read()
        try:
            return json.loads(raw)
        except ValueError:  # UnicodeDecodeError included
            pass
        # Outside the handler: a JSONDecodeError holds the whole document (values) in its .doc.
        raise StoreError(f"{path} is not valid JSON; roost will not overwrite it")

    def _write_private_json(self, path: Path, data: Any) -> None:
        self._ensure_dir()
        # mkstemp creates the file 0600 from its first moment; fchmod pins the mode against an odd umask.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                if _POSIX:
                    os.fchmod(f.fileno(), _FILE_MODE)
                json.dump(data, f, indent=1, sort_keys=True)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.dir)


def _sort_key(item: tuple[tuple[str, str | None], str]) -> tuple[str, str]:
    (key, group), _ = item
    return (group or "", key)


def _env_names(secret: SecretRef) -> list[str]:
    names = [secret.as_env_var] if secret.as_env_var else []
    derived = derived_env_var(secret.key, _norm_group(secret.group))
    if derived not in names:
        names.append(derived)
    return names


def _fsync_dir(path: Path) -> None:
    # Make the rename itself durable; not every platform can open a folder.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _usable_keyring() -> Any:
    """The configured keyring backend, or None without the package or with only a fail/null backend."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    module = type(backend).__module__
    if module.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return None
    # keyring gives placeholder backends a priority of 0 or below; a real one is above.
    try:
        if float(getattr(backend, "priority", 1)) <= 0:
            return None
    except Exception:
        return None
    return backend
