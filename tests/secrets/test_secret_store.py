"""The local secret store (roost.store.secret_store): values, private files, backends, resolution, errors."""

from __future__ import annotations

import json
import os
import pickle
import stat
import sys
import types
from pathlib import Path

import pytest

from roost import errors
from roost.errors import RuntimeUserError, SecretNotFoundError, StoreError
from roost.spec.secrets import Secret
from roost.store.secret_store import SecretStore, derived_env_var

VALUE = "s3cr3t-value-\u00e9"
OTHER = "another-hidden-value"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("ROOST_HOME", str(home))
    return home


@pytest.fixture
def store(home: Path) -> SecretStore:
    return SecretStore(home, backend="file", environ={})


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- values ----------------------------------------------------------------------------------------


def test_set_get_delete_list_with_groups(store: SecretStore) -> None:
    assert store.list() == []
    assert store.get("token") is None
    store.set("token", VALUE)
    store.set("token", OTHER, group="svc")
    store.set("api-key", "third", group="svc")
    assert store.get("token") == VALUE
    assert store.get("token", group="svc") == OTHER
    assert store.get("token", group="nope") is None
    assert store.get("api-key") is None
    assert store.list() == [("token", None), ("api-key", "svc"), ("token", "svc")]

    store.set("token", "replaced")
    assert store.get("token") == "replaced"

    assert store.delete("token", group="svc") is True
    assert store.delete("token", group="svc") is False
    assert store.get("token", group="svc") is None
    assert store.get("token") == "replaced"
    assert store.list() == [("token", None), ("api-key", "svc")]


def test_values_survive_a_new_store_object(home: Path, store: SecretStore) -> None:
    store.set("k", VALUE, group="g")
    again = SecretStore(backend="file")  # ROOST_HOME from the environment
    assert again.path == store.path
    assert again.get("k", "g") == VALUE


def test_an_empty_group_is_no_group(store: SecretStore) -> None:
    store.set("k", VALUE, group="")
    assert store.get("k") == VALUE
    assert store.list() == [("k", None)]


def test_multiline_and_unicode_values_round_trip(store: SecretStore) -> None:
    value = "-----BEGIN KEY-----\nabc\u00e9\n-----END KEY-----\n"
    store.set("pem", value)
    assert store.get("pem") == value


