"""Environment (SPEC §2): fields, validation order, name rule, dependencies, registry."""

from __future__ import annotations

import pytest

import roost as flyte
from roost.spec.dependencies import deployment_order
from roost.spec.environment import Environment, list_loaded_environments


@pytest.mark.parametrize("name", ["a", "my-env", "my_env", "a_b-c1", "1abc", "abc123", "a-1-b_2"])
def test_valid_names(name):
    assert Environment(name=name).name == name


@pytest.mark.parametrize("name", ["", "MyEnv", "my env", "a.b", "a__b", "abc-", "-abc", "_a", "a--b", "a_-b", "é"])
def test_invalid_names(name):
    with pytest.raises(ValueError, match="snake_case or kebab-case"):
        Environment(name=name)


def test_name_must_be_str():
    with pytest.raises(ValueError, match="name"):
        Environment(name=3)  # type: ignore[arg-type]


def test_defaults():
    env = Environment(name="d")
    assert env.depends_on == []
    assert env.pod_template is None and env.description is None and env.secrets is None
    assert env.env_vars is None and env.resources is None and env.service_account is None
    assert env.interruptible is False
    assert env.image == "auto"
    assert env.include == ()
    # A fresh list each time, never shared between environments.
    assert Environment(name="d2").depends_on is not env.depends_on


def test_field_order_for_positional_construction():
    dep = Environment(name="dep")
    env = Environment("pos", [dep], "tmpl", "desc", "sec", {"A": "1"}, None, True, "img:1", ("x.py",), "sa")
    assert (env.depends_on, env.pod_template, env.description, env.secrets) == ([dep], "tmpl", "desc", "sec")
    assert (env.env_vars, env.interruptible, env.image, env.include, env.service_account) == (
        {"A": "1"},
        True,
        "img:1",
        ("x.py",),
        "sa",
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"image": 3}, "image"),
        ({"image": ["x"]}, "image"),
        ({"secrets": ("a",)}, "secrets"),
        ({"secrets": {"a": 1}}, "secrets"),
        ({"secrets": [3]}, "secrets"),
        ({"service_account": 3}, "service_account"),
        ({"depends_on": ["x"]}, "depends_on"),
        ({"resources": {"cpu": 1}}, "resources"),
        ({"env_vars": [("A", "1")]}, "env_vars"),
        ({"pod_template": {"containers": []}}, "pod_template"),
        ({"include": "a.py"}, "include"),
        ({"include": ["a.py", 3]}, "include"),
        ({"include": 5}, "include"),
    ],
)
def test_type_checks(kwargs, field):
    with pytest.raises(TypeError, match=field):
        Environment(name="ok", **kwargs)


def test_type_checks_run_before_name_check():
    with pytest.raises(TypeError, match="image"):
        Environment(name="Not Valid", image=3)  # type: ignore[arg-type]


def test_falsy_image_and_secrets_are_accepted():
    assert Environment(name="f", image=None).image is None
    assert Environment(name="f2", secrets=[]).secrets == []


def test_secret_request_forms():
    assert Environment(name="s1", secrets="key").secrets == "key"
    assert Environment(name="s2", secrets=flyte.Secret("k")).secrets == flyte.Secret("k")
    assert len(Environment(name="s3", secrets=["a", flyte.Secret("b")]).secrets) == 2  # type: ignore[arg-type]


def test_description_truncated_not_rejected():
    env = Environment(name="t", description="x" * 300)
    assert len(env.description) == 255
    assert env.description == "x" * 247 + "...(tr.)"
    assert Environment(name="t2", description="y" * 255).description == "y" * 255


def test_include_normalised_to_tuple():
    assert Environment(name="i", include=["a.py", "b/*.py"]).include == ("a.py", "b/*.py")
    assert Environment(name="i2", include=(p for p in ["g.py"])).include == ("g.py",)


def test_unhashable_and_field_equality():
    a, b = Environment(name="same"), Environment(name="same")
    assert a == b
    with pytest.raises(TypeError):
        hash(a)


def test_registry_records_every_environment_in_order():
    before = len(list_loaded_environments())
    a = Environment(name="reg-a")
    b = flyte.TaskEnvironment(name="reg-b")
    c = b.clone_with(name="reg-c")
    loaded = list_loaded_environments()
    assert loaded[before:] == [a, b, c]
    assert loaded[-1] is c


def test_source_file_is_the_declaring_file():
    assert Environment(name="src").source_file == __file__
    assert flyte.TaskEnvironment(name="src2").source_file == __file__


def test_add_dependency():
    db, app = Environment(name="database-env"), Environment(name="application-env")
    app.add_dependency(db)
    assert app.depends_on == [db]
    app.add_dependency(db)  # duplicates are ignored
    assert app.depends_on == [db]


def test_add_dependency_rejects_self_and_non_environments():
    env = Environment(name="me")
    with pytest.raises(ValueError, match="self"):
        env.add_dependency(Environment(name="me"))
    with pytest.raises(TypeError, match="Environment"):
        env.add_dependency("me")  # type: ignore[arg-type]
    assert env.depends_on == []


def test_base_clone_with_is_not_implemented():
    with pytest.raises(NotImplementedError):
        Environment(name="base").clone_with(name="other")


def test_deployment_order_dependencies_first():
    a = Environment(name="a")
    b = Environment(name="b", depends_on=[a])
    c = Environment(name="c", depends_on=[b, a])
    d = Environment(name="d")
    assert [e.name for e in deployment_order(c, d)] == ["a", "b", "c", "d"]
    assert [e.name for e in deployment_order(a)] == ["a"]


def test_deployment_order_names_the_cycle():
    a = Environment(name="cyc-a")
    b = Environment(name="cyc-b", depends_on=[a])
    c = Environment(name="cyc-c", depends_on=[b])
    a.add_dependency(c)
    with pytest.raises(ValueError, match="cyc-a -> cyc-c -> cyc-b -> cyc-a"):
        deployment_order(a)


def test_deployment_order_refuses_two_environments_with_one_name():
    x1 = Environment(name="dup", image="one")
    x2 = Environment(name="dup", image="two")
    with pytest.raises(ValueError, match="Duplicate environment name 'dup'"):
        deployment_order(Environment(name="top", depends_on=[x1, x2]))
