"""AppEnvironment and its value types (SPEC §23)."""

from __future__ import annotations

import dataclasses
import json
import shlex
from datetime import timedelta

import pytest

from roost.spec.app_environment import AppEnvironment
from roost.spec.app_types import (
    RESERVED_PORTS,
    AppEndpoint,
    ArtifactValue,
    Domain,
    Link,
    Parameter,
    Port,
    RunOutput,
    Scaling,
    Subdomain,
    Timeouts,
    serialize_parameters,
)
from roost.spec.environment import Environment, list_loaded_environments

SPEC_RESERVED = [8012, 8022, 8112, 9090, 9091]


# -- defaults ---------------------------------------------------------------------------------


def test_defaults():
    app = AppEnvironment(name="my-app")
    assert app.type is None
    assert app.port == Port(8080)
    assert app.args is None
    assert app.command is None
    assert app.requires_auth is True
    assert app.scaling == Scaling()
    assert app.scaling.get_replicas() == (0, 1)
    assert app.domain == Domain()
    assert app.links == []
    assert app.parameters == []
    assert app.cluster_pool == "default"
    assert app.cluster is None
    assert app.timeouts == Timeouts()
    assert app.timeouts.request is None
    # Base fields keep their defaults.
    assert app.image == "auto"
    assert app.depends_on == []
    assert app.interruptible is False


def test_mutable_defaults_are_fresh():
    a, b = AppEnvironment(name="a1"), AppEnvironment(name="b1")
    assert a.links is not b.links
    assert a.parameters is not b.parameters
    assert a.scaling is not b.scaling


def test_is_an_environment_registered_and_unhashable():
    app = AppEnvironment(name="registered-app")
    assert isinstance(app, Environment)
    assert list_loaded_environments()[-1] is app
    with pytest.raises(TypeError):
        hash(app)


def test_seed_001_facts():
    app = AppEnvironment(name="seed-app")
    assert app.get_port().port == 8080
    assert app.requires_auth is True
    for port in (8012, 9090):
        with pytest.raises(ValueError, match="port"):
            AppEnvironment(name="seed-app", port=port)


def test_reserved_ports_are_the_spec_ones():
    assert set(RESERVED_PORTS) == set(SPEC_RESERVED)


# -- validation: names ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "my-app", "app2", "1app", "a-b-c"])
def test_valid_names(name):
    assert AppEnvironment(name=name).name == name


@pytest.mark.parametrize("name", ["my_app", "a_b-c", "a.b"])
def test_app_name_stricter_than_base(name):
    with pytest.raises(ValueError, match="name"):
        AppEnvironment(name=name)


def test_underscore_name_is_fine_for_the_base_class():
    assert Environment(name="my_env").name == "my_env"


@pytest.mark.parametrize("name", ["", "MyApp", "my app", "abc-", "-abc", "a--b"])
def test_names_refused_by_base_rule(name):
    with pytest.raises(ValueError, match="name"):
        AppEnvironment(name=name)


def test_invalid_app_is_not_registered():
    before = len(list_loaded_environments())
    with pytest.raises(ValueError):
        AppEnvironment(name="bad_name")
    with pytest.raises(ValueError):
        AppEnvironment(name="ok", port=9090)
    assert len(list_loaded_environments()) == before


# -- validation: order ------------------------------------------------------------------------


def test_base_checks_run_first():
    # A base type error wins over both an app type error and a bad app name.
    with pytest.raises(TypeError, match="image"):
        AppEnvironment(name="bad_name", image=123, args=5)  # type: ignore[arg-type]


def test_app_type_checks_run_before_the_app_name_check():
    with pytest.raises(TypeError, match="args"):
        AppEnvironment(name="bad_name", args=5)  # type: ignore[arg-type]


def test_base_description_truncation_applies():
    app = AppEnvironment(name="desc", description="x" * 300)
    assert len(app.description) == 255
    assert app.description.endswith("...(tr.)")


# -- validation: fields -----------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--a", "1"], "--a 1", None])
def test_args_accepts_list_str_none(args):
    assert AppEnvironment(name="args", args=args).args == args


@pytest.mark.parametrize("args", [5, ("--a",), {"a": 1}])
def test_args_type(args):
    with pytest.raises(TypeError, match="args"):
        AppEnvironment(name="args", args=args)


@pytest.mark.parametrize("command", [5, ("fserve",)])
def test_command_type(command):
    with pytest.raises(TypeError, match="command"):
        AppEnvironment(name="cmd", command=command)


def test_int_port_becomes_port():
    app = AppEnvironment(name="p", port=9000)
    assert app.port == Port(9000)
    assert isinstance(app.port, Port)


