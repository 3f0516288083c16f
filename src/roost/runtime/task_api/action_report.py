"""The running action's report (``flyte.report``) and where it is written.

An action's ``Report`` lives in its ``TaskContext`` (``ctx().report``), which is built once per
attempt wherever the action's code runs -- on the controller's loop, on a thread, in a worker process,
in Ray -- so two actions never share a report, and a retry starts with an empty one. ``flush()``
writes ``report.html`` into the action's output location, ``<run_base_dir>/<action id>/report.html``
(locally ``ROOST_HOME/runs/<run>/<action>/report.html``): a reader never sees half a page, since the
page is written beside its final name and renamed into place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from roost.runtime.syncify import dual
from roost.runtime.task_api.report_page import MAIN_TAB, Report, Tab
from roost.runtime.task_api.task_context import ContextSource, current_action
from roost.store.blobs import is_remote_uri, local_path_of, url_to_fs, write_whole

REPORT_FILE = "report.html"


def current_report() -> Report:
    """The current action's report; outside a task, a new throw-away report named ``"dummy"``."""
    source = current_action.get()
    if source is None:
        return Report(name="dummy")
    return source.task_context().report  # type: ignore[no-any-return]


def get_tab(name: str, create_if_missing: bool = True) -> Tab:
    """A tab of the current report (ValueError when it is missing and ``create_if_missing`` is False)."""
    return current_report().get_tab(name, create_if_missing=create_if_missing)


def report_location(output_path: str) -> str:
    """Where an action's report is written, given its output location (``ctx().output_path``)."""
    return f"{output_path.rstrip('/')}/{REPORT_FILE}"


def write_page(location: str, page: str) -> None:
    """Write ``page`` at ``location`` so that a reader sees the old page or the new one, never part."""
    write_whole(location, page.encode("utf-8"))


def read_page(location: str) -> str | None:
    """The report written at ``location``, or None when there is none."""
    try:
        if is_remote_uri(location):
            fs, path = url_to_fs(location)
            return fs.cat_file(path).decode("utf-8")  # type: ignore[no-any-return]
        with open(local_path_of(location), encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _pending_write(source: ContextSource | None) -> tuple[str, str] | None:
    """Where the current page goes and the page itself -- rendered now, in the caller's thread, so that
    what was logged before the call is what gets written."""
    if source is None:
        return None
    tc = source.task_context()
    if tc.report is None or tc.output_path is None:
        return None
    return report_location(tc.output_path), tc.report.get_final_report()


def _flush() -> None:
    """Write the current action's report to ``<output_path>/report.html``; no-op outside a task."""
    pending = _pending_write(current_action.get())
    if pending is not None:
        write_page(*pending)


async def _flush_aio() -> None:
    pending = _pending_write(current_action.get())
    if pending is not None:
        await asyncio.to_thread(write_page, *pending)


flush = dual(_flush, _flush_aio)


def _main_tab_edit(edit: Callable[[Tab, Any], None], doc: str) -> dual[None]:
    """``flyte.report.log`` / ``replace``: ``edit`` the main tab of the current report with the HTML
    given, then write the report if ``do_flush`` (blocking, or awaited with ``.aio``)."""

    def blocking(html: Any, do_flush: bool = False) -> None:
        edit(current_report().get_tab(MAIN_TAB), html)
        if do_flush:
            _flush()

    async def awaitable(html: Any, do_flush: bool = False) -> None:
        edit(current_report().get_tab(MAIN_TAB), html)
        if do_flush:
            await _flush_aio()

    blocking.__name__ = blocking.__qualname__ = edit.__name__
    blocking.__doc__ = doc
    return dual(blocking, awaitable)


log = _main_tab_edit(
    Tab.log, "Append HTML to the main tab of the current report (and write the report if ``do_flush``)."
)
replace = _main_tab_edit(
    Tab.replace, "Replace the main tab of the current report (and write the report if ``do_flush``)."
)


async def flush_declared(source: ContextSource) -> None:
    """The end of a successful attempt of a ``report=True`` task: write its report if it has content.

    Executors call this only for such tasks, so others never build a context just to look.
    """
    tc = source.task_context()
    report = tc.report
    if report is None or tc.output_path is None or not report.has_content():
        return
    await asyncio.to_thread(write_page, report_location(tc.output_path), report.get_final_report())
