"""Flyte SDK type behaviours in real runs, inline and in worker processes (issue 14's type points).

TypedDict keys that may be absent, plain dicts for dataclass / pydantic inputs, ``Literal[StrEnum.X]``
fields, ``preserve_original_types``, ``EmptyDir``, ``FlytePickle``, ``Renderable``.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from typing import Annotated, Any, Literal, NotRequired, TypedDict, Union

import pandas as pd
import pytest
from pydantic import BaseModel, Field

import roost as flyte
from roost.io import DataFrame, Dir, EmptyDir
from roost.types import FlytePickle, Renderable, TypeEngine

inline_env = flyte.TaskEnvironment(name="sdk_types_inline")
# env_vars need a process of its own: every task of this environment runs in a worker process.
process_env = flyte.TaskEnvironment(name="sdk_types_process", env_vars={"SDK_TYPES": "worker"})


def _isolation(run: Any) -> str:
    """Where the run's root action ran, as recorded (so a test cannot silently run inline only)."""
    from roost.store.open_stores import get_store

    return get_store().get_action(run.name, "a0").isolation


# -- TypedDict: NotRequired keys and total=False --------------------------------------------------------


class Point(TypedDict):
    x: int
    label: NotRequired[str]


class Options(TypedDict, total=False):
    depth: int
    tags: list[str]


def echo_dicts(p: Point, o: Options) -> tuple[Point, Options, list[str]]:
    # What the task saw: the keys present, so a key that arrived as None or "" would show.
    return p, o, sorted(p) + sorted(o)


echo_dicts_inline = inline_env.task(echo_dicts)
echo_dicts_process = process_env.task(echo_dicts)


@pytest.mark.parametrize("where", ["inline", "process"])
def test_typeddict_keys_that_may_be_absent_stay_absent(where):
    task = echo_dicts_inline if where == "inline" else echo_dicts_process
    run = flyte.run(task, {"x": 1}, {})
    assert run.outputs()[0] == {"x": 1} and run.outputs()[1] == {} and run.outputs()[2] == ["x"]
    assert _isolation(run) == where
    full = flyte.run(task, {"x": 1, "label": "a"}, {"depth": 2, "tags": ["t"]}).outputs()
    assert full[0] == {"x": 1, "label": "a"} and full[1] == {"depth": 2, "tags": ["t"]}


def test_typeddict_optional_keys_are_typed_not_pickled():
    lit = TypeEngine.to_literal({"x": 1, "label": "a"}, Point)
    assert lit.value["label"].kind == "str"
    assert "pickle" not in str(TypeEngine.to_literal_type(Point))
    # so a value of the wrong type is refused, naming the key
    with pytest.raises(TypeError, match="key 'label'"):
        flyte.run(echo_dicts_inline, {"x": 1, "label": 5}, {})
    with pytest.raises(TypeError, match=r"missing keys.*'x'"):
        flyte.run(echo_dicts_inline, {"label": "a"}, {})


# -- a plain dict for a dataclass or pydantic input -------------------------------------------------------


@dataclasses.dataclass
class Limits:
    cpu: float
    retries: int = 1


@dataclasses.dataclass
class JobSpec:
    name: str
    limits: Limits
    stages: list[Limits] = dataclasses.field(default_factory=list)


class Owner(BaseModel):
    email: str


class Project(BaseModel):
    title: str
    owners: list[Owner]
    budget: float = 0.0


def describe(spec: JobSpec, project: Project) -> str:
    assert isinstance(spec.limits, Limits) and all(isinstance(s, Limits) for s in spec.stages)
    assert isinstance(project.owners[0], Owner)
    return f"{spec.name}:{spec.limits.cpu}:{spec.limits.retries}:{len(spec.stages)}:{project.owners[0].email}"


describe_inline = inline_env.task(describe)
describe_process = process_env.task(describe)


