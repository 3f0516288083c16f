"""Typed data through runs: large frames through the blob store, files, type errors at boundaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import roost as flyte
from roost.errors import InlineIOMaxBytesBreached, RuntimeDataValidationError, RuntimeUserError
from roost.io import DataFrame, File

env = flyte.TaskEnvironment(name="data")


@env.task
async def make_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({"a": rng.random(rows), "b": rng.random(rows), "c": np.arange(rows, dtype="int64")})


@env.task
async def summarize(frame: pd.DataFrame) -> float:
    return float(frame["a"].sum() + frame["b"].sum() + frame["c"].sum())


@env.task
async def frame_pipeline(rows: int) -> float:
    return await summarize(await make_frame(rows))


def test_a_50_mb_dataframe_passes_through_the_blob_store(roost_home: Path):
    rows = 2_200_000  # 3 columns x 8 bytes x 2.2M rows: about 53 MB in memory
    run = flyte.run(frame_pipeline, rows)
    rng = np.random.default_rng(7)
    expected = float(rng.random(rows).sum() + rng.random(rows).sum() + np.arange(rows).sum())
    assert run.outputs()[0] == pytest.approx(expected)
    database = sum(p.stat().st_size for p in roost_home.glob("roost.db*"))
    assert database < 1_000_000  # the frame is in the blob store, not in the run store
    blobs = sum(p.stat().st_size for p in (roost_home / "blobs").rglob("*") if p.is_file())
    assert blobs > 10_000_000


@env.task
async def write_file(text: str) -> File:
    f = File.new_remote()
    async with f.open("wb") as out:
        await out.write(text.encode())
    return f


@env.task
async def read_file(f: File) -> str:
    async with f.open("rb") as source:
        return (await source.read()).decode()


@env.task
async def file_round_trip(text: str) -> str:
    return await read_file(await write_file(text))


def test_files_cross_actions():
    assert flyte.run(file_round_trip, "hello, blob").outputs()[0] == "hello, blob"


def test_a_local_file_input_is_stored_by_content(tmp_path: Path):
    source = tmp_path / "input.txt"
    source.write_text("from the laptop")
    assert flyte.run(read_file, File(path=str(source))).outputs()[0] == "from the laptop"


def test_a_file_pointing_nowhere_is_a_clear_error_and_no_run(tmp_path: Path, store):
    with pytest.raises(ValueError, match="missing"):
        flyte.run(read_file, File(path=str(tmp_path / "missing.txt")))
    assert store.list_runs() == []


def test_wrong_input_type_names_task_parameter_and_types(store):
    with pytest.raises(TypeError, match=r"variable 'rows' of task 'data.make_frame': expected int, got str"):
        flyte.run(make_frame, "many")
    assert store.list_runs() == []


@env.task
async def lies(x: int) -> int:
    return "not an int"  # type: ignore[return-value]


def test_wrong_output_type_is_a_data_validation_error():
    with pytest.raises(RuntimeDataValidationError) as info:
        flyte.run(lies, 1)
    assert info.value.code == "DataValidationError"


@env.task
async def bad_child_input() -> int:
    return await lies("one")  # type: ignore[arg-type]


def test_bad_child_inputs_fail_the_parent():
    with pytest.raises(RuntimeUserError) as info:
        flyte.run(bad_child_input)
    assert info.value.code == "TypeError" and isinstance(info.value, TypeError)


@env.task(max_inline_io_bytes=1000)
async def small_limit(text: str) -> str:
    return text


def test_inline_io_limit_is_enforced_locally():
    with pytest.raises(InlineIOMaxBytesBreached, match="text"):
        flyte.run(small_limit, "x" * 5000)
    assert flyte.run(small_limit, "ok").outputs()[0] == "ok"


@env.task
async def wraps_frame(rows: int) -> DataFrame:
    frame = pd.DataFrame({"x": range(rows)})
    return DataFrame.wrap_df(frame)


@env.task
async def reads_wrapped(df: DataFrame) -> int:
    frame = await df.open(pd.DataFrame).all()
    return int(frame["x"].sum())


@env.task
async def wrapped_pipeline(rows: int) -> int:
    return await reads_wrapped(await wraps_frame(rows))


def test_flyte_io_dataframe_between_tasks():
    assert flyte.run(wrapped_pipeline, 100).outputs()[0] == sum(range(100))
