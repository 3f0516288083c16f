"""Typed data: Python values to and from literals, JSON schemas of task interfaces, File/Dir/DataFrame.

Importing this package is cheap: pandas, pyarrow, pydantic, fsspec and cloudpickle are imported only
when a value that needs them is converted.
"""

from __future__ import annotations

from roost.types.dataframe import DataFrame, DataFrameDecoder, DataFrameEncoder, HashFunction
from roost.types.dir import Dir
from roost.types.engine import TypeEngine, TypeTransformer, TypeTransformerFailedError
from roost.types.file import File
from roost.types.literals import Literal, LiteralType
from roost.types.pickled import FlytePickle
from roost.types.renderable import Renderable
from roost.types.transformers.dataframes import DataFrameTransformerEngine

__all__ = [
    "DataFrame",
    "DataFrameDecoder",
    "DataFrameEncoder",
    "DataFrameTransformerEngine",
    "Dir",
    "File",
    "FlytePickle",
    "HashFunction",
    "Literal",
    "LiteralType",
    "Renderable",
    "TypeEngine",
    "TypeTransformer",
    "TypeTransformerFailedError",
]