def test_port_object_kept():
    port = Port(8000, name="h2c")
    assert AppEnvironment(name="p", port=port).port is port


@pytest.mark.parametrize("port", SPEC_RESERVED)
def test_reserved_ports_refused(port):
    with pytest.raises(ValueError, match="port"):
        AppEnvironment(name="p", port=port)
    with pytest.raises(ValueError, match="port"):
        Port(port)


def test_reserved_port_smuggled_into_a_port_object_refused():
    port = Port(8000)
    object.__setattr__(port, "port", 8012)
    with pytest.raises(ValueError, match="port"):
        AppEnvironment(name="p", port=port)


@pytest.mark.parametrize("port", ["8080", 8080.0, True, None])
def test_port_type(port):
    with pytest.raises(TypeError, match="port"):
        AppEnvironment(name="p", port=port)


def test_scaling_type():
    with pytest.raises(TypeError, match="scaling"):
        AppEnvironment(name="s", scaling=(1, 2))  # type: ignore[arg-type]


def test_domain_type_and_none():
    assert AppEnvironment(name="d", domain=None).domain is None
    with pytest.raises(TypeError, match="domain"):
        AppEnvironment(name="d", domain="example.com")  # type: ignore[arg-type]


def test_links_type():
    link = Link(path="/docs", title="Docs")
    assert AppEnvironment(name="l", links=[link]).links == [link]
    with pytest.raises(TypeError, match="links"):
        AppEnvironment(name="l", links=["/docs"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="links"):
        AppEnvironment(name="l", links=link)  # type: ignore[arg-type]


def test_timeouts_type():
    with pytest.raises(TypeError, match="timeouts"):
        AppEnvironment(name="t", timeouts=30)  # type: ignore[arg-type]


def test_parameters_elements_type():
    with pytest.raises(TypeError, match="parameters"):
        AppEnvironment(name="t", parameters=["x"])  # type: ignore[list-item]


def test_cluster_and_cluster_pool_mutually_exclusive():
    assert AppEnvironment(name="c", cluster="east").cluster == "east"
    assert AppEnvironment(name="c", cluster_pool="gpu").cluster_pool == "gpu"
    with pytest.raises(ValueError, match="cluster"):
        AppEnvironment(name="c", cluster="east", cluster_pool="gpu")


PARAMS = [Parameter(name="model", value="s3://bucket/model")]


@pytest.mark.parametrize("command", ["python app.py", ["python", "app.py"], "", []])
def test_parameters_with_custom_command_refused(command):
    with pytest.raises(ValueError, match="parameters"):
        AppEnvironment(name="p", parameters=PARAMS, command=command)


@pytest.mark.parametrize("command", ["fserve --x 1", ["fserve", "--x", "1"]])
def test_parameters_with_fserve_command_accepted(command):
    assert AppEnvironment(name="p", parameters=PARAMS, command=command).command == command


def test_parameters_with_args_or_default_command_accepted():
    app = AppEnvironment(name="p", parameters=PARAMS, args="python app.py")
    assert app.container_command()[0] == "fserve"


def test_custom_command_without_parameters_accepted():
    assert AppEnvironment(name="p", command="python app.py").command == "python app.py"


# -- decorators -------------------------------------------------------------------------------


def test_decorators_return_function_unchanged_and_store_it():
    app = AppEnvironment(name="deco")

    def serve() -> None: ...

    async def startup() -> None: ...

    def shutdown() -> None: ...

    assert app.server(serve) is serve
    assert app.on_startup(startup) is startup
    assert app.on_shutdown(shutdown) is shutdown
    assert app.server_fn is serve
    assert app.on_startup_fn is startup
    assert app.on_shutdown_fn is shutdown


def test_decorator_syntax_with_async_server():
    app = AppEnvironment(name="deco")

    @app.server
    async def serve() -> str:
        return "ok"

    assert app.server_fn is serve
    assert serve.__name__ == "serve"


def test_nothing_registered_by_default():
    app = AppEnvironment(name="deco")
    assert app.server_fn is None and app.on_startup_fn is None and app.on_shutdown_fn is None


def test_decorators_do_not_affect_equality():
    a, b = AppEnvironment(name="same"), AppEnvironment(name="same")
    a.server(lambda: None)
    assert a == b


@pytest.mark.parametrize("decorator", ["server", "on_startup", "on_shutdown"])
def test_decorators_refuse_non_callables(decorator):
    app = AppEnvironment(name="deco")
    with pytest.raises(TypeError, match=decorator):
        getattr(app, decorator)("not a function")


# -- container command and endpoint -----------------------------------------------------------


def test_default_command_starts_with_fserve_and_ends_with_separator():
    argv = AppEnvironment(name="c").container_command()
    assert argv[0] == "fserve"
    assert argv[-1] == "--"
    for flag in ("--version", "--project", "--domain", "--org"):
        assert flag in argv
    assert "--parameters" not in argv


def test_default_command_fills_in_given_values():
    argv = AppEnvironment(name="c").container_command(version="v1", project="p", domain="d", org="o")
    assert argv[:9] == ["fserve", "--version", "v1", "--project", "p", "--domain", "d", "--org", "o"]


def test_default_command_carries_parameters_and_args():
    app = AppEnvironment(name="c", parameters=PARAMS, args="python app.py --name 'a b'")
    argv = app.container_command()
    serialized = argv[argv.index("--parameters") + 1]
    assert json.loads(serialized)[0]["name"] == "model"
    assert argv[argv.index("--") + 1 :] == ["python", "app.py", "--name", "a b"]


def test_custom_command_is_shell_split_and_followed_by_args():
    app = AppEnvironment(name="c", command="uvicorn main:app --port 8080", args=["--reload"])
    assert app.container_command() == ["uvicorn", "main:app", "--port", "8080", "--reload"]


def test_args_list_kept_verbatim():
    app = AppEnvironment(name="c", args=["--msg", "a b"])
    assert app.container_command()[-2:] == ["--msg", "a b"]


def test_endpoint_is_localhost():
    assert AppEnvironment(name="e").endpoint == "http://localhost:8080"
    assert AppEnvironment(name="e", port=Port(9000)).endpoint == "http://localhost:9000"


# -- clone_with -------------------------------------------------------------------------------


def _full_app() -> AppEnvironment:
    dep = AppEnvironment(name="dep")
    return AppEnvironment(
        name="base-app",
        image="repo/app:1",
        env_vars={"A": "1"},
        secrets="token",
        description="base",
        interruptible=True,
        service_account="sa",
        depends_on=[dep],
        include=("static/*",),
        pod_template="tmpl",
        type="FastAPI",
        port=9000,
        args="--x 1",
        requires_auth=False,
        scaling=Scaling(replicas=(1, 3)),
        domain=Domain(subdomain="api"),
        links=[Link("/docs", "Docs", is_relative=True)],
        parameters=PARAMS,
        cluster_pool="gpu",
        timeouts=Timeouts(request=60),
    )


def test_clone_inherits_everything_but_the_name():
    base = _full_app()
    clone = base.clone_with("clone-app")
    assert clone.name == "clone-app"
    for f in dataclasses.fields(AppEnvironment):
        if f.name != "name" and f.compare:
            assert getattr(clone, f.name) == getattr(base, f.name), f.name


def test_clone_overrides():
    base = _full_app()
    clone = base.clone_with(
        "clone-app",
        image="repo/app:2",
        env_vars={"B": "2"},
        description="clone",
        interruptible=False,
        service_account="other",
        port=9001,
        requires_auth=True,
        include=(),
        pod_template=None,
        cluster="west",
        cluster_pool="default",
    )
    assert clone.image == "repo/app:2"
    assert clone.env_vars == {"B": "2"}
    assert clone.description == "clone"
    assert clone.interruptible is False
    assert clone.service_account == "other"
    assert clone.port == Port(9001)
    assert clone.requires_auth is True
    assert clone.include == ()
    assert clone.pod_template is None
    assert clone.cluster == "west"
    # Untouched fields still come from the base.
    assert clone.args == "--x 1"
    assert clone.secrets == "token"


def test_clone_is_a_registered_app_environment():
    clone = _full_app().clone_with("clone-app")
    assert type(clone) is AppEnvironment
    assert list_loaded_environments()[-1] is clone


def test_clone_refuses_unknown_keywords_naming_them():
    with pytest.raises(TypeError, match="reusable") as info:
        AppEnvironment(name="a").clone_with("b", reusable="off", cache="auto")
    assert "cache" in str(info.value)


def test_clone_is_validated():
    base = AppEnvironment(name="a")
    with pytest.raises(ValueError, match="name"):
        base.clone_with("b_c")
    with pytest.raises(ValueError, match="port"):
        base.clone_with("b", port=9091)
    with pytest.raises(ValueError, match="parameters"):
        base.clone_with("b", parameters=PARAMS, command="python x.py")


def test_clone_depends_on_is_a_new_list():
    base = _full_app()
    clone = base.clone_with("clone-app")
    assert clone.depends_on == base.depends_on
    assert clone.depends_on is not base.depends_on
    clone.add_dependency(AppEnvironment(name="extra"))
    assert [d.name for d in base.depends_on] == ["dep"]


def test_clone_depends_on_argument_is_copied():
    deps = [AppEnvironment(name="d1")]
    clone = AppEnvironment(name="a").clone_with("b", depends_on=deps)
    deps.append(AppEnvironment(name="d2"))
    assert [d.name for d in clone.depends_on] == ["d1"]


def test_clone_lists_are_independent():
    base = _full_app()
    clone = base.clone_with("clone-app")
    clone.links.append(Link("/x", "X"))
    clone.parameters.append(Parameter("other"))
    assert len(base.links) == 1 and len(base.parameters) == 1


def test_clone_keeps_registered_functions():
    base = AppEnvironment(name="a")

    @base.server
    def serve() -> None: ...

    assert base.clone_with("b").server_fn is serve


def test_base_environment_clone_with_not_implemented():
    with pytest.raises(NotImplementedError):
        Environment(name="plain").clone_with("other")


# -- Port -------------------------------------------------------------------------------------


def test_port_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Port(8080).port = 8081  # type: ignore[misc]


def test_port_range_and_type():
    with pytest.raises(ValueError, match="port"):
        Port(0)
    with pytest.raises(ValueError, match="port"):
        Port(70000)
    with pytest.raises(TypeError, match="port"):
        Port("8080")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name"):
        Port(8080, name=1)  # type: ignore[arg-type]


# -- Scaling ----------------------------------------------------------------------------------


def test_scaling_int_replicas():
    assert Scaling(replicas=2).get_replicas() == (2, 2)
    assert Scaling(replicas=0).get_replicas() == (0, 0)
    with pytest.raises(ValueError, match="replicas"):
        Scaling(replicas=-1)


@pytest.mark.parametrize("replicas", [(1,), (1, 2, 3), (-1, 2), (0, 0), (3, 2)])
def test_scaling_bad_tuple(replicas):
    with pytest.raises(ValueError, match="replicas"):
        Scaling(replicas=replicas)


@pytest.mark.parametrize("replicas", [[1, 2], "1", 1.5, ("1", 2), True])
def test_scaling_replicas_type(replicas):
    with pytest.raises(TypeError, match="replicas"):
        Scaling(replicas=replicas)


def test_scaling_valid_tuple():
    assert Scaling(replicas=(0, 5)).get_replicas() == (0, 5)
    assert Scaling(replicas=(2, 2)).get_replicas() == (2, 2)


def test_scaling_metrics():
    assert Scaling(metric=Scaling.Concurrency(1)).metric == Scaling.Concurrency(1)
    assert Scaling(metric=Scaling.RequestRate(10)).metric.val == 10
    for metric_cls in (Scaling.Concurrency, Scaling.RequestRate):
        with pytest.raises(ValueError, match="val"):
            metric_cls(0)
        with pytest.raises(TypeError, match="val"):
            metric_cls("5")
    with pytest.raises(TypeError, match="metric"):
        Scaling(metric=5)  # type: ignore[arg-type]


def test_scaling_scaledown_after():
    assert Scaling(scaledown_after=30).scaledown_after == timedelta(seconds=30)
    assert Scaling(scaledown_after=timedelta(minutes=2)).scaledown_after == timedelta(minutes=2)
    with pytest.raises(TypeError, match="scaledown_after"):
        Scaling(scaledown_after="30s")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scaledown_after"):
        Scaling(scaledown_after=-1)


# -- Timeouts ---------------------------------------------------------------------------------


def test_timeouts():
    assert Timeouts(request=30).request == timedelta(seconds=30)
    assert Timeouts(request=3600).request == timedelta(hours=1)
    assert Timeouts(request=timedelta(minutes=5)).request == timedelta(minutes=5)
    with pytest.raises(ValueError, match="request"):
        Timeouts(request=-1)
    with pytest.raises(ValueError, match="request"):
        Timeouts(request=timedelta(hours=1, seconds=1))
    with pytest.raises(TypeError, match="request"):
        Timeouts(request=1.5)  # type: ignore[arg-type]


# -- Link, Domain, Subdomain ------------------------------------------------------------------


def test_link():
    link = Link("/docs", "Docs")
    assert link.is_relative is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        link.path = "/x"  # type: ignore[misc]
    with pytest.raises(TypeError, match="path"):
        Link(1, "Docs")  # type: ignore[arg-type]


def test_subdomain_constructors():
    sub = Subdomain.from_app_name("my-app")
    assert sub.app_name == "my-app" and sub.function is None and sub.project_domain_suffix == "hash"
    assert Subdomain.from_app_name("a", project_domain_suffix="default").project_domain_suffix == "default"

    def pick() -> str:
        return "x"

    assert Subdomain.from_function(pick).function is pick


def test_subdomain_needs_exactly_one_source():
    with pytest.raises(ValueError, match="app_name"):
        Subdomain()
    with pytest.raises(ValueError, match="function"):
        Subdomain(app_name="a", function=lambda: "b")
    with pytest.raises(ValueError, match="project_domain_suffix"):
        Subdomain.from_app_name("a", project_domain_suffix="other")  # type: ignore[arg-type]


def test_domain():
    assert Domain(subdomain=Subdomain.from_app_name("a")).custom_domain is None
    assert Domain(custom_domain="api.example.com").custom_domain == "api.example.com"
    with pytest.raises(TypeError, match="subdomain"):
        Domain(subdomain=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="custom_domain"):
        Domain(custom_domain=1)  # type: ignore[arg-type]


# -- Parameter and delayed values -------------------------------------------------------------


class File:
    """Stands in for roost.io.File, which is recognised by class name."""

    def __init__(self, path: str):
        self.path = path


class Dir(File):
    pass


class SubFile(File):
    pass


def test_parameter_defaults():
    p = Parameter("model")
    assert (p.value, p.type, p.env_var, p.download, p.mount, p.ignore_patterns) == (
        None,
        None,
        None,
        True,
        None,
        [],
    )


@pytest.mark.parametrize(
    "value",
    [
        "text",
        RunOutput(type="file", run_name="r1"),
        AppEndpoint("other"),
        ArtifactValue("model"),
        File("/tmp/x"),
        Dir("/tmp/d"),
        SubFile("/tmp/s"),
    ],
)
def test_parameter_value_types(value):
    assert Parameter("p", value=value).value is value


@pytest.mark.parametrize("value", [1, b"bytes", ["a"], {"a": 1}])
def test_parameter_value_type_refused(value):
    with pytest.raises(TypeError, match="value"):
        Parameter("p", value=value)


@pytest.mark.parametrize("env_var", ["MODEL", "_x", "a1_B"])
def test_parameter_env_var_valid(env_var):
    assert Parameter("p", env_var=env_var).env_var == env_var


@pytest.mark.parametrize("env_var", ["1X", "A-B", "A B", "", "A.B"])
def test_parameter_env_var_invalid(env_var):
    with pytest.raises(ValueError, match="env_var"):
        Parameter("p", env_var=env_var)


def test_parameter_ignore_patterns_fresh():
    assert Parameter("a").ignore_patterns is not Parameter("b").ignore_patterns


def test_run_output():
    out = RunOutput(type="file", task_name="train")
    assert out.getter == (0,) and out.run_name is None
    with pytest.raises(ValueError, match="run_name"):
        RunOutput(type="file")
    with pytest.raises(ValueError, match="task_name"):
        RunOutput(type="file", run_name="r", task_name="t")
    with pytest.raises(ValueError, match="app_endpoint"):
        RunOutput(type="app_endpoint", run_name="r")


def test_app_endpoint_and_artifact_value():
    assert AppEndpoint("other").public is False
    assert ArtifactValue("model").version is None
    with pytest.raises(TypeError, match="app_name"):
        AppEndpoint(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name"):
        ArtifactValue(1)  # type: ignore[arg-type]


def test_serialize_parameters():
    params = [
        Parameter("a", "text", env_var="A"),
        Parameter("b", RunOutput(type="string", run_name="r")),
        Parameter("c", AppEndpoint("other", public=True)),
        Parameter("d", ArtifactValue("m", version="3")),
        Parameter("e", File("/tmp/f")),
        Parameter("f", Dir("/tmp/d"), mount="/mnt/d"),
        Parameter("g"),
    ]
    data = json.loads(serialize_parameters(params))
    assert [d["name"] for d in data] == list("abcdefg")
    values = [d["value"] for d in data]
    assert values[0] == {"kind": "string", "value": "text"}
    assert values[1]["kind"] == "run_output" and values[1]["run_name"] == "r"
    assert values[2] == {"kind": "app_endpoint", "app_name": "other", "public": True}
    assert values[3] == {"kind": "artifact", "name": "m", "version": "3"}
    assert values[4] == {"kind": "file", "path": "/tmp/f"}
    assert values[5] == {"kind": "dir", "path": "/tmp/d"}
    assert values[6] is None
    assert data[0]["env_var"] == "A" and data[5]["mount"] == "/mnt/d"
    # One argv element, even through a shell.
    assert len(shlex.split(shlex.quote(serialize_parameters(params)))) == 1
