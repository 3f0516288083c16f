"""Reports: a sync task in a worker process and the async task that calls it each build an HTML page
with flyte.report (the main tab and a tab of its own), and the program reads both pages back."""

import html
import json
import os
import sys
from pathlib import Path

import roost as flyte

profiler = flyte.TaskEnvironment(name="profiler", env_vars={"PROFILE_SAMPLE": "3"})
pipeline = flyte.TaskEnvironment(name="pipeline", depends_on=[profiler])


@profiler.task(report=True)
def profile(column: str, values: list[float]) -> float:
    sample = values[: int(os.environ["PROFILE_SAMPLE"])]
    flyte.report.log(f"<h2>Column {html.escape(column)}</h2>")
    flyte.report.get_tab("Sample").log("<ul>" + "".join(f"<li>{v}</li>" for v in sample) + "</ul>")
    return sum(values) / len(values)


@pipeline.task(report=True)
async def summarise(table: dict[str, list[float]]) -> dict[str, float]:
    means = {column: await profile.aio(column, values) for column, values in table.items()}
    rows = "".join(f"<tr><td>{c}</td><td>{m:.2f}</td></tr>" for c, m in means.items())
    await flyte.report.log.aio(f"<h1>Data profile</h1><table>{rows}</table>")
    flyte.report.get_tab("Notes").log("<p>means over every row</p>")
    return means


if __name__ == "__main__":
    flyte.init_from_config()
    run = flyte.run(summarise, {"height": [1.5, 1.75, 2.0, 1.25], "weight": [60.0, 80.0]})
    assert run.outputs()[0] == {"height": 1.625, "weight": 70.0}
    page = run.get_report()
    assert "<h1>Data profile</h1>" in page and "<td>height</td><td>1.62</td>" in page, page
    assert "Notes" in page and "means over every row" in page
    home = Path(os.environ.get("ROOST_HOME", Path.home() / ".roost"))
    children = sorted((home / "runs" / run.name).glob("*/report.html"))
    pages = [p.read_text() for p in children if p.parent.name != "a0"]
    assert len(pages) == 2 and all("Sample" in p for p in pages)
    assert any("<h2>Column height</h2>" in p and "<li>2.0</li>" in p and "<li>1.25</li>" not in p for p in pages)
    print(json.dumps({"run": run.name, "pages": len(children), "root_bytes": len(page)}))
    sys.exit(0)
