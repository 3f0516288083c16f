"""Built-in parquet handlers for pandas DataFrames and pyarrow Tables.

This module imports pandas / pyarrow at the top, so it is itself imported only when a frame of that
kind is converted (see ``DataFrameTransformerEngine``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from roost.types.dataframe import PARQUET, DataFrameDecoder, DataFrameEncoder


def _select(table: pa.Table, columns: list[str] | None) -> pa.Table:
    return table.select(columns) if columns else table


class ArrowParquetEncoder(DataFrameEncoder):
    def __init__(self) -> None:
        super().__init__(pa.Table, None, PARQUET)

    def encode(self, frame: Any, dest: IO[bytes], columns: list[str] | None = None) -> None:
        pq.write_table(_select(frame, columns), dest)


class ArrowParquetDecoder(DataFrameDecoder):
    def __init__(self) -> None:
        super().__init__(pa.Table, None, PARQUET)

    def decode(self, source: IO[bytes], columns: list[str] | None = None) -> Any:
        return pq.read_table(source, columns=columns)

    def iter(self, source: IO[bytes], columns: list[str] | None = None) -> Iterator[Any]:
        reader = pq.ParquetFile(source)
        for i in range(reader.num_row_groups):
            yield reader.read_row_group(i, columns=columns)


def _pandas_encoder_decoder() -> tuple[DataFrameEncoder, DataFrameDecoder]:
    import pandas as pd

    class PandasParquetEncoder(DataFrameEncoder):
        def __init__(self) -> None:
            super().__init__(pd.DataFrame, None, PARQUET)

        def encode(self, frame: Any, dest: IO[bytes], columns: list[str] | None = None) -> None:
            # Through arrow, keeping the index and dtypes in the pandas metadata, so the frame that
            # comes back equals the one that went in.
            table = pa.Table.from_pandas(frame[columns] if columns else frame, preserve_index=None)
            pq.write_table(table, dest)

    class PandasParquetDecoder(DataFrameDecoder):
        def __init__(self) -> None:
            super().__init__(pd.DataFrame, None, PARQUET)

        def decode(self, source: IO[bytes], columns: list[str] | None = None) -> Any:
            return pq.read_table(source, columns=columns).to_pandas()

        def iter(self, source: IO[bytes], columns: list[str] | None = None) -> Iterator[Any]:
            reader = pq.ParquetFile(source)
            for i in range(reader.num_row_groups):
                yield reader.read_row_group(i, columns=columns).to_pandas()

    return PandasParquetEncoder(), PandasParquetDecoder()


def arrow_handlers() -> tuple[DataFrameEncoder, DataFrameDecoder]:
    return ArrowParquetEncoder(), ArrowParquetDecoder()


def pandas_handlers() -> tuple[DataFrameEncoder, DataFrameDecoder]:
    return _pandas_encoder_decoder()
