"""HTML reports of running tasks (``flyte.report``).

Inside a task, ``log``/``replace`` add HTML to the current action's report and ``flush`` writes it to
``<run_base_dir>/<action id>/report.html`` (locally ``ROOST_HOME/runs/<run>/<action>/report.html``);
a task declared with ``report=True`` has it written when it succeeds, if it has content. Outside a
task they act on a throw-away report and ``flush`` does nothing.
"""

from roost.runtime.task_api.action_report import current_report, flush, get_tab, log, replace
from roost.runtime.task_api.report_page import Report, Tab
from roost.runtime.task_api.report_widgets import Timeline, abbreviate, duration_ms

__all__ = [
    "Report",
    "Tab",
    "Timeline",
    "abbreviate",
    "current_report",
    "duration_ms",
    "flush",
    "get_tab",
    "log",
    "replace",
]