@pytest.mark.parametrize("where", ["inline", "process"])
def test_plain_dicts_become_dataclasses_and_models(where):
    task = describe_inline if where == "inline" else describe_process
    spec = {"name": "nightly", "limits": {"cpu": 2}, "stages": [{"cpu": 1, "retries": 3}]}
    project = {"title": "p", "owners": [{"email": "a@example.com"}]}
    run = flyte.run(task, spec, project)
    assert run.outputs()[0] == "nightly:2.0:1:1:a@example.com" and _isolation(run) == where
    # recorded as the typed values they became
    assert run.inputs()["spec"] == JobSpec("nightly", Limits(2.0), [Limits(1.0, 3)])


def test_a_dict_that_does_not_fit_names_the_field():
    with pytest.raises(TypeError, match=r"variable 'spec'.*missing fields for Limits: cpu"):
        flyte.run(describe_inline, {"name": "n", "limits": {}}, {"title": "t", "owners": []})
    with pytest.raises(TypeError, match=r"variable 'project'.*owners"):
        flyte.run(describe_inline, {"name": "n", "limits": {"cpu": 1}}, {"title": "t"})


# -- pydantic discriminated unions on Literal[StrEnum.MEMBER] ---------------------------------------------


class Kind(str, enum.Enum):
    CIRCLE = "circle"
    SQUARE = "square"


class Circle(BaseModel):
    kind: Literal[Kind.CIRCLE] = Kind.CIRCLE
    radius: float


class Square(BaseModel):
    kind: Literal[Kind.SQUARE] = Kind.SQUARE
    side: float


class Canvas(BaseModel):
    shapes: list[Annotated[Union[Circle, Square], Field(discriminator="kind")]]


def kinds(canvas: Canvas) -> tuple[Canvas, list[str]]:
    return canvas, [type(s.kind).__name__ for s in canvas.shapes]


kinds_inline = inline_env.task(kinds)
kinds_process = process_env.task(kinds)


@pytest.mark.parametrize("where", ["inline", "process"])
def test_literal_enum_member_fields_come_back_as_the_member(where):
    task = kinds_inline if where == "inline" else kinds_process
    canvas, seen = flyte.run(task, Canvas(shapes=[Circle(radius=1), Square(side=2)])).outputs()
    assert seen == ["Kind", "Kind"]  # what the task received
    assert [s.kind for s in canvas.shapes] == [Kind.CIRCLE, Kind.SQUARE]
    assert all(type(s.kind) is Kind for s in canvas.shapes)
    assert canvas == Canvas(shapes=[Circle(radius=1), Square(side=2)])


def test_literal_of_enum_member_alone():
    assert (
        type(TypeEngine.to_python_value(TypeEngine.to_literal(Kind.SQUARE, Literal[Kind.SQUARE]), Literal[Kind.SQUARE]))
        is Kind
    )


# -- preserve_original_types ---------------------------------------------------------------------------


@inline_env.task
async def make_frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"v": list(range(n))})


@process_env.task
def frame_total(frame: pd.DataFrame) -> int:
    return int(frame["v"].sum())


def test_dataframe_outputs_are_references_unless_original_types_are_preserved():
    # unset, a local run hands back the task's own values, as Flyte's local mode does
    assert type(flyte.run(make_frame, 4).outputs()[0]) is pd.DataFrame
    # set to False (the remote default of the SDK's Run), a reference comes back
    ref = flyte.with_runcontext(preserve_original_types=False).run(make_frame, 2).outputs()[0]
    assert type(ref) is DataFrame
    pd.testing.assert_frame_equal(ref.open(pd.DataFrame).all_sync(), pd.DataFrame({"v": [0, 1]}))
    kept = flyte.with_runcontext(preserve_original_types=True).run(make_frame, 3).outputs()[0]
    assert type(kept) is pd.DataFrame and kept["v"].tolist() == [0, 1, 2]
    assert type(flyte.with_runcontext(mode="local").run(make_frame, 1).outputs()[0]) is pd.DataFrame
    # a reference given back as an input is read as the frame declared, in a worker process too
    assert flyte.run(frame_total, ref).outputs()[0] == 1
    assert flyte.run(frame_total, DataFrame.wrap_df(ref)).outputs()[0] == 1


