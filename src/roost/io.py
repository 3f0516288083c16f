"""``flyte.io``: File, Dir and DataFrame, with the DataFrame handler registry (see roost.types)."""

from __future__ import annotations

from roost.types.dataframe import PARQUET, DataFrame, DataFrameDecoder, DataFrameEncoder, HashFunction
from roost.types.dir import Dir, EmptyDir
from roost.types.file import File
from roost.types.transformers.dataframes import DataFrameTransformerEngine

__all__ = [
    "PARQUET",
    "DataFrame",
    "DataFrameDecoder",
    "DataFrameEncoder",
    "DataFrameTransformerEngine",
    "Dir",
    "EmptyDir",
    "File",
    "HashFunction",
]
