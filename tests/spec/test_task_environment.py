"""TaskEnvironment and its task decorator (SPEC §3, §3.1, §5, §27)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import timedelta

import pytest

import roost as flyte
from roost.extend import TaskPluginRegistry
from roost.task import MAX_INLINE_IO_BYTES, AsyncFunctionTaskTemplate


@dataclass
class NoPluginConfig:
    x: int = 1


@dataclass
class ReusablePluginConfig:
    x: int = 1


@dataclass
class PlainPluginConfig:
    x: int = 1


class ReusablePluginTask(AsyncFunctionTaskTemplate):
    supports_reuse = True


class PlainPluginTask(AsyncFunctionTaskTemplate):
    pass


TaskPluginRegistry.register(ReusablePluginConfig, ReusablePluginTask)
TaskPluginRegistry.register(PlainPluginConfig, PlainPluginTask)


def test_defaults():
    env = flyte.TaskEnvironment(name="te")
    assert env.cache == "disable" and env.reusable is None and env.plugin_config is None and env.queue is None
    assert env.tasks == {}


def test_reusable_and_plugin_config_refused_unless_plugin_supports_reuse():
    with pytest.raises(ValueError, match="plugin_config"):
        flyte.TaskEnvironment(name="r", reusable=flyte.ReusePolicy(), plugin_config=PlainPluginConfig())
    with pytest.raises(ValueError, match="plugin_config"):
        flyte.TaskEnvironment(name="r", reusable=flyte.ReusePolicy(), plugin_config=NoPluginConfig())
    env = flyte.TaskEnvironment(name="r", reusable=flyte.ReusePolicy(), plugin_config=ReusablePluginConfig())
    assert env.plugin_config == ReusablePluginConfig()


def test_reusable_type_and_cache_type():
    with pytest.raises(TypeError, match="reusable"):
        flyte.TaskEnvironment(name="r", reusable=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cache"):
        flyte.TaskEnvironment(name="r", cache=5)  # type: ignore[arg-type]


def test_cache_string_is_not_validated_until_a_task_is_decorated():
    env = flyte.TaskEnvironment(name="lazy-cache", cache="always")
    assert env.cache == "always"
    with pytest.raises(ValueError, match="Invalid cache behavior 'always'"):

        @env.task
        def t() -> None: ...


def test_base_checks_still_apply():
    with pytest.raises(ValueError, match="kebab-case"):
        flyte.TaskEnvironment(name="Bad_Name")
    with pytest.raises(TypeError, match="image"):
        flyte.TaskEnvironment(name="ok", image=42)  # type: ignore[arg-type]


# -- decorator ----------------------------------------------------------------------------------


def test_fqn_short_name_and_registration():
    env = flyte.TaskEnvironment(name="analytics_env")

    @env.task
    async def process_data() -> None: ...

    @env.task(short_name="nice")
    def other(x: int) -> int:
        return x

    assert process_data.name == "analytics_env.process_data"
    assert process_data.short_name == "process_data"
    assert other.short_name == "nice" and other.name == "analytics_env.other"
    assert list(env.tasks) == ["analytics_env.process_data", "analytics_env.other"]
    assert process_data.env is env and process_data.parent_env_name == "analytics_env"
    assert isinstance(process_data.parent_env, weakref.ref)
    assert type(process_data) is AsyncFunctionTaskTemplate and type(other) is AsyncFunctionTaskTemplate


def test_same_fqn_silently_replaces():
    env = flyte.TaskEnvironment(name="repl")

    @env.task
    def f() -> int:
        return 1

    first = f

    @env.task  # type: ignore[no-redef]
    def f() -> int:
        return 2

    assert env.tasks["repl.f"] is f and f is not first


def test_call_form_without_decorator_syntax():
    env = flyte.TaskEnvironment(name="callform")

    def g(a: int) -> int:
        return a * 2

    t = env.task(g, retries=2)
    assert t.name == "callform.g" and t.retries.count == 2 and t(4) == 8


def test_inherits_environment_settings():
    res = flyte.Resources(cpu="1", memory="1Gi")
    pol = flyte.ReusePolicy(replicas=2)
    env = flyte.TaskEnvironment(
        name="inh",
        image="repo/img:1",
        resources=res,
        env_vars={"A": "1"},
        secrets="s",
        reusable=pol,
        cache="auto",
        pod_template="tmpl",
        interruptible=True,
        queue="q",
        service_account="sa",
    )

    @env.task
    def t() -> None: ...

    assert t.image == flyte.Image.from_base("repo/img:1")
    assert t.resources is res and t.env_vars == {"A": "1"} and t.secrets == "s" and t.reusable is pol
    assert t.cache == flyte.Cache("auto") and t.pod_template == "tmpl" and t.interruptible is True
    assert t.queue == "q" and t.service_account == "sa"


def test_decorator_defaults():
    env = flyte.TaskEnvironment(name="dd")

    @env.task
    def t() -> None: ...

    assert t.retries == flyte.RetryStrategy(0) and t.timeout == 0 and t.docs is None and t.report is False
    assert t.max_inline_io_bytes == MAX_INLINE_IO_BYTES == 10 * 1024 * 1024
    assert t.triggers == () and t.links == () and t.entrypoint is False and t.produces_artifacts is False
    assert t.image == flyte.Image.from_debian_base()


def test_decorator_settings_beat_environment():
    env = flyte.TaskEnvironment(name="prec", cache="auto", pod_template="env-tmpl", queue="env-q")

    @env.task(cache="disable", pod_template="task-tmpl", queue="task-q", retries=3, timeout=timedelta(minutes=5))
    def t() -> None: ...

    assert t.cache.behavior == "disable" and t.pod_template == "task-tmpl" and t.queue == "task-q"
    assert t.retries.count == 3 and t.timeout == timedelta(minutes=5)


def test_triggers_and_links_normalised_to_tuples():
    env = flyte.TaskEnvironment(name="trig")
    trig = flyte.Trigger("nightly", flyte.Cron("0 0 * * *"))

    @env.task(triggers=trig, links=[1, 2])
    def t() -> None: ...

    assert t.triggers == (trig,) and t.links == (1, 2)


def test_reusable_env_refuses_decorator_pod_template():
    env = flyte.TaskEnvironment(name="reuse-pt", reusable=flyte.ReusePolicy())
    with pytest.raises(ValueError, match="pod_template"):
        env.task(pod_template="x")


def test_reusable_env_refuses_different_service_account():
    env = flyte.TaskEnvironment(name="reuse-sa", reusable=flyte.ReusePolicy(), service_account="a")
    with pytest.raises(ValueError, match="service_account"):
        env.task(service_account="b")
    env.task(service_account="a")  # the same one is fine


def test_reusable_concurrency_needs_async():
    env = flyte.TaskEnvironment(name="conc", reusable=flyte.ReusePolicy(concurrency=4))
    with pytest.raises(ValueError, match="concurrency"):

        @env.task
        def sync_task() -> None: ...

    @env.task
    async def async_task() -> None: ...

    assert async_task.reusable.concurrency == 4


def test_plugin_config_without_plugin_refused_at_decoration():
    env = flyte.TaskEnvironment(name="plug", plugin_config=NoPluginConfig())
    with pytest.raises(ValueError, match="No task plugin found"):

        @env.task
        def t() -> None: ...


def test_plugin_config_selects_the_plugin_class():
    env = flyte.TaskEnvironment(name="plug2", plugin_config=PlainPluginConfig(x=3))

    @env.task
    def t() -> None: ...

    assert type(t) is PlainPluginTask and t.plugin_config == PlainPluginConfig(x=3)


def test_variadic_functions_refused():
    env = flyte.TaskEnvironment(name="var")
    with pytest.raises(ValueError, match="variable positional or keyword"):

        @env.task
        def t(*args: int) -> None: ...

    with pytest.raises(ValueError, match="variable positional or keyword"):

        @env.task
        def u(**kwargs: int) -> None: ...


def test_timeout_type_not_checked_at_decoration():
    env = flyte.TaskEnvironment(name="tmo")

    @env.task(timeout="soon")  # type: ignore[arg-type]
    def t() -> None: ...

    assert t.timeout == "soon"


def test_seed_decorator_forms():
    env = flyte.TaskEnvironment(
        name="seedform", resources=flyte.Resources(cpu="0.5", memory="1Gi"), env_vars={"A": "1"}, secrets="s1"
    )

    @env.task(
        resources=flyte.Resources(cpu="1", memory="2Gi"),
        env_vars={"B": "2"},
        secrets=[flyte.Secret("s2")],
        image="other:1",
        cache="disable",
    )
    def process_data(raw_data: str, threshold: int) -> int:
        return len(raw_data) * threshold

    assert process_data.resources == flyte.Resources(cpu="1", memory="2Gi")
    assert process_data.env_vars == {"A": "1", "B": "2"}  # added to the environment's
    assert process_data.secrets == [flyte.Secret("s1"), flyte.Secret("s2")]
    assert process_data.image == flyte.Image.from_base("other:1")
    assert env.resources == flyte.Resources(cpu="0.5", memory="1Gi") and env.env_vars == {"A": "1"}
    with pytest.raises(TypeError, match="resources"):
        env.task(resources={"cpu": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="env_vars"):
        env.task(env_vars=["A=1"])  # type: ignore[arg-type]


# -- clone_with ---------------------------------------------------------------------------------


def test_clone_with_overrides_and_inherits():
    dev = flyte.TaskEnvironment(
        name="dev-env", image="my-app:dev", resources=flyte.Resources(cpu="500m"), env_vars={"X": "1"}, queue="q"
    )

    @dev.task
    def t() -> None: ...

    prod = dev.clone_with(
        name="prod-env", image="my-app:prod", resources=flyte.Resources(cpu="2", memory="4Gi"), cache="enable"
    )
    assert prod.image == "my-app:prod" and prod.resources == flyte.Resources(cpu="2", memory="4Gi")
    assert prod.cache == "enable" and prod.env_vars == {"X": "1"} and prod.queue == "q"
    assert prod.tasks == {} and dev.image == "my-app:dev"


def test_clone_with_reusable_presence_overrides():
    base = flyte.TaskEnvironment(name="rb", reusable=flyte.ReusePolicy(replicas=3))
    assert base.clone_with(name="rb2").reusable == flyte.ReusePolicy(replicas=3)
    assert base.clone_with(name="rb3", reusable=None).reusable is None
    assert base.clone_with(name="rb4", reusable=flyte.ReusePolicy(replicas=1, concurrency=2)).reusable.replicas == (
        1,
        1,
    )


def test_clone_with_refuses_other_kwargs():
    env = flyte.TaskEnvironment(name="ck")
    for key in ("plugin_config", "queue", "bogus"):
        with pytest.raises(TypeError, match=key):
            env.clone_with(name="ck2", **{key: 1})


def test_clone_with_depends_on_is_a_new_list():
    a = flyte.TaskEnvironment(name="dep-a")
    env = flyte.TaskEnvironment(name="dep-env", depends_on=[a])
    clone = env.clone_with(name="dep-clone")
    clone.add_dependency(flyte.TaskEnvironment(name="dep-b"))
    assert [e.name for e in env.depends_on] == ["dep-a"]
    assert [e.name for e in clone.depends_on] == ["dep-a", "dep-b"]


def test_clone_with_revalidates_name():
    with pytest.raises(ValueError, match="kebab-case"):
        flyte.TaskEnvironment(name="good").clone_with(name="Not Good")


def test_clone_keeps_plugin_config():
    env = flyte.TaskEnvironment(name="pc", plugin_config=PlainPluginConfig(x=9))
    assert env.clone_with(name="pc2").plugin_config == PlainPluginConfig(x=9)


# -- from_task / add_task -------------------------------------------------------------------------


def _free_task(name: str, image: str = "auto") -> AsyncFunctionTaskTemplate:
    def fn() -> None: ...

    return AsyncFunctionTaskTemplate(func=fn, name=name, image=image)


def test_from_task():
    t1, t2 = _free_task("x.a"), _free_task("x.b")
    env = flyte.TaskEnvironment.from_task("from-task", t1, t2)
    assert list(env.tasks) == ["x.a", "x.b"] and t1.env is env and t2.parent_env_name == "from-task"
    assert env.image == flyte.Image.from_debian_base()


def test_from_task_refuses_owned_tasks_and_mixed_images():
    owner = flyte.TaskEnvironment(name="owner")

    @owner.task
    def owned() -> None: ...

    with pytest.raises(ValueError, match="already belongs"):
        flyte.TaskEnvironment.from_task("ft", owned)
    with pytest.raises(ValueError, match="different images"):
        flyte.TaskEnvironment.from_task("ft2", _free_task("m.a", "img:1"), _free_task("m.b", "img:2"))


def test_add_task_seed_form():
    dynamic_env = flyte.TaskEnvironment(name="dynamic-env", image="python:3.9")

    def my_dynamic_func() -> None:
        print("This is a dynamically added task.")

    tmpl = AsyncFunctionTaskTemplate(
        func=my_dynamic_func,
        name="dynamic-env.my_dynamic_task",
        image=dynamic_env.image,
        resources=dynamic_env.resources,
        cache="disable",
        retries=0,
        timeout=0,
        reusable=None,
        docs=None,
        env_vars=None,
        secrets=None,
        pod_template=None,
        parent_env=None,
        interface=None,
        report=False,
        short_name="my_dynamic_task",
        plugin_config=None,
        max_inline_io_bytes=1024 * 1024,
    )
    assert dynamic_env.add_task(tmpl) is tmpl
    assert list(dynamic_env.tasks) == ["dynamic-env.my_dynamic_task"] and tmpl.env is dynamic_env
    with pytest.raises(ValueError, match="already exists"):
        dynamic_env.add_task(tmpl)
    with pytest.raises(TypeError, match="TaskTemplate"):
        dynamic_env.add_task(my_dynamic_func)  # type: ignore[arg-type]
