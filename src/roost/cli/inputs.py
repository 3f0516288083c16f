"""A task's signature as command-line options: ``roost run FILE TASK --x 3 --some-name abc``.

Each input becomes one option; the string a user types is turned into a value of the input's type
by the type layer (``parse_cli_value``), so the CLI accepts exactly what the type engine accepts.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import types
import typing
from typing import Any

import click

from roost.cli.render import one_line
from roost.task import TaskTemplate

EMPTY = inspect.Parameter.empty


def type_label(tp: Any) -> str:
    """How a type reads in help: ``int``, ``list[int]``, ``Optional[Point]``, ``Literal['a', 'b']``."""
    if tp is Any or tp is EMPTY:
        return "any"
    if tp is type(None):
        return "None"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return type_label(args[0])
    if origin is typing.Literal:
        return f"Literal[{', '.join(map(repr, args))}]"
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in args if a is not type(None)]
        if len(rest) < len(args) and len(rest) == 1:
            return f"Optional[{type_label(rest[0])}]"
        return " | ".join(type_label(a) for a in args)
    if origin is not None and args:
        return f"{type_label(origin)}[{', '.join(type_label(a) for a in args)}]"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _without_none(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def _written_as_json(tp: Any) -> bool:
    """Collections and records are typed as JSON on the command line (the type layer's rule)."""
    if typing.get_origin(tp) in (list, dict, set, frozenset, tuple):
        return True
    if not isinstance(tp, type):
        return False
    return (
        dataclasses.is_dataclass(tp)
        or hasattr(tp, "model_validate")  # pydantic models
        or (issubclass(tp, tuple) and hasattr(tp, "_fields"))  # NamedTuple
        or (issubclass(tp, dict) and hasattr(tp, "__required_keys__"))  # TypedDict
        or tp in (list, dict, set, frozenset, tuple)
    )


def is_bool(tp: Any) -> bool:
    return _without_none(tp) is bool


def parse_value(text: str, tp: Any) -> Any:
    from roost.types.task_io import parse_cli_value

    return parse_cli_value(text, tp)


class InputType(click.ParamType):
    """A click type for one task input: parsing is the type layer's, errors are one line."""

    def __init__(self, python_type: Any):
        self.python_type = python_type
        self.name = type_label(python_type)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse_value(value, self.python_type)
        except (ValueError, TypeError) as e:
            self.fail(one_line(str(e)) or f"not a valid {self.name}", param, ctx)
        except RecursionError:
            # Python's parsers recurse once per level of nesting: deep enough, and they run out of stack.
            self.fail(f"the value is nested too deeply to read as {self.name}", param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.name


def _path_kind(tp: Any) -> str | None:
    """What a File, Dir or DataFrame input is written as (a path, not JSON); None for other types."""
    from roost.types.dataframe import DataFrame
    from roost.types.dir import Dir
    from roost.types.file import File

    cls = typing.get_origin(tp) or tp
    if not isinstance(cls, type):
        return None
    if issubclass(cls, File):
        return "a file path or URL"
    if issubclass(cls, Dir):
        return "a directory path or URL"
    if issubclass(cls, DataFrame):
        return "a parquet file path or URL"
    return None


def _help_for(tp: Any, default: Any) -> str:
    """The help of an input option; its type is the metavar, and click adds ``[required]`` itself."""
    parts = []
    inner = _without_none(tp)
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        parts.append("one of " + ", ".join(m.name for m in inner))
    if typing.get_origin(inner) is typing.Literal:
        parts.append("one of " + ", ".join(map(str, typing.get_args(inner))))
    if is_bool(tp):
        parts.append("true or false; the option alone means true")
    path_kind = _path_kind(inner)
    if path_kind is not None:
        parts.append(path_kind)
    elif _written_as_json(inner):
        parts.append("as JSON")
    if default is not EMPTY:
        shown = default.name if isinstance(default, enum.Enum) else repr(default)
        parts.append(f"[default: {shown}]")
    return "  ".join(parts)


def input_option(name: str, tp: Any, default: Any) -> click.Option:
    declarations = [f"--{name}"]
    if "_" in name:
        declarations.append(f"--{name.replace('_', '-')}")
    declarations.append(name)
    extra: dict[str, Any] = {}
    if is_bool(tp):
        # `--flag` alone means true; `--flag false` is accepted too, as for any other input.
        extra = {"is_flag": False, "flag_value": "true"}
    return click.Option(
        declarations,
        type=InputType(tp),
        # No default given to click: an input left out stays out, and the task's own default applies.
        required=default is EMPTY,
        help=_help_for(tp, default),
        **extra,
    )


def task_doc(task: TaskTemplate[Any]) -> str:
    docs = getattr(task, "docs", None)
    if docs is not None and getattr(docs, "description", None):
        return str(docs.description)
    func = getattr(task, "func", None)
    return (inspect.getdoc(func) or "") if func is not None else ""


def task_command(task: TaskTemplate[Any]) -> click.Command:
    """A command whose options are ``task``'s inputs; parsing it gives the inputs the user typed."""
    params = [input_option(name, tp, default) for name, (tp, default) in task.interface.inputs.items()]
    doc = task_doc(task)
    summary = f"Run task {task.name}."
    return click.Command(
        name=task.short_name,
        params=params,
        help=f"{summary}\n\n{doc}" if doc else summary,
        context_settings={"help_option_names": ["--help"]},
    )


def parse_inputs(task: TaskTemplate[Any], args: list[str], info_name: str) -> dict[str, Any]:
    """The inputs given on the command line (only those given: defaults stay the task's own).

    Raises click's usage errors for unknown options, missing required inputs and bad values; prints
    the task's help and exits for ``--help``.
    """
    command = task_command(task)
    # No parent context: click would put the parent's usage pieces into this command's usage line.
    with command.make_context(info_name, list(args)) as ctx:
        given = {}
        for name in task.interface.inputs:
            source = ctx.get_parameter_source(name)
            if source is not None and source is not click.core.ParameterSource.DEFAULT:
                given[name] = ctx.params[name]
        return given
