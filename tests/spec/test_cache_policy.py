"""Cache, CachePolicy, FunctionBodyPolicy (SPEC §8, checklist §29.3 and §29.12; not the §8.1 key)."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import roost as flyte
from roost.spec.cache import (
    Cache,
    CachePolicy,
    FunctionBodyPolicy,
    VersionParameters,
    normalize_behavior,
    normalize_cache,
)

# --- Cache: defaults and normalisation ---------------------------------------------------------


def test_exported_at_top_level() -> None:
    assert flyte.Cache is Cache
    assert flyte.CachePolicy is CachePolicy
    assert flyte.FunctionBodyPolicy is FunctionBodyPolicy


def test_defaults() -> None:
    c = Cache("auto")
    assert c.behavior == "auto"
    assert c.version_override is None
    assert c.serialize is False
    assert c.ignored_inputs == ()
    assert c.salt == ""
    assert c.policies == [FunctionBodyPolicy()]
    assert c.max_age is None


def test_positional_order_matches_spec() -> None:
    policy = FunctionBodyPolicy()
    c = Cache("override", "v1", True, ("a",), "pepper", [policy], 60)
    assert (c.behavior, c.version_override, c.serialize, c.ignored_inputs, c.salt) == (
        "override",
        "v1",
        True,
        ("a",),
        "pepper",
    )
    assert c.policies == [policy]
    assert c.max_age == timedelta(seconds=60)


@pytest.mark.parametrize("behavior", ["auto", "override", "disable"])
def test_canonical_behaviors_accepted(behavior: str) -> None:
    assert Cache(behavior, version_override="v").behavior == behavior  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("enable", "auto"),
        ("enabled", "auto"),
        ("on", "auto"),
        ("true", "auto"),
        ("yes", "auto"),
        ("off", "disable"),
        ("false", "disable"),
        ("no", "disable"),
        ("none", "disable"),
        # case-insensitive
        ("ENABLE", "auto"),
        ("Enabled", "auto"),
        ("On", "auto"),
        ("TRUE", "auto"),
        ("YeS", "auto"),
        ("OFF", "disable"),
        ("False", "disable"),
        ("NO", "disable"),
        ("None", "disable"),
    ],
)
def test_behavior_aliases(alias: str, canonical: str) -> None:
    assert Cache(alias).behavior == canonical  # type: ignore[arg-type]
    assert normalize_behavior(alias) == canonical


def test_seed_000_enable_example() -> None:
    # Seed 000 writes cache="enable"; it is the alias of "auto" once the Cache object is built.
    assert normalize_cache("enable") == Cache("auto")


@pytest.mark.parametrize("behavior", ["sometimes", "", "autoo", None, True, 1])
def test_invalid_behavior_lists_valid_values_and_aliases(behavior: object) -> None:
    with pytest.raises(ValueError, match="cache behavior") as info:
        Cache(behavior)  # type: ignore[arg-type]
    message = str(info.value)
    for word in ("auto", "override", "disable", "enable", "off"):
        assert word in message


def test_bare_str_ignored_inputs_becomes_one_tuple() -> None:
    c = Cache("auto", ignored_inputs="seed")
    assert c.ignored_inputs == ("seed",)
    assert c.get_ignored_inputs() == ("seed",)


def test_ignored_inputs_sequence_becomes_tuple() -> None:
    assert Cache("auto", ignored_inputs=["a", "b"]).get_ignored_inputs() == ("a", "b")  # type: ignore[arg-type]
    assert Cache("auto", ignored_inputs=("a",)).get_ignored_inputs() == ("a",)


def test_single_policy_becomes_list() -> None:
    policy = FunctionBodyPolicy()
    assert Cache("auto", policies=policy).policies == [policy]


def test_empty_policies_rejected_when_a_version_must_be_computed() -> None:
    with pytest.raises(ValueError, match="polic"):
        Cache("auto", policies=[])


def test_empty_policies_allowed_with_version_override_or_disabled() -> None:
    assert Cache("override", version_override="v1", policies=[]).get_version() == "v1"
    assert Cache("auto", version_override="v1", policies=[]).get_version() == "v1"
    assert Cache("disable", policies=[]).get_version() == ""


@pytest.mark.parametrize(
    ("max_age", "expected"),
    [(None, None), (0, timedelta(0)), (3600, timedelta(hours=1)), (timedelta(days=2), timedelta(days=2))],
)
def test_max_age_accepted(max_age: object, expected: object) -> None:
    assert Cache("auto", max_age=max_age).max_age == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("max_age", [True, False, 1.5, "60", [60]])
def test_max_age_wrong_type_is_type_error(max_age: object) -> None:
    with pytest.raises(TypeError, match="max_age"):
        Cache("auto", max_age=max_age)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_age", [-1, timedelta(seconds=-1)])
def test_max_age_negative_is_value_error(max_age: object) -> None:
    with pytest.raises(ValueError, match="max_age must be nonnegative"):
        Cache("auto", max_age=max_age)  # type: ignore[arg-type]


def test_max_age_checked_before_behavior() -> None:
    with pytest.raises(TypeError, match="max_age"):
        Cache("bogus", max_age="x")  # type: ignore[arg-type]


@pytest.mark.parametrize(("behavior", "enabled"), [("auto", True), ("override", True), ("disable", False)])
def test_is_enabled(behavior: str, enabled: bool) -> None:
    assert Cache(behavior, version_override="v").is_enabled() is enabled  # type: ignore[arg-type]


def test_normalize_cache() -> None:
    c = Cache("auto", salt="s")
    assert normalize_cache(c) is c
    assert normalize_cache(None) == Cache("disable")
    assert normalize_cache("on").behavior == "auto"
    with pytest.raises(ValueError, match="cache behavior"):
        normalize_cache("sometimes")


# --- get_version -------------------------------------------------------------------------------


def plain(x: int) -> int:
    return x + 1


def other(x: int) -> int:
    return x + 2


class ConstantPolicy:
    def __init__(self, value: str) -> None:
        self.value = value

    def get_version(self, salt: str, params: VersionParameters) -> str:
        return self.value + salt


class FailingPolicy:
    def get_version(self, salt: str, params: VersionParameters) -> str:
        raise RuntimeError("no source")


def test_get_version_disabled_is_empty() -> None:
    assert Cache("disable").get_version(VersionParameters(func=plain)) == ""
    assert Cache("disable", version_override="v1").get_version() == ""


def test_get_version_override_ignores_salt_and_policies() -> None:
    c = Cache("override", version_override="v7", salt="salty", policies=[FailingPolicy()])
    assert c.get_version() == "v7"
    assert c.get_version(VersionParameters(func=plain)) == "v7"


def test_get_version_needs_params() -> None:
    with pytest.raises(ValueError, match="version parameters"):
        Cache("auto").get_version()


def test_get_version_is_sha256_of_concatenated_policy_versions() -> None:
    c = Cache("auto", salt="s", policies=[ConstantPolicy("a"), ConstantPolicy("b")])
    assert c.get_version(VersionParameters(func=plain)) == hashlib.sha256(b"asbs").hexdigest()


def test_get_version_default_policy_is_function_body() -> None:
    params = VersionParameters(func=plain)
    expected = hashlib.sha256(FunctionBodyPolicy().get_version("", params).encode()).hexdigest()
    assert Cache("auto").get_version(params) == expected
    assert Cache("auto").get_version(params) != Cache("auto").get_version(VersionParameters(func=other))


def test_get_version_salt_reaches_policies() -> None:
    params = VersionParameters(func=plain)
    assert Cache("auto", salt="a").get_version(params) != Cache("auto", salt="b").get_version(params)


def test_get_version_ignores_image_with_default_policy() -> None:
    assert Cache("auto").get_version(VersionParameters(func=plain, image="a:1")) == Cache("auto").get_version(
        VersionParameters(func=plain, image="b:2")
    )


def test_failing_policy_is_value_error() -> None:
    with pytest.raises(ValueError, match="FailingPolicy"):
        Cache("auto", policies=[FailingPolicy()]).get_version(VersionParameters(func=plain))


def test_function_body_policy_without_function_is_value_error() -> None:
    with pytest.raises(ValueError, match="function"):
        FunctionBodyPolicy().get_version("", VersionParameters())


def test_cache_policy_is_a_runtime_checkable_protocol() -> None:
    assert isinstance(FunctionBodyPolicy(), CachePolicy)
    assert isinstance(ConstantPolicy("x"), CachePolicy)
    assert not isinstance(object(), CachePolicy)


def test_function_body_policy_equality() -> None:
    assert FunctionBodyPolicy() == FunctionBodyPolicy()
    assert hash(FunctionBodyPolicy()) == hash(FunctionBodyPolicy())


def test_version_is_sha256_hex() -> None:
    v = FunctionBodyPolicy().get_version("", VersionParameters(func=plain))
    assert len(v) == 64
    int(v, 16)


# --- FunctionBodyPolicy on real source files -----------------------------------------------------

BASE = '''
import functools


def deco(level):
    def wrap(fn):
        return fn
    return wrap


@deco(1)
def f(x: int) -> int:
    """Add one."""
    y = x + 1
    return y
'''

SAME_VERSION = {
    "comment added": BASE.replace("    y = x + 1\n", "    # bump it\n    y = x + 1  # inline\n"),
    "blank lines": BASE.replace("    y = x + 1\n", "\n\n    y = x + 1\n\n"),
    "code elsewhere in module": BASE + "\n\ndef g():\n    return 42\n",
    "whitespace inside expressions": BASE.replace("y = x + 1", "y = x+1").replace("deco(1)", "deco( 1 )"),
}

NEW_VERSION = {
    "docstring": BASE.replace("Add one.", "Add one to x."),
    "code": BASE.replace("x + 1", "x + 2"),
    # The module still exposes the function as ``f`` so that version_of() finds it.
    "function name": BASE.replace("def f(", "def f2(") + "\nf = f2\n",
    "decorator argument": BASE.replace("@deco(1)", "@deco(2)"),
    "annotation": BASE.replace("(x: int)", "(x: float)"),
}

_counter = itertools.count()


def load(tmp_path: Path, source: str) -> ModuleType:
    """Import ``source`` from a fresh .py file under a module name never used before."""
    name = f"roost_fbp_variant_{next(_counter)}"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def version_of(module: ModuleType, salt: str = "") -> str:
    return FunctionBodyPolicy().get_version(salt, VersionParameters(func=module.f))


@pytest.fixture
def base_version(tmp_path: Path) -> str:
    return version_of(load(tmp_path, BASE))


def test_same_source_same_version(tmp_path: Path, base_version: str) -> None:
    assert version_of(load(tmp_path, BASE)) == base_version


@pytest.mark.parametrize("change", sorted(SAME_VERSION))
def test_edit_keeps_version(tmp_path: Path, base_version: str, change: str) -> None:
    assert version_of(load(tmp_path, SAME_VERSION[change])) == base_version


@pytest.mark.parametrize("change", sorted(NEW_VERSION))
def test_edit_changes_version(tmp_path: Path, base_version: str, change: str) -> None:
    module = load(tmp_path, NEW_VERSION[change])
    assert version_of(module) != base_version


def test_function_name_variant_really_renamed(tmp_path: Path) -> None:
    # Guards the "function name" variant above: the function under test must be named f2.
    assert load(tmp_path, NEW_VERSION["function name"]).f.__name__ == "f2"


def test_indented_method_is_dedented(tmp_path: Path) -> None:
    source = (
        BASE + '\n\nclass Holder:\n    @staticmethod\n    def f(x):\n        """Add one."""\n        return x + 1\n'
    )
    module = load(tmp_path, source)
    v = FunctionBodyPolicy().get_version("", VersionParameters(func=module.Holder.f))
    assert len(v) == 64


def test_salt_changes_version(tmp_path: Path, base_version: str) -> None:
    module = load(tmp_path, BASE)
    assert version_of(module, salt="pepper") != base_version
    assert version_of(module, salt="pepper") == version_of(module, salt="pepper")
    assert version_of(module, salt="pepper") != version_of(module, salt="salt")


def test_image_not_part_of_version(tmp_path: Path) -> None:
    module = load(tmp_path, BASE)
    a = FunctionBodyPolicy().get_version("", VersionParameters(func=module.f, image="img:1"))
    b = FunctionBodyPolicy().get_version("", VersionParameters(func=module.f, image="img:2"))
    assert a == b


def test_cache_version_follows_source_edits(tmp_path: Path) -> None:
    def cache_version(module: Any) -> str:
        return Cache("auto").get_version(VersionParameters(func=module.f))

    base = cache_version(load(tmp_path, BASE))
    assert cache_version(load(tmp_path, SAME_VERSION["comment added"])) == base
    assert cache_version(load(tmp_path, NEW_VERSION["code"])) != base


def test_source_unavailable_fails_as_value_error_in_cache() -> None:
    namespace: dict[str, Any] = {}
    exec("def f():\n    return 1\n", namespace)
    with pytest.raises(ValueError, match="version"):
        Cache("auto").get_version(VersionParameters(func=namespace["f"]))
