"""Secret, SecretRequest and normalize_secrets (SPEC §11, §27, checklist §29.9)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import roost as flyte
from roost.spec.secrets import Secret, SecretRequest, normalize_secrets


def test_exported_at_top_level() -> None:
    assert flyte.Secret is Secret
    assert flyte.SecretRequest is SecretRequest


def test_positional_order() -> None:
    s = Secret("k", "g", None, "ENV_NAME")
    assert (s.key, s.group, s.mount, s.as_env_var) == ("k", "g", None, "ENV_NAME")


@pytest.mark.parametrize(
    ("kwargs", "env_var"),
    [
        ({"key": "my-api-key"}, "MY_API_KEY"),
        ({"key": "my-key", "group": "ext-svc"}, "EXT_SVC_MY_KEY"),
        ({"key": "token"}, "TOKEN"),
        ({"key": "GITHUB_PAT"}, "GITHUB_PAT"),
        ({"key": "k2", "group": "grp"}, "GRP_K2"),
        ({"key": "_x"}, "_X"),
    ],
)
def test_env_var_derived_from_group_and_key(kwargs: dict[str, str], env_var: str) -> None:
    assert Secret(**kwargs).as_env_var == env_var  # type: ignore[arg-type]


def test_empty_group_is_no_group() -> None:
    assert Secret("my-key", group="").as_env_var == "MY_KEY"


def test_explicit_env_var_kept() -> None:
    # Seed 004 examples.
    s = Secret(key="my-api-key", group="external-services", as_env_var="EXTERNAL_API_KEY")
    assert s.as_env_var == "EXTERNAL_API_KEY"
    assert Secret(key="GITHUB_PAT", as_env_var="GITHUB_PAT_ENV").as_env_var == "GITHUB_PAT_ENV"


@pytest.mark.parametrize("key", ["a.b", "db.password", "1token", "has space", "ümlaut"])
def test_key_that_cannot_be_an_env_var_needs_as_env_var(key: str) -> None:
    with pytest.raises(ValueError, match="as_env_var"):
        Secret(key)
    assert Secret(key, as_env_var="FIXED").as_env_var == "FIXED"


def test_group_that_cannot_be_an_env_var_needs_as_env_var() -> None:
    with pytest.raises(ValueError, match="as_env_var"):
        Secret("k", group="my.group")


@pytest.mark.parametrize("name", ["lower", "Mixed_Case", "1ABC", "A-B", "A.B", ""])
def test_invalid_explicit_env_var_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="as_env_var"):
        Secret("k", as_env_var=name)


@pytest.mark.parametrize("mount", ["/etc/flyte/secrets", Path("/etc/flyte/secrets"), "/etc/flyte/secrets/"])
def test_mount_only_etc_flyte_secrets(mount: object) -> None:
    s = Secret("k", mount=mount)  # type: ignore[arg-type]
    assert s.mount == Path("/etc/flyte/secrets")
    assert s.mount_path == Path("/etc/flyte/secrets/k")


@pytest.mark.parametrize("mount", ["/tmp/secrets", Path("/etc/secrets"), "etc/flyte/secrets", "/"])
def test_other_mounts_rejected(mount: object) -> None:
    with pytest.raises(ValueError, match="mount") as info:
        Secret("k", mount=mount)  # type: ignore[arg-type]
    assert "/etc/flyte/secrets" in str(info.value)


def test_mount_without_env_var_sets_no_env_var() -> None:
    s = Secret("my-key", mount=Path("/etc/flyte/secrets"))
    assert s.as_env_var is None


def test_mount_with_env_var_keeps_both() -> None:
    s = Secret("my-key", mount="/etc/flyte/secrets", as_env_var="MY_KEY")  # type: ignore[arg-type]
    assert s.as_env_var == "MY_KEY"
    assert s.mount == Path("/etc/flyte/secrets")


def test_mount_with_dotted_key_needs_no_env_var() -> None:
    assert Secret("a.b", mount=Path("/etc/flyte/secrets")).as_env_var is None


def test_no_mount_path_without_mount() -> None:
    assert Secret("k").mount_path is None


@pytest.mark.parametrize("key", ["", None, 3])
def test_key_must_be_nonempty_str(key: object) -> None:
    with pytest.raises(TypeError, match="key"):
        Secret(key)  # type: ignore[arg-type]


def test_group_must_be_str() -> None:
    with pytest.raises(TypeError, match="group"):
        Secret("k", group=3)  # type: ignore[arg-type]


def test_stable_hash_spec_formula() -> None:
    s = Secret("my-key", group="ext-svc")
    assert s.stable_hash() == hashlib.sha256(b"my-key|ext-svc||EXT_SVC_MY_KEY").hexdigest()
    m = Secret("k", mount=Path("/etc/flyte/secrets"))
    assert m.stable_hash() == hashlib.sha256(b"k||/etc/flyte/secrets|").hexdigest()


def test_hash_is_first_16_hex_digits() -> None:
    s = Secret("my-api-key")
    assert s.__hash__() == int(s.stable_hash()[:16], 16)
    # Python folds an out-of-range __hash__ result through hash() of that int.
    assert hash(s) == hash(int(s.stable_hash()[:16], 16))
    assert hash(s) == hash(Secret("my-api-key"))
    assert len({Secret("a"), Secret("a"), Secret("b")}) == 2


def test_equality() -> None:
    assert Secret("a", group="g") == Secret("a", group="g")
    assert Secret("a") != Secret("a", as_env_var="OTHER")


# --- SecretRequest: a type alias in the SDK, also callable as in seed 000 -------------------------


def test_secret_request_seed_000_form() -> None:
    s = SecretRequest(key="my-api-key")
    assert isinstance(s, Secret)
    assert s.key == "my-api-key"
    assert s.as_env_var == "MY_API_KEY"


def test_secret_request_equals_the_same_secret() -> None:
    # It names the same secret, so an environment's SecretRequest and a task's Secret are not repeated.
    assert SecretRequest(key="my-api-key") == Secret(key="my-api-key")
    assert Secret(key="my-api-key") == SecretRequest(key="my-api-key")
    assert hash(SecretRequest(key="my-api-key")) == hash(Secret(key="my-api-key"))
    assert SecretRequest(key="a") != Secret(key="b")


def test_normalize_secrets() -> None:
    assert normalize_secrets(None) == ()
    assert normalize_secrets([]) == ()
    assert normalize_secrets("") == ()
    assert normalize_secrets("my-key") == (Secret(key="my-key"),)
    s = Secret("k", group="g")
    assert normalize_secrets(s) == (s,)
    assert normalize_secrets(["a", s, SecretRequest(key="b")]) == (Secret("a"), s, Secret("b"))


def test_normalize_secrets_rejects_other_entries() -> None:
    with pytest.raises(TypeError, match="secrets"):
        normalize_secrets([3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="secrets"):
        normalize_secrets({"key": "a"})  # type: ignore[arg-type]


def test_normalize_secrets_string_with_dot_needs_as_env_var() -> None:
    with pytest.raises(ValueError, match="as_env_var"):
        normalize_secrets("db.password")