@pytest.mark.parametrize("key", ["", "a/b", "..", ".", "a\nb", "a\0b"])
def test_unusable_names_are_refused(store: SecretStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.set(key, VALUE)
    with pytest.raises(ValueError):
        store.set("ok", VALUE, group=key or "x/y")
    assert not store.path.exists()


def test_a_value_must_be_a_string(store: SecretStore) -> None:
    with pytest.raises(TypeError) as info:
        store.set("k", b"bytes")  # type: ignore[arg-type]
    assert "bytes" not in str(info.value).replace("got bytes", "")


# --- private files ---------------------------------------------------------------------------------


def test_file_is_0600_in_a_0700_folder_whatever_the_umask(store: SecretStore) -> None:
    old = os.umask(0)
    try:
        store.set("k", VALUE)
    finally:
        os.umask(old)
    assert store.path == store.home / "secrets" / "secrets.json"
    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700
    assert os.stat(store.path).st_uid == os.getuid()
    assert [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_the_file_format(store: SecretStore) -> None:
    store.set("b", "2", group="g")
    store.set("a", "1")
    data = json.loads(store.path.read_text())
    assert data == {
        "version": 1,
        "secrets": [{"key": "a", "group": None, "value": "1"}, {"key": "b", "group": "g", "value": "2"}],
    }


def test_written_atomically_and_never_readable_by_others(store: SecretStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new content is complete and private in its temp file before it takes the file's name."""
    store.set("first", OTHER)
    seen: list[tuple[int, str]] = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        seen.append((mode(Path(src)), Path(src).read_text()))
        # At this instant the old file is still whole.
        assert json.loads(Path(dst).read_text())["secrets"][0]["value"] == OTHER
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    old = os.umask(0)
    try:
        store.set("second", VALUE)
    finally:
        os.umask(old)
    assert len(seen) == 1
    tmp_mode, content = seen[0]
    assert tmp_mode == 0o600
    assert {e["value"] for e in json.loads(content)["secrets"]} == {OTHER, VALUE}


def test_a_loose_existing_folder_is_tightened(home: Path, store: SecretStore) -> None:
    (home / "secrets").mkdir(parents=True, mode=0o755)
    os.chmod(home / "secrets", 0o755)
    store.set("k", VALUE)
    assert mode(home / "secrets") == 0o700


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660])
def test_a_secrets_file_others_can_read_is_refused(store: SecretStore, loose: int) -> None:
    store.set("k", VALUE, group="g")
    os.chmod(store.path, loose)
    for attempt in (
        lambda: store.get("k", "g"),
        lambda: store.list(),
        lambda: store.set("k2", OTHER),
        lambda: store.delete("k", "g"),
        lambda: store.resolve(Secret("k", group="g")),
    ):
        with pytest.raises(StoreError) as info:
            attempt()
        message = str(info.value)
        assert "chmod 600" in message
        assert str(store.path) in message
        assert VALUE not in message and OTHER not in message
    # Refused, not repaired behind the user's back, and not rewritten.
    assert mode(store.path) == loose
    os.chmod(store.path, 0o600)
    assert store.list() == [("k", "g")]


def test_a_symlinked_secrets_file_is_refused(store: SecretStore, tmp_path: Path) -> None:
    store.set("k", VALUE)
    elsewhere = tmp_path / "elsewhere.json"
    os.replace(store.path, elsewhere)
    store.path.symlink_to(elsewhere)
    with pytest.raises(StoreError):
        store.get("k")


def test_a_corrupt_file_is_reported_without_its_content(store: SecretStore) -> None:
    store.set("k", VALUE)
    store.path.write_text('{"secrets": [' + json.dumps(VALUE))
    with pytest.raises(StoreError) as info:
        store.get("k")
    assert "not valid JSON" in str(info.value)
    assert VALUE not in str(info.value)
    assert info.value.__context__ is None  # a JSONDecodeError would carry the document
    with pytest.raises(StoreError):
        store.set("k2", OTHER)  # never overwritten: the user may want to recover it


def test_repr_names_the_location_only(store: SecretStore) -> None:
    store.set("k", VALUE)
    assert VALUE not in repr(store)
    assert str(store.path) in repr(store)


# --- resolve: store, then environment, then an error ----------------------------------------------------


def test_resolve_prefers_the_store(home: Path) -> None:
    store = SecretStore(home, backend="file", environ={"MY_KEY": "from-env"})
    store.set("my-key", VALUE)
    assert store.resolve(Secret("my-key")) == VALUE


def test_resolve_falls_back_to_the_derived_env_var(home: Path) -> None:
    environ = {"EXT_SVC_MY_KEY": "grouped", "MY_KEY": "plain"}
    store = SecretStore(home, backend="file", environ=environ)
    assert store.resolve(Secret("my-key", group="ext-svc")) == "grouped"
    assert store.resolve(Secret("my-key")) == "plain"
    assert not store.path.exists()  # resolving never creates the store


def test_resolve_uses_os_environ_by_default(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "from-process-env")
    assert SecretStore(home, backend="file").resolve(Secret("api-token")) == "from-process-env"


def test_resolve_reads_an_explicit_as_env_var_then_the_derived_name(home: Path) -> None:
    secret = Secret("token", group="svc", as_env_var="CUSTOM_NAME")
    assert SecretStore(home, backend="file", environ={"CUSTOM_NAME": "a"}).resolve(secret) == "a"
    assert SecretStore(home, backend="file", environ={"SVC_TOKEN": "b"}).resolve(secret) == "b"


def test_resolve_a_mounted_secret_from_its_derived_name(home: Path) -> None:
    secret = Secret("db-pass", group="pg", mount=Path("/etc/flyte/secrets"))
    assert secret.as_env_var is None
    assert SecretStore(home, backend="file", environ={"PG_DB_PASS": "m"}).resolve(secret) == "m"


def test_an_empty_env_var_counts_as_unset(home: Path) -> None:
    with pytest.raises(SecretNotFoundError):
        SecretStore(home, backend="file", environ={"TOKEN": ""}).resolve(Secret("token"))


def test_resolve_takes_any_object_with_key_group_as_env_var(home: Path) -> None:
    ref = types.SimpleNamespace(key="k", group="g", as_env_var=None)
    assert SecretStore(home, backend="file", environ={"G_K": "duck"}).resolve(ref) == "duck"


def test_derived_env_var_matches_the_spec() -> None:
    assert derived_env_var("my-api-key", None) == "MY_API_KEY"
    assert derived_env_var("my-key", "ext-svc") == "EXT_SVC_MY_KEY"
    assert derived_env_var("my-key", "ext-svc") == Secret("my-key", group="ext-svc").as_env_var


def test_a_missing_secret_names_key_and_group_and_no_value(home: Path) -> None:
    store = SecretStore(home, backend="file", environ={"UNRELATED": "env-value-xyz", "OTHER_KEY": OTHER})
    store.set("present", VALUE, group="ext-svc")
    store.set("missing-key", OTHER, group="another-group")  # same key, other group: must not leak
    with pytest.raises(SecretNotFoundError) as info:
        store.resolve(Secret("missing-key", group="ext-svc"))
    err = info.value
    message = str(err)
    assert "missing-key" in message and "ext-svc" in message
    assert "EXT_SVC_MISSING_KEY" in message
    assert "roost secret create missing-key --group ext-svc" in message
    for value in (VALUE, OTHER, "env-value-xyz"):
        assert value not in message
        assert value not in repr(err)
    assert isinstance(err, RuntimeUserError)
    assert (err.code, err.kind, err.key, err.group) == ("SecretNotFound", "user", "missing-key", "ext-svc")
    assert errors.SecretNotFoundError is SecretNotFoundError


def test_a_missing_secret_without_group(home: Path) -> None:
    with pytest.raises(SecretNotFoundError) as info:
        SecretStore(home, backend="file", environ={}).resolve(Secret("plain-key"))
    message = str(info.value)
    assert "plain-key" in message and "no group" in message
    assert "roost secret create plain-key." in message or message.endswith("roost secret create plain-key")
    assert "--group" not in message


def test_the_not_found_error_survives_pickling(home: Path) -> None:
    with pytest.raises(SecretNotFoundError) as info:
        SecretStore(home, backend="file", environ={}).resolve(Secret("k", group="g"))
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is SecretNotFoundError
    assert (again.code, again.key, again.group, str(again)) == ("SecretNotFound", "k", "g", str(info.value))


# --- backends ------------------------------------------------------------------------------------------


class FakeBackend:
    """An in-memory keyring backend with the methods roost calls."""

    priority = 5

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, user: str, value: str) -> None:
        self.values[(service, user)] = value

    def get_password(self, service: str, user: str) -> str | None:
        return self.values.get((service, user))

    def delete_password(self, service: str, user: str) -> None:
        if (service, user) not in self.values:
            raise RuntimeError("not found")
        del self.values[(service, user)]


