"""NativeInterface: a task's typed inputs and outputs, read from its function signature."""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

logger = logging.getLogger("roost")

EMPTY = inspect.Parameter.empty


class _HasDefault:
    """``NativeInterface.has_default``: an input has a default whose value is given elsewhere."""


def _is_namedtuple(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def _outputs_of(return_type: Any, func_name: str) -> dict[str, Any]:
    if return_type is EMPTY or return_type is None or return_type is type(None):
        return {}
    if isinstance(return_type, str):
        raise TypeError(f"Task {func_name}: return annotation {return_type!r} is a string that cannot be resolved")
    if _is_namedtuple(return_type):
        hints = typing.get_type_hints(return_type)
        return {name: hints.get(name, Any) for name in return_type._fields}
    if typing.get_origin(return_type) is tuple:
        args = typing.get_args(return_type)
        if len(args) == 2 and args[1] is Ellipsis:
            raise TypeError(
                f"Task {func_name}: variable-length tuple[T, ...] is not a valid output; return a list[T] "
                "or a fixed tuple[A, B]"
            )
        if len(args) == 1:
            raise TypeError(f"Task {func_name}: a one-element tuple[T] output is not allowed; return T")
        return {f"o{i}": t for i, t in enumerate(args)}
    return {"o0": return_type}


@dataclass(frozen=True)
class NativeInterface:
    """``inputs``: name -> (type, default or ``inspect.Parameter.empty``); ``outputs``: name -> type.

    One declared output is called ``o0``; ``tuple[A, B]`` gives ``o0, o1``; a NamedTuple return
    gives its field names.
    """

    inputs: dict[str, tuple[Any, Any]]
    outputs: dict[str, Any]
    return_type: Any = None
    unannotated: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_callable(cls, func: Callable[..., Any]) -> NativeInterface:
        name = getattr(func, "__qualname__", repr(func))
        signature = inspect.signature(func)
        try:
            hints = typing.get_type_hints(func, include_extras=True)
        except NameError as e:
            raise TypeError(f"Task {name}: cannot resolve a type annotation ({e})") from e
        inputs: dict[str, tuple[Any, Any]] = {}
        unannotated = set()
        for param in signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ValueError(
                    f"Task {name} cannot have variable positional or keyword arguments "
                    f"(*{param.name} / **{param.name}): declare each input by name"
                )
            tp = hints.get(param.name, EMPTY)
            if tp is EMPTY:
                unannotated.add(param.name)
                tp = Any
            inputs[param.name] = (tp, param.default)
        if unannotated:
            # Debug level: every worker process imports the task's module again. A run warns once
            # per task whose values will be pickled, this input among them.
            logger.debug(
                "Task %s has inputs without type annotations (%s): their values will be pickled",
                name,
                ", ".join(sorted(unannotated)),
            )
        return_type = hints.get("return", EMPTY)
        return cls(
            inputs=inputs,
            outputs=_outputs_of(return_type, name),
            return_type=None if return_type is EMPTY else return_type,
            unannotated=frozenset(unannotated),
        )

    # Flyte's marker for "has a default that is not known here" (a remote task's); see from_types.
    has_default: ClassVar[type] = _HasDefault

    def required_inputs(self) -> list[str]:
        """The inputs without a default, in declaration order (a method, as in Flyte)."""
        return [n for n, (_, default) in self.inputs.items() if default is EMPTY]

    def num_required_inputs(self) -> int:
        return len(self.required_inputs())

    def has_outputs(self) -> bool:
        return bool(self.outputs)

    def get_input_types(self) -> dict[str, Any]:
        return {n: tp for n, (tp, _) in self.inputs.items()}

    @classmethod
    def from_types(
        cls,
        inputs: dict[str, tuple[Any, Any]],
        outputs: dict[str, Any],
        default_inputs: dict[str, Any] | None = None,
    ) -> NativeInterface:
        """An interface from ``{name: (type, default or EMPTY or NativeInterface.has_default)}`` and
        ``{name: type}``; an input marked ``has_default`` needs its value in ``default_inputs``."""
        resolved: dict[str, tuple[Any, Any]] = {}
        for name, (tp, default) in inputs.items():
            if default is cls.has_default:
                if default_inputs is None or name not in default_inputs:
                    raise ValueError(f"Input {name} has a default value but no default input provided for it")
                default = default_inputs[name]
            resolved[name] = (tp, default)
        return cls(inputs=resolved, outputs=dict(outputs))

    def convert_to_kwargs(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Positional arguments named by the inputs, merged with ``kwargs`` (no defaults applied)."""
        names = list(self.inputs)
        if len(args) > len(names):
            raise ValueError(f"Too many positional arguments: the inputs are {names}, got {len(args)} arguments")
        merged = dict(kwargs)
        merged.update(zip(names, args))
        if len(merged) > len(names):
            raise ValueError(f"Too many arguments: the inputs are {names}, got {sorted(merged)}")
        return merged

    @property
    def json_schema(self) -> dict[str, Any]:
        """The inputs as a JSON schema (``{"type": "object", "properties": ..., "required": [...]}``)."""
        from roost.types.schema import interface_schema

        return interface_schema(self)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any], task_name: str = "") -> dict[str, Any]:
        """Positional and keyword arguments as one dict of named inputs, defaults applied."""
        names = list(self.inputs)
        label = f"Task {task_name}" if task_name else "Task"
        if len(args) > len(names):
            raise ValueError(f"{label} takes {len(names)} inputs but {len(args)} positional arguments were given")
        bound: dict[str, Any] = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in self.inputs:
                raise ValueError(f"{label} got an unexpected input {key!r} (inputs: {', '.join(names) or 'none'})")
            if key in bound:
                raise ValueError(f"{label} got input {key!r} both positionally and by keyword")
            bound[key] = value
        missing = [n for n in self.required_inputs() if n not in bound]
        if missing:
            raise ValueError(f"{label}: missing required inputs: {', '.join(missing)}")
        for n, (_, default) in self.inputs.items():
            if n not in bound:
                bound[n] = default
        return bound
