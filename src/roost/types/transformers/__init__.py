"""The built-in transformers, one module per family of types; ``register_builtins`` installs them."""

from __future__ import annotations

from typing import Any


def register_builtins(engine: Any) -> None:
    """Install every built-in transformer in ``engine`` (called once, on the engine's first use)."""
    from roost.types.transformers.collections import (
        DictTransformer,
        ListTransformer,
        NamedTupleTransformer,
        TupleTransformer,
        TypedDictTransformer,
    )
    from roost.types.transformers.dataframes import DataFrameTransformerEngine
    from roost.types.transformers.enums import EnumTransformer, LiteralTransformer
    from roost.types.transformers.files import DirTransformer, FileTransformer
    from roost.types.transformers.pickle import FlytePickleTransformer, pickler
    from roost.types.transformers.primitives import builtin_primitives
    from roost.types.transformers.record_types import DataclassTransformer, PydanticTransformer
    from roost.types.transformers.unions import UnionTransformer

    for transformer in [
        *builtin_primitives(),
        ListTransformer(),
        DictTransformer(),
        FileTransformer(),
        DirTransformer(),
    ]:
        engine._register(transformer)
    # Order matters: NamedTuple before tuple, and File / Dir / DataFrame (registered or structural)
    # before dataclass, since a user's frame type may itself be a dataclass.
    for structural in [
        UnionTransformer(),
        LiteralTransformer(),
        NamedTupleTransformer(),
        TypedDictTransformer(),
        TupleTransformer(),
        EnumTransformer(),
        DataFrameTransformerEngine(),
        DataclassTransformer(),
        PydanticTransformer(),
    ]:
        engine._register_structural(structural)
    engine._register_fallback(pickler())
    # After the fallback, which keeps the "pickle" literal kind for guess_python_type (Any).
    engine._register(FlytePickleTransformer())
