"""flyte.report: the Report/Tab rules, and report.html written by real runs wherever the code runs."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import report_tasks

import roost as flyte
from roost.errors import RuntimeUserError
from roost.report import Report, Tab, Timeline, abbreviate, duration_ms

env = flyte.TaskEnvironment(name="rep")


def report_at(home: Path, run: flyte.remote.Run, action_id: str = "a0") -> Path:
    """Where SPEC §21 puts an action's report locally: the run's base folder, then the action."""
    return home / "runs" / run.name / action_id / "report.html"


def main_tab_html(page: str) -> str:
    match = re.search(r'<section id="tab-\d+" class="tab" data-name="main">\n(.*?)\n</section>', page, re.S)
    assert match, page
    return match.group(1)


# -- the objects ------------------------------------------------------------------------------------
def test_a_report_always_has_a_main_tab_listed_first():
    report = Report("r")
    assert list(report.tabs) == ["main"]
    extra = Report("r", tabs={"plots": Tab("plots")})
    assert list(extra.tabs) == ["main", "plots"]
    assert not report.has_content()


def test_get_tab_creates_or_refuses():
    report = Report("r")
    tab = report.get_tab("data")
    assert tab is report.get_tab("data") and tab.name == "data"
    with pytest.raises(ValueError, match="does not exist"):
        report.get_tab("missing", create_if_missing=False)
    assert "missing" not in report.tabs
    assert report.get_tab("main", create_if_missing=False) is report.tabs["main"]


def test_tab_log_appends_and_replace_replaces():
    tab = Tab("t")
    tab.log("<p>a</p>")
    tab.log("<p>b</p>")
    assert tab.get_html() == "<p>a</p>\n<p>b</p>"
    tab.replace("<p>c</p>")
    assert tab.get_html() == "<p>c</p>"


def test_a_tab_takes_objects_that_render_themselves():
    class Widget:
        def _repr_html_(self) -> str:
            return "<b>widget</b>"

    tab = Tab("t")
    tab.log(Widget())
    tab.log(3 < 4)  # anything else: its text, escaped
    tab.log(Timeline("t").add("step", 0.0, 0.5))
    html = tab.get_html()
    assert html.startswith("<b>widget</b>\nTrue\n") and "roost-timeline" in html


def test_final_report_has_one_nav_entry_per_tab_and_leaves_out_an_empty_main():
    report = Report("my <report>")
    report.get_tab("first").log("<p>one</p>")
    report.get_tab("second & more").log("<p>two</p>")
    page = report.get_final_report()
    assert page.startswith("<!DOCTYPE html>") and "<title>my &lt;report&gt;</title>" in page
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r">([^<]*)</a>", nav) == ["first", "second &amp; more"]
    assert "<p>one</p>" in page and "<p>two</p>" in page

    report.get_tab("main").log("<p>main</p>")
    nav = re.search(r"<nav>(.*?)</nav>", report.get_final_report(), re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r">([^<]*)</a>", nav) == ["main", "first", "second &amp; more"]


def test_an_empty_tab_other_than_main_keeps_its_entry():
    report = Report("r")
    report.get_tab("later")
    page = report.get_final_report()
    assert re.findall(r'data-tab="[^"]+">([^<]*)</a>', page) == ["later"]


def test_abbreviate():
    assert abbreviate("short") == "short"
    assert abbreviate("x" * 300) == "x" * 300
    cut = abbreviate("x" * 301)
    assert len(cut) == 300 and cut.endswith("...")
    assert abbreviate(list(range(100)), limit=10) == "[0, 1, ..."
    assert abbreviate("abcdef", limit=2) == ".."
    with pytest.raises(ValueError):
        abbreviate("a", limit=-1)


def test_duration_ms():
    start = datetime(2024, 1, 1, 12, 0, 0)
    assert duration_ms(start, start + timedelta(seconds=1.5)) == 1500.0
    assert duration_ms(10.0, 10.25) == 250.0
    assert duration_ms(2, 1) == -1000.0
    with pytest.raises(TypeError):
        duration_ms(start, 1.0)


def test_timeline_draws_spans_on_one_axis():
    timeline = Timeline("Steps")
    timeline.add("load <data>", 100.0, 100.2).add("train", 100.2, 101.0, detail="epoch 1")
    html = timeline.to_html()
    assert "<h3>Steps</h3>" in html and "load &lt;data&gt;" in html
    assert "200.0 ms" in html and "800.0 ms" in html and 'title="epoch 1"' in html
    assert "left:20.000%" in html  # train starts a fifth of the way along
    assert "No spans" in Timeline().to_html()
    with pytest.raises(TypeError):
        Timeline().add("bad", datetime.now(), 1.0)


# -- outside a task --------------------------------------------------------------------------------
def test_outside_a_task_log_is_harmless_and_flush_does_nothing(roost_home: Path, tmp_path: Path):
    before = set(tmp_path.rglob("*"))
    flyte.report.log("<p>nowhere</p>", do_flush=True)
    flyte.report.replace("<p>nowhere</p>")
    flyte.report.get_tab("x").log("y")
    flyte.report.flush()
    asyncio.run(flyte.report.log.aio("<p>nowhere</p>", do_flush=True))
    asyncio.run(flyte.report.flush.aio())
    assert set(tmp_path.rglob("*")) == before
    dummy = flyte.report.current_report()
    assert dummy.name == "dummy" and not dummy.has_content()  # a new throw-away report each time
    assert flyte.ctx().report is None


# -- inside runs -----------------------------------------------------------------------------------
@env.task
async def logs_and_flushes(x: int) -> str:
    flyte.report.log(f"<p>first {x}</p>")
    flyte.report.log("<p>second</p>")
    flyte.report.get_tab("details").log("<table><tr><td>d</td></tr></table>")
    flyte.report.flush()
    assert flyte.ctx().report is flyte.report.current_report()
    return flyte.ctx().output_path


def test_flush_writes_report_html_at_the_documented_path(roost_home: Path):
    run = flyte.run(logs_and_flushes, 7)
    path = report_at(roost_home, run)
    assert run.outputs()[0] + "/report.html" == str(path)
    page = path.read_text()
    assert main_tab_html(page) == "<p>first 7</p>\n<p>second</p>"
    assert "<table><tr><td>d</td></tr></table>" in page
    assert run.get_report() == page
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temporary left


@env.task
async def replaces(x: int) -> int:
    flyte.report.log("<p>gone</p>")
    flyte.report.replace(f"<p>only {x}</p>", do_flush=True)
    return x


def test_replace_replaces_the_main_tab(roost_home: Path):
    run = flyte.run(replaces, 1)
    page = report_at(roost_home, run).read_text()
    assert main_tab_html(page) == "<p>only 1</p>" and "gone" not in page


@env.task
async def aio_forms() -> None:
    await flyte.report.log.aio("<p>a</p>")
    await flyte.report.replace.aio("<p>b</p>")
    await flyte.report.log.aio("<p>c</p>", do_flush=True)
    flyte.report.get_tab("late").log("<p>after the flush</p>")
    await flyte.report.flush.aio()


def test_aio_forms_in_an_async_task(roost_home: Path):
    run = flyte.run(aio_forms)
    page = report_at(roost_home, run).read_text()
    assert main_tab_html(page) == "<p>b</p>\n<p>c</p>" and "<p>after the flush</p>" in page


@env.task(report=True)
def sync_declared(x: int) -> int:
    flyte.report.log(f"<p>sync {x}</p>")  # runs on a thread of its own
    return x


@env.task(report=True)
async def declared(x: int) -> int:
    flyte.report.log(f"<p>declared {x}</p>")
    return x


@env.task(report=True)
async def declared_but_empty() -> int:
    return 1


@env.task(report=True)
async def declared_and_fails() -> int:
    flyte.report.log("<p>never written</p>")
    raise ValueError("no")


@env.task
async def not_declared() -> int:
    flyte.report.log("<p>never written</p>")
    return 1


def test_report_true_writes_the_report_when_the_task_succeeds(roost_home: Path):
    run = flyte.run(declared, 3)
    assert main_tab_html(report_at(roost_home, run).read_text()) == "<p>declared 3</p>"
    run = flyte.run(sync_declared, 4)
    assert main_tab_html(report_at(roost_home, run).read_text()) == "<p>sync 4</p>"


def test_nothing_written_when_empty_failed_or_not_declared(roost_home: Path):
    run = flyte.run(declared_but_empty)
    assert not report_at(roost_home, run).exists() and run.get_report() is None
    with pytest.raises(RuntimeUserError):
        flyte.with_runcontext(name="fails").run(declared_and_fails)
    assert not (roost_home / "runs" / "fails" / "a0" / "report.html").exists()
    run = flyte.run(not_declared)
    assert not report_at(roost_home, run).exists()
    assert run.get_report() is None and run.action.get_report(0) is None


@env.task(report=True)
async def child(tag: str) -> str:
    for i in range(5):
        flyte.report.log(f"<p>{tag} {i}</p>")
        await asyncio.sleep(0.005)  # the two children take turns on the loop
    return flyte.ctx().action.name


@env.task(report=True)
async def parent() -> list[str]:
    flyte.report.log("<p>parent</p>")
    names = await asyncio.gather(child("left"), child("right"))
    flyte.report.log("<p>parent again</p>")
    return list(names)


def test_concurrent_actions_keep_separate_reports(roost_home: Path):
    run = flyte.run(parent)
    left_id, right_id = run.outputs()[0]
    left = main_tab_html(report_at(roost_home, run, left_id).read_text())
    right = main_tab_html(report_at(roost_home, run, right_id).read_text())
    assert left == "\n".join(f"<p>left {i}</p>" for i in range(5))
    assert right == "\n".join(f"<p>right {i}</p>" for i in range(5))
    assert main_tab_html(run.get_report()) == "<p>parent</p>\n<p>parent again</p>"
    assert run.get_action(left_id).get_report() == report_at(roost_home, run, left_id).read_text()


@env.task(report=True, retries=flyte.RetryStrategy(count=1, backoff=flyte.Backoff(timedelta(0))))
async def flaky() -> int:
    flyte.report.log(f"<p>attempt {flyte.ctx().attempt_number}</p>")
    if flyte.ctx().attempt_number == 0:
        raise RuntimeError("first attempt fails")
    return 1


def test_a_retry_starts_with_an_empty_report(roost_home: Path):
    run = flyte.run(flaky)
    assert main_tab_html(report_at(roost_home, run).read_text()) == "<p>attempt 1</p>"


def test_get_report_aio(roost_home: Path):
    async def main() -> tuple[flyte.remote.Run, str | None, str | None]:
        run = await flyte.run.aio(declared, 5)
        return run, await run.get_report.aio(), await run.action.get_report.aio()

    run, page, action_page = asyncio.run(main())
    assert main_tab_html(page) == "<p>declared 5</p>"  # type: ignore[arg-type]
    assert page == action_page == report_at(roost_home, run).read_text()


# -- in worker processes ---------------------------------------------------------------------------
@env.task
async def calls_workers() -> list[str]:
    return list(
        await asyncio.gather(
            report_tasks.async_in_worker.aio("async"),
            report_tasks.sync_in_worker.aio("sync"),
            report_tasks.flushed_in_worker.aio("flushed"),
        )
    )


def test_reports_written_in_worker_processes(roost_home: Path, store):
    run = flyte.run(calls_workers)
    async_pid, sync_pid, flushed_path = run.outputs()[0]
    assert str(os.getpid()) not in (async_pid, sync_pid)
    actions = {a.task_name: a for a in store.list_actions(run.name)}
    assert actions["report_isolated.async_in_worker"].isolation == "process"

    def path(task: str) -> Path:
        return report_at(roost_home, run, actions[f"report_isolated.{task}"].action_id)

    def page(task: str) -> str:
        return path(task).read_text()

    assert main_tab_html(page("async_in_worker")) == f"<p>async from pid {async_pid}</p>"
    sync_page = page("sync_in_worker")
    assert main_tab_html(sync_page) == f"<p>sync from pid {sync_pid}</p>" and "<code>worker</code>" in sync_page
    assert main_tab_html(page("flushed_in_worker")) == "<p>flushed</p>"
    assert flushed_path == str(path("flushed_in_worker").parent)
    assert not report_at(roost_home, run).exists()  # the parent logged nothing and was not declared


def test_forced_process_isolation_writes_the_root_report(roost_home: Path):
    run = flyte.with_runcontext(isolation="process").run(declared, 9)
    assert main_tab_html(report_at(roost_home, run).read_text()) == "<p>declared 9</p>"


def test_concurrent_calls_on_one_replica_keep_separate_reports(roost_home: Path, store):
    run = flyte.run(report_tasks.both_on_replica)
    pids = run.outputs()[0]
    assert len(set(pids)) == 1 and pids[0] != str(os.getpid())  # one warm replica served both
    calls = [a for a in store.list_actions(run.name) if a.task_name == "report_shared.on_replica"]
    pages = sorted(main_tab_html(report_at(roost_home, run, a.action_id).read_text()) for a in calls)
    assert pages == ["\n".join(f"<p>{tag} {i}</p>" for i in range(3)) for tag in ("left", "right")]
