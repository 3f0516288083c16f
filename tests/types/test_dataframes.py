"""DataFrame: pandas and pyarrow through parquet in the blob store; handlers; the flyte.io wrapper."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from pathlib import Path
from typing import IO, Any, Optional

import pandas as pd
import pyarrow as pa
import pytest
from typeutil import roundtrip

from roost.types import (
    DataFrame,
    DataFrameDecoder,
    DataFrameEncoder,
    DataFrameTransformerEngine,
    HashFunction,
    TypeEngine,
)
from roost.types.literals import literal_size


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [1, 2, 3], "name": ["a", "b", None], "score": [1.5, float("nan"), -2.0]},
        index=pd.Index([10, 20, 30], name="key"),
    )


def _blob_files(blobs_dir: Path) -> list[Path]:
    return [p for p in blobs_dir.rglob("*") if p.is_file()] if blobs_dir.exists() else []


def test_pandas_round_trip_through_parquet(frame, blobs_dir):
    lit = TypeEngine.to_literal(frame, pd.DataFrame)
    assert lit.kind == "dataframe" and lit.value["format"] == "parquet"
    assert Path(lit.value["uri"]).read_bytes()[:4] == b"PAR1"
    back = roundtrip(frame, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame)
    assert len(_blob_files(blobs_dir)) == 1  # the same frame twice is stored once


def test_arrow_round_trip():
    table = pa.table({"x": [1, 2, None], "y": ["p", "q", "r"], "z": [[1], [], [2, 3]]})
    back = roundtrip(table, pa.Table)
    assert back.equals(table)


def test_the_literal_holds_only_a_reference(frame):
    big = pd.DataFrame({"v": range(200_000)})
    lit = TypeEngine.to_literal(big, pd.DataFrame)
    assert literal_size(lit) < 300


def test_wrapped_dataframe_is_written_once_and_read_as_any_type(frame, blobs_dir):
    wrapped = DataFrame.wrap_df(frame)
    assert wrapped.val is frame and wrapped.literal is None
    lit = TypeEngine.to_literal(wrapped, DataFrame)
    assert wrapped.uri == lit.value["uri"] and wrapped.literal == lit
    TypeEngine.to_literal(wrapped, DataFrame)
    assert len(_blob_files(blobs_dir)) == 1
    ref = TypeEngine.to_python_value(lit, DataFrame)
    assert isinstance(ref, DataFrame) and ref.val is None
    pd.testing.assert_frame_equal(ref.open(pd.DataFrame).all_sync(), frame)
    table = asyncio.run(ref.open(pa.Table).all())
    assert table.num_rows == 3
    # a flyte.io.DataFrame can be given where a pandas frame is declared, and the other way round
    pd.testing.assert_frame_equal(roundtrip(wrapped, pd.DataFrame), frame)
    pd.testing.assert_frame_equal(roundtrip(frame, DataFrame).open(pd.DataFrame).all_sync(), frame)


def test_from_df_is_a_deprecated_alias(frame):
    with pytest.warns(DeprecationWarning):
        wrapped = DataFrame.from_df(frame)
    assert wrapped.val is frame


def test_from_local_writes_now_with_columns_and_hash(frame):
    df = DataFrame.from_local_sync(frame, columns=["id", "name"])
    assert df.uri and df.format == "parquet" and len(df.hash) == 64
    back = df.open(pd.DataFrame).all_sync()
    assert list(back.columns) == ["id", "name"]
    keyed = asyncio.run(DataFrame.from_local(frame, hash_method=HashFunction.from_fn(lambda f: f"rows-{len(f)}")))
    assert keyed.hash == "rows-3"
    assert DataFrame.from_local_sync(frame, hash_method="fixed").hash == "fixed"


def test_iter_reads_in_chunks(frame):
    df = DataFrame.from_local_sync(pa.Table.from_pandas(frame))

    async def collect():
        return [chunk async for chunk in df.open(pd.DataFrame).iter()]

    chunks = asyncio.run(collect())
    assert sum(len(c) for c in chunks) == 3


def test_from_existing_remote_local_parquet_is_uploaded(tmp_path, frame):
    path = tmp_path / "input.parquet"
    frame.to_parquet(path)
    ref = DataFrame.from_existing_remote(str(path))
    lit = TypeEngine.to_literal(ref, DataFrame)
    assert lit.value["uri"] != str(path) and lit.value["hash"]
    pd.testing.assert_frame_equal(TypeEngine.to_python_value(lit, pd.DataFrame), frame)
    with pytest.raises(ValueError, match="file not found"):
        TypeEngine.to_literal(DataFrame.from_existing_remote(str(tmp_path / "none.parquet")), DataFrame)


def test_wrong_frame_type_is_refused(frame):
    with pytest.raises(TypeError, match=r"expected .*Table"):
        TypeEngine.to_literal(frame, pa.Table)
    with pytest.raises(TypeError):
        TypeEngine.to_literal([1, 2], pd.DataFrame)


@dataclasses.dataclass
class Experiment:
    name: str
    data: pd.DataFrame
    extra: Optional[DataFrame] = None


def test_frames_inside_dataclasses(frame):
    exp = Experiment("e1", frame, DataFrame.wrap_df(frame))
    back = roundtrip(exp, Experiment)
    pd.testing.assert_frame_equal(back.data, frame)
    pd.testing.assert_frame_equal(back.extra.open(pd.DataFrame).all_sync(), frame)


class JsonRows:
    """A frame type of the test's own: a list of dicts."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows


class JsonRowsEncoder(DataFrameEncoder):
    def __init__(self) -> None:
        super().__init__(JsonRows, None, "jsonl")

    def encode(self, frame: Any, dest: IO[bytes], columns: list[str] | None = None) -> None:
        for row in frame.rows:
            dest.write((json.dumps(row) + "\n").encode())


class JsonRowsDecoder(DataFrameDecoder):
    def __init__(self) -> None:
        super().__init__(JsonRows, None, "jsonl")

    def decode(self, source: IO[bytes], columns: list[str] | None = None) -> Any:
        return JsonRows([json.loads(line) for line in io.TextIOWrapper(source) if line.strip()])


def test_register_a_custom_frame_type():
    DataFrameTransformerEngine.register(JsonRowsEncoder())
    DataFrameTransformerEngine.register(JsonRowsDecoder())
    try:
        with pytest.raises(ValueError, match="already registered"):
            DataFrameTransformerEngine.register(JsonRowsEncoder())
        DataFrameTransformerEngine.register(JsonRowsEncoder(), override=True)
        lit = TypeEngine.to_literal(JsonRows([{"a": 1}, {"a": 2}]), JsonRows)
        assert lit.value["format"] == "jsonl"
        assert roundtrip(JsonRows([{"a": 1}]), JsonRows).rows == [{"a": 1}]
    finally:
        DataFrameTransformerEngine.ENCODERS.pop((JsonRows, "jsonl"), None)
        DataFrameTransformerEngine.DECODERS.pop((JsonRows, "jsonl"), None)
        DataFrameTransformerEngine.DEFAULT_FORMATS.pop(JsonRows, None)
        TypeEngine._CACHE.clear()
