"""TaskTemplate (SPEC §4, §4.1, §15): normalisation, calls outside a run, override, interface."""

from __future__ import annotations

import asyncio
import pickle
from datetime import timedelta
from typing import NamedTuple

import pytest

import roost as flyte
from roost.errors import RuntimeUserError
from roost.interface import NativeInterface
from roost.task import AsyncFunctionTaskTemplate

env = flyte.TaskEnvironment(name="task-tests", env_vars={"E": "1"}, resources=flyte.Resources(cpu="1"))
reusable_env = flyte.TaskEnvironment(name="task-tests-reuse", reusable=flyte.ReusePolicy(replicas=2))


@env.task
def add(x: int, y: int = 2) -> int:
    return x + y


@env.task
async def double(x: int) -> int:
    return x * 2


@env.task
def fails(x: int) -> int:
    raise ValueError(f"bad {x}")


@env.task
async def afails() -> None:
    raise KeyError("missing")


@reusable_env.task
def warm(x: int) -> int:
    return x


# -- normalisation ------------------------------------------------------------------------------


def test_image_normalisation():
    def f() -> None: ...

    assert AsyncFunctionTaskTemplate(func=f, name="n.f").image == flyte.Image.from_debian_base()
    assert AsyncFunctionTaskTemplate(func=f, name="n.f", image="x:1").image == flyte.Image.from_base("x:1")
    img = flyte.Image.from_base("y:2")
    assert AsyncFunctionTaskTemplate(func=f, name="n.f", image=img).image is img
    assert AsyncFunctionTaskTemplate(func=f, name="n.f", image=None).image is None


def test_cache_normalisation_and_aliases():
    def f() -> None: ...

    for alias, behavior in [("enable", "auto"), ("ON", "auto"), ("no", "disable"), ("override", "override")]:
        kwargs = {"version_override": "v"} if behavior == "override" else {}
        t = AsyncFunctionTaskTemplate(func=f, name="n.f", cache=alias)
        assert t.cache.behavior == behavior, (alias, kwargs)
    with pytest.raises(ValueError, match="Invalid cache behavior 'sometimes'"):
        AsyncFunctionTaskTemplate(func=f, name="n.f", cache="sometimes")


def test_retries_normalisation():
    def f() -> None: ...

    assert AsyncFunctionTaskTemplate(func=f, name="n.f", retries=3).retries == flyte.RetryStrategy(count=3)
    for bad in (1.5, "3"):
        with pytest.raises(ValueError, match="retries"):
            AsyncFunctionTaskTemplate(func=f, name="n.f", retries=bad)
    with pytest.raises(ValueError, match="count"):
        AsyncFunctionTaskTemplate(func=f, name="n.f", retries=-1)


def test_short_name_defaults_to_name_and_service_account_type():
    def f() -> None: ...

    assert AsyncFunctionTaskTemplate(func=f, name="n.f").short_name == "n.f"
    with pytest.raises(TypeError, match="service_account"):
        AsyncFunctionTaskTemplate(func=f, name="n.f", service_account=5)


def test_debuggable_default():
    assert add.debuggable is True


# -- calling outside a run ------------------------------------------------------------------------


def test_sync_call_is_a_plain_call():
    assert add(1) == 3 and add(1, y=5) == 6


def test_async_call_returns_a_coroutine():
    coro = double(4)
    assert asyncio.iscoroutine(coro)
    assert asyncio.run(coro) == 8


def test_sync_failure_is_a_runtime_user_error_and_the_original_class():
    with pytest.raises(RuntimeUserError) as info:
        fails(3)
    err = info.value
    assert err.code == "ValueError" and str(err) == "bad 3" and err.kind == "user"
    assert isinstance(err, ValueError)  # roost keeps `except ValueError` working
    assert isinstance(err.__cause__, ValueError)


def test_async_failure_raises_the_original_exception():
    with pytest.raises(KeyError):
        asyncio.run(afails())


def test_aio_outside_a_run(caplog):
    with caplog.at_level("WARNING", logger="roost"):
        assert asyncio.run(add.aio(2)) == 4
    assert "outside a run" in caplog.text

    async def twice() -> int:
        # As on the platform, an async task's .aio() outside a run gives its coroutine back.
        inner = await double.aio(3)
        return await inner

    assert asyncio.run(twice()) == 6


def test_forward():
    assert add.forward(1, 1) == 2


# -- override ------------------------------------------------------------------------------------


def test_override_returns_a_new_template():
    o = add.override(retries=4, timeout=10, short_name="x", queue="q", env_vars={"N": "2"})
    assert o is not add and o.name == add.name
    assert o.retries.count == 4 and o.timeout == 10 and o.short_name == "x" and o.queue == "q"
    assert o.env_vars == {"N": "2"}
    assert add.retries.count == 0 and add.short_name == "add" and add.env_vars == {"E": "1"}
    assert o.env is env


def test_override_falsy_keeps():
    base = add.override(retries=3, env_vars={"K": "v"}, max_inline_io_bytes=100)
    kept = base.override(retries=0, env_vars={}, max_inline_io_bytes=0, cache=None, timeout=None)
    assert kept.retries.count == 3 and kept.env_vars == {"K": "v"} and kept.max_inline_io_bytes == 100


