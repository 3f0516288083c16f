"""flyte.models names a program can touch: NativeInterface with Flyte's methods, SerializationContext,
CodeBundle, PathRewrite, MAX_INLINE_IO_BYTES, generate_random_name."""

from __future__ import annotations

import inspect
import pathlib

import pytest

import roost as flyte
from roost.models import (
    MAX_INLINE_IO_BYTES,
    CodeBundle,
    NativeInterface,
    PathRewrite,
    SerializationContext,
    generate_random_name,
)

env = flyte.TaskEnvironment(name="models")


@env.task
def scale(x: int, factor: float = 2.0, label: str = "v") -> tuple[str, float]:
    return label, x * factor


def test_native_interface_of_a_task():
    iface = scale.native_interface
    assert isinstance(iface, NativeInterface) and iface is scale.interface
    assert iface.required_inputs() == ["x"] and iface.num_required_inputs() == 1
    assert iface.has_outputs() and list(iface.outputs) == ["o0", "o1"]
    assert iface.get_input_types() == {"x": int, "factor": float, "label": str}
    assert iface.convert_to_kwargs(3, label="w") == {"x": 3, "label": "w"}
    with pytest.raises(ValueError, match="Too many positional"):
        iface.convert_to_kwargs(1, 2, 3, 4)
    schema = iface.json_schema
    assert schema["required"] == ["x"] and schema["properties"]["factor"]["default"] == 2.0


def test_native_interface_from_callable_and_from_types():
    def f(a: int, b: str = "x") -> None: ...

    iface = NativeInterface.from_callable(f)
    assert iface.inputs == {"a": (int, inspect.Parameter.empty), "b": (str, "x")} and not iface.has_outputs()
    built = NativeInterface.from_types(
        {"a": (int, inspect.Parameter.empty), "b": (str, NativeInterface.has_default)}, {"o0": int}, {"b": "y"}
    )
    assert built.inputs["b"] == (str, "y") and built.required_inputs() == ["a"]
    with pytest.raises(ValueError, match="no default input"):
        NativeInterface.from_types({"b": (str, NativeInterface.has_default)}, {})


def test_serialization_context_and_code_bundle():
    bundle = CodeBundle(computed_version="abc123", tgz="s3://bucket/code.tgz")
    assert bundle.with_downloaded_path(pathlib.Path("/tmp/x")).downloaded_path == pathlib.Path("/tmp/x")
    with pytest.raises(ValueError, match="tgz or pkl"):
        CodeBundle(computed_version="abc")
    sctx = SerializationContext(version="v1", project="p", domain="d", code_bundle=bundle)
    assert sctx.get_entrypoint_path() == "/opt/venv/bin/runtime.py"
    assert sctx.get_entrypoint_path("/usr/bin/python3") == "/usr/bin/runtime.py"
    # A task's plugin hooks take it, as in Flyte.
    assert scale.custom_config(sctx) == {} and scale.container_args(sctx) == []


def test_path_rewrite_and_small_names():
    rewrite = PathRewrite.from_str("s3://old->/mnt/new")
    assert rewrite.apply("s3://old/a/b") == "/mnt/new/a/b" and rewrite.apply("gs://x") == "gs://x"
    assert repr(rewrite) == "s3://old->/mnt/new"
    with pytest.raises(ValueError, match="different"):
        PathRewrite(old_prefix="a", new_prefix="a")
    with pytest.raises(ValueError, match="Invalid path rewrite"):
        PathRewrite.from_str("no-arrow")
    assert MAX_INLINE_IO_BYTES == 10 * 1024 * 1024
    assert generate_random_name() != generate_random_name()