# -- EmptyDir, FlytePickle, Renderable -------------------------------------------------------------------


@dataclasses.dataclass
class Produced:
    count: int
    out: Dir


@process_env.task
def maybe_produce(make: bool, where: str) -> Produced:
    if not make:
        return Produced(0, EmptyDir())
    import os

    os.makedirs(where, exist_ok=True)
    with open(os.path.join(where, "a.txt"), "w") as f:
        f.write("a")
    return Produced(1, Dir.from_local_sync(where))


@process_env.task
def count_files(d: Dir) -> int:
    return -1 if d.is_empty else len(d.list_files_sync())


def test_empty_dir_round_trips_as_an_empty_dir(tmp_path):
    flyte.init()
    nothing = flyte.run(maybe_produce, False, str(tmp_path / "x")).outputs()[0]
    assert type(nothing.out) is Dir and nothing.out.is_empty and not nothing.out.exists_sync()
    assert flyte.run(count_files, nothing.out).outputs()[0] == -1
    something = flyte.run(maybe_produce, True, str(tmp_path / "y")).outputs()[0]
    assert not something.out.is_empty and flyte.run(count_files, something.out).outputs()[0] == 1
    assert Dir.empty().is_empty and isinstance(Dir.empty(), EmptyDir)
    with pytest.raises(ValueError, match="EmptyDir"):
        nothing.out.download_sync(str(tmp_path / "z"))


class Opaque:
    def __init__(self, items: set[int]):
        self.items = items


@process_env.task
def pickled_sum(box: FlytePickle[Opaque], extra: FlytePickle) -> FlytePickle:
    return Opaque({sum(box.items) + extra})


def test_flyte_pickle_values_travel_pickled_without_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="roost"):
        out = flyte.run(pickled_sum, Opaque({1, 2}), 3).outputs()[0]
    assert type(out).__name__ == "Opaque" and out.items == {6}
    assert not [r for r in caplog.records if "pickled" in r.getMessage()]
    assert TypeEngine.to_literal(Opaque({1}), FlytePickle[Opaque]).kind == "pickle"
    with pytest.raises(TypeError, match="None"):
        TypeEngine.to_literal(None, FlytePickle)


class Bold:
    def to_html(self, python_value: Any) -> str:
        return f"<b>{python_value}</b>"


def test_renderable_is_a_structural_protocol():
    assert isinstance(Bold(), Renderable) and not isinstance(object(), Renderable)
    assert TypeEngine.to_html(3, Annotated[int, Bold()]) == "<b>3</b>"
    assert TypeEngine.to_html("<x>", str) == "&lt;x&gt;"
    from roost.io import DataFrameTransformerEngine

    frame = pd.DataFrame({"v": [1]})
    assert "<table" in TypeEngine.to_html(frame, pd.DataFrame)
    DataFrameTransformerEngine.register_renderer(pd.DataFrame, Bold())
    try:
        assert TypeEngine.to_html(frame, pd.DataFrame).startswith("<b>")
    finally:
        DataFrameTransformerEngine.Renderers.pop(pd.DataFrame)


# -- the typing.Any pickle warning: once per task, never per call ------------------------------------------


@process_env.task
def any_leaf(x: Any) -> Any:
    return x


@process_env.task
def any_parent(n: int) -> list[int]:
    return [any_leaf(i) for i in range(n)]


def test_pickled_values_warn_once_per_task_not_per_call(caplog):
    with caplog.at_level(logging.DEBUG, logger="roost"):
        assert flyte.run(any_parent, 4).outputs()[0] == [0, 1, 2, 3]
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "pickled" in r.getMessage()]
    assert len(warned) == 1, warned
    assert "any_leaf" in warned[0] and "input 'x' (typing.Any)" in warned[0] and "output 'o0'" in warned[0]