def test_override_none_keeps_for_flags():
    o = add.override(interruptible=True)
    assert o.override(interruptible=None).interruptible is True
    assert o.override(interruptible=False).interruptible is False


@pytest.mark.parametrize("field", ["name", "image", "docs", "interface"])
def test_override_refuses_identity_fields(field):
    with pytest.raises(ValueError, match=f"{field} cannot be overridden"):
        add.override(**{field: "x"})


def test_override_unknown_keyword():
    with pytest.raises(TypeError, match="bogus"):
        add.override(bogus=1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("resources", flyte.Resources(cpu="2")),
        ("env_vars", {"A": "1"}),
        ("secrets", "s"),
        ("service_account", "sa"),
    ],
)
def test_override_refusals_when_reusable(field, value):
    with pytest.raises(ValueError, match=field):
        warm.override(**{field: value})
    # reusable="off" lifts the refusal in the same call and turns reuse off
    off = warm.override(reusable="off", **{field: value})
    assert off.reusable is None and getattr(off, field) == value


def test_override_reusable_policy_makes_refusals_apply():
    with pytest.raises(ValueError, match="resources"):
        add.override(reusable=flyte.ReusePolicy(), resources=flyte.Resources(cpu="1"))


def test_override_pod_template_allowed_when_reusable():
    assert warm.override(pod_template="tmpl").pod_template == "tmpl"


def test_override_plugin_config_without_plugin():
    class Cfg:
        pass

    with pytest.raises(ValueError, match="No task plugin found"):
        add.override(plugin_config=Cfg())


# -- interface -----------------------------------------------------------------------------------


class Pair(NamedTuple):
    left: int
    right: str


def test_interface_inputs_and_outputs():
    def f(a: int, b: str = "x") -> tuple[int, str]: ...

    iface = NativeInterface.from_callable(f)
    assert iface.inputs == {"a": (int, iface.inputs["a"][1]), "b": (str, "x")}
    assert iface.required_inputs() == ["a"]
    assert iface.outputs == {"o0": int, "o1": str}

    def g() -> Pair: ...

    assert NativeInterface.from_callable(g).outputs == {"left": int, "right": str}

    def h() -> None: ...

    def k(): ...

    assert NativeInterface.from_callable(h).outputs == {} == NativeInterface.from_callable(k).outputs

    def single() -> list[int]: ...

    assert NativeInterface.from_callable(single).outputs == {"o0": list[int]}


def test_interface_bad_outputs():
    def one() -> tuple[int]: ...

    def var() -> tuple[int, ...]: ...

    with pytest.raises(TypeError, match="one-element"):
        NativeInterface.from_callable(one)
    with pytest.raises(TypeError, match="variable-length"):
        NativeInterface.from_callable(var)


def test_interface_unresolvable_annotation():
    def f(x: NotDefinedAnywhere) -> int: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(TypeError, match="cannot resolve"):
        NativeInterface.from_callable(f)


def test_unannotated_inputs_are_noted(caplog):
    def f(x, y: int) -> int: ...

    # Noted at debug level only: every worker imports the module again, and a run warns once per task.
    with caplog.at_level("DEBUG", logger="roost"):
        iface = NativeInterface.from_callable(f)
    assert iface.unannotated == {"x"} and "pickled" in caplog.text


def test_bind():
    iface = add.interface
    assert iface.bind((1,), {}) == {"x": 1, "y": 2}
    assert iface.bind((), {"x": 1, "y": 3}) == {"x": 1, "y": 3}
    with pytest.raises(ValueError, match="missing required inputs: x"):
        iface.bind((), {})
    with pytest.raises(ValueError, match="positional"):
        iface.bind((1, 2, 3), {})
    with pytest.raises(ValueError, match="unexpected input 'z'"):
        iface.bind((1,), {"z": 1})
    with pytest.raises(ValueError, match="both positionally and by keyword"):
        iface.bind((1,), {"x": 1})


def test_json_schema():
    def f(a: int, b: list[str], c: float = 1.5, d=None) -> None: ...

    t = env.task(f)
    schema = t.json_schema
    assert schema["type"] == "object" and schema["required"] == ["a", "b"]
    assert schema["properties"]["a"] == {"type": "integer"}
    assert schema["properties"]["b"] == {"type": "array", "items": {"type": "string"}}
    assert schema["properties"]["c"] == {"type": "number", "default": 1.5}
    assert schema["properties"]["d"]["type"] == "string"  # unannotated inputs are described as strings


def test_pickle_drops_parent_env():
    clone = pickle.loads(pickle.dumps(add.override(retries=1)))
    assert clone.parent_env is None and clone.parent_env_name == "task-tests" and clone.name == add.name
    assert clone.retries.count == 1 and clone(2) == 4


def test_tasks_hash_by_identity():
    assert len({add, add, double}) == 2


def test_timeouts_accept_int_and_timedelta():
    @env.task(timeout=timedelta(seconds=5))
    def t1() -> None: ...

    @env.task(timeout=flyte.Timeout(max_runtime=5, max_queued_time=timedelta(minutes=1)))
    def t2() -> None: ...

    assert t1.timeout == timedelta(seconds=5) and t2.timeout.max_queued_time == timedelta(minutes=1)
