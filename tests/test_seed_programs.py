"""The seeds' programs run -- through the Python API and through `roost run` -- with the results of
calling their functions directly (nested async, sync tasks, retries, timeouts)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROGRAM = textwrap.dedent(
    """
    import asyncio
    from datetime import timedelta

    import roost as flyte

    env = flyte.TaskEnvironment(name="data-processing-env", resources=flyte.Resources(cpu="0.5", memory="1Gi"))


    @env.task(short_name="fetch-data", retries=3, timeout=timedelta(minutes=10))
    async def fetch_raw_data(source_url: str) -> str:
        await asyncio.sleep(0.01)
        return f"Data from {source_url}"


    @env.task(cache="disable")
    def process_data(raw_data: str, threshold: int) -> int:
        print(f"Processing: {raw_data} with threshold {threshold}")
        return len(raw_data) * threshold


    @env.task(timeout=flyte.Timeout(max_runtime=timedelta(minutes=5), max_queued_time=timedelta(minutes=1)))
    async def preprocess(input_path: str) -> str:
        return f"{input_path}_processed"


    @env.task
    async def pipeline(urls: list[str], threshold: int = 2) -> dict[str, int]:
        raw = await asyncio.gather(*[fetch_raw_data(u) for u in urls])
        cleaned = await asyncio.gather(*[preprocess(r) for r in raw])
        sizes = await asyncio.gather(*[process_data.aio(c, threshold) for c in cleaned])
        return dict(zip(urls, sizes))
    """
)


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "seed_program.py"
    path.write_text(PROGRAM)
    return path


def direct_result(path: Path, urls: list[str], threshold: int) -> dict[str, int]:
    """What calling the functions directly gives (outside any run a task is its function)."""
    namespace: dict[str, object] = {"__name__": "seed_program_direct"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)

    async def direct() -> dict[str, int]:
        raw = [await namespace["fetch_raw_data"].forward(u) for u in urls]  # type: ignore[attr-defined]
        cleaned = [await namespace["preprocess"].forward(r) for r in raw]  # type: ignore[attr-defined]
        sizes = [namespace["process_data"].forward(c, threshold) for c in cleaned]  # type: ignore[attr-defined]
        return dict(zip(urls, sizes))

    return asyncio.run(direct())


def test_python_api_and_cli_equal_direct_calls(program: Path, tmp_path: Path):
    urls = ["s3://a/1", "s3://b/22", "gs://c/333"]
    expected = direct_result(program, urls, 3)
    env = {**os.environ, "ROOST_HOME": str(tmp_path / "home")}

    api = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; import roost as flyte; from roost.runtime.runs.runner import load_task;"
            f"t = load_task({str(program)!r}, 'pipeline');"
            f"print(json.dumps(flyte.run(t, {urls!r}, threshold=3).outputs()[0]))",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert api.returncode == 0, api.stderr
    assert json.loads(api.stdout.strip().splitlines()[-1]) == expected

    cli = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "run", "--no-live", str(program), "pipeline",
         "--urls", json.dumps(urls), "--threshold", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    printed = cli.stdout.strip().splitlines()[-1]
    assert json.loads(printed.replace("'", '"')) == expected