def fake_keyring(monkeypatch: pytest.MonkeyPatch, backend: object) -> None:
    module = types.ModuleType("keyring")
    module.get_keyring = lambda: backend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", module)


def placeholder(module_name: str, priority: float) -> object:
    cls = type("Keyring", (), {"priority": priority, "__module__": module_name})
    return cls()


def test_auto_without_the_keyring_package_uses_the_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
    assert SecretStore(home).backend == "file"


@pytest.mark.parametrize(
    "backend",
    [placeholder("keyring.backends.fail", 0), placeholder("keyring.backends.null", -1), placeholder("x.y", 0)],
)
def test_auto_with_only_a_placeholder_keyring_uses_the_file(
    home: Path, monkeypatch: pytest.MonkeyPatch, backend: object
) -> None:
    fake_keyring(monkeypatch, backend)
    assert SecretStore(home).backend == "file"
    with pytest.raises(StoreError) as info:
        SecretStore(home, backend="keyring")
    assert "keyring" in str(info.value)


def test_auto_with_a_usable_keyring_uses_it(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_keyring(monkeypatch, FakeBackend())
    assert SecretStore(home).backend == "keyring"
    assert SecretStore(home, backend="file").backend == "file"


def test_auto_keeps_an_existing_secrets_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    SecretStore(home, backend="file").set("k", VALUE)
    fake_keyring(monkeypatch, FakeBackend())
    store = SecretStore(home)
    assert store.backend == "file"
    assert store.get("k") == VALUE


def test_an_unknown_backend_is_refused(home: Path) -> None:
    with pytest.raises(ValueError):
        SecretStore(home, backend="vault")  # type: ignore[arg-type]


def test_the_keyring_backend_keeps_values_in_the_keyring_and_names_in_an_index(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FakeBackend()
    fake_keyring(monkeypatch, backend)
    store = SecretStore(home, backend="keyring", environ={})
    store.set("token", VALUE, group="svc")
    store.set("token", OTHER)
    assert store.get("token", "svc") == VALUE
    assert store.get("token") == OTHER
    assert store.list() == [("token", None), ("token", "svc")]
    assert backend.values == {(store.service, "svc/token"): VALUE, (store.service, "token"): OTHER}
    assert str(home) in store.service

    index = home / "secrets" / "keyring-index.json"
    assert mode(index) == 0o600 and mode(index.parent) == 0o700
    assert VALUE not in index.read_text() and OTHER not in index.read_text()
    assert not (home / "secrets" / "secrets.json").exists()

    assert store.resolve(Secret("token", group="svc")) == VALUE
    assert store.delete("token", "svc") is True
    assert store.delete("token", "svc") is False
    assert store.list() == [("token", None)]
    with pytest.raises(SecretNotFoundError):
        store.resolve(Secret("token", group="svc"))


def test_a_failing_keyring_is_reported_without_the_value(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Locked(FakeBackend):
        def set_password(self, service: str, user: str, value: str) -> None:
            raise RuntimeError(f"locked while storing {value}")

    fake_keyring(monkeypatch, Locked())
    store = SecretStore(home, backend="keyring")
    with pytest.raises(StoreError) as info:
        store.set("k", VALUE)
    assert VALUE not in str(info.value)
    # Nothing holding the backend's message (which had the value) is kept on the error.
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert store.list() == []
