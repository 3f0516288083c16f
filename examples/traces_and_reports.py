"""@flyte.trace and flyte.report: expensive helper calls recorded (and not repeated by a recovered
run), and an HTML report written by the task that made them."""

import os
import tempfile

import roost as flyte

env = flyte.TaskEnvironment(name="forecast")
calls_made: list[str] = []  # what the "weather service" was asked, across both runs


@flyte.trace
async def ask_weather_service(city: str) -> float:
    calls_made.append(city)  # a real helper would call an API here, and pay for it
    return {"Lisbon": 21.5, "Oslo": 4.0, "Lima": 18.0}[city]


@env.task(report=True)
async def forecast(cities: list[str], stop_early: bool) -> float:
    temperatures = [await ask_weather_service(city) for city in cities]
    rows = "".join(f"<tr><td>{c}</td><td>{t}</td></tr>" for c, t in zip(cities, temperatures))
    await flyte.report.log.aio(f"<h2>Forecast</h2><table>{rows}</table>")
    if stop_early:
        raise RuntimeError("the process died after the service calls (simulated)")
    return sum(temperatures) / len(temperatures)


if __name__ == "__main__":
    os.environ.setdefault("ROOST_HOME", tempfile.mkdtemp())
    cities = ["Lisbon", "Oslo", "Lima"]
    try:
        flyte.with_runcontext(name="forecast-1").run(forecast, cities, True)
    except RuntimeError as e:
        print("first run failed:", e)
    # The rerun recovers the finished helper calls from the record: the service is not asked again.
    run = flyte.with_runcontext().rerun("forecast-1", recover=True, stop_early=False)
    print("average:", run.outputs()[0], "| service calls in all:", calls_made)
    assert calls_made == cities, calls_made
    print("report:", run.get_report()[:60].replace("\n", " "), "...")
