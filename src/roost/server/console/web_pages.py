"""The console's HTML: one layout and the pages in it, rendered on the server.

Every value from the store is escaped here; what a page needs to go on living (the run's actions, the
next page of runs) travels as a JSON island (``<script type="application/json">``, which no browser
runs) for the page's script. The pages carry no inline script or style, so the console's
Content-Security-Policy can forbid both.
"""

from __future__ import annotations

import datetime
import json
import urllib.parse
from html import escape
from typing import Any

from roost._version import __version__
from roost.store.records import ActionPhase

PHASES = [p.value for p in ActionPhase]


def json_island(element_id: str, data: Any) -> str:
    # "<" as \u003c: the island's text can never close its <script> element, whatever a value holds.
    text = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    return f'<script type="application/json" id="{escape(element_id)}">{text}</script>'


def layout(title: str, body: str, script: str | tuple[str, ...] = (), caller: str | None = None) -> str:
    who = ""
    if caller:
        logout = '<form method="post" action="/logout" class="inline"><button type="submit">log out</button></form>'
        who = f'<span class="who">signed in as <b>{escape(caller)}</b> {logout if caller != "local" else ""}</span>'
    scripts = '<script src="/console/static/console.js" defer></script>'
    for each in (script,) if isinstance(script, str) else script:
        scripts += f'<script src="/console/static/{escape(each)}" defer></script>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} - roost</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/static/console.css">
{scripts}
</head>
<body>
<header class="top">
<a class="brand" href="/">roost</a>
<nav><a href="/">Runs</a> <a href="/tasks">Tasks</a> <a href="/triggers">Triggers</a> <a href="/apps">Apps</a>
<a href="/cache">Cache</a>
<a href="/secrets">Secrets</a> <a href="/api">API</a></nav>
{who}
</header>
<main>
{body}
</main>
<footer>roost {escape(__version__)} &middot; the same data as JSON: <a href="/api">the API</a></footer>
</body>
</html>
"""


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def duration(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    if end is None:
        return "..."
    seconds = max(end - start, 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def phase_badge(phase: str, gone: bool = False) -> str:
    if gone:
        return '<span class="phase phase-failed" title="its process died">controller gone</span>'
    return f'<span class="phase phase-{escape(phase)}">{escape(phase.replace("_", " "))}</span>'


def origin_text(row: dict[str, Any]) -> str:
    parts = [row["mode"]]
    if row.get("trigger"):
        parts.append(f"trigger {row['trigger']}")
    if row.get("version"):
        parts.append(f"version {row['version']}")
    if row.get("recovered_from"):
        parts.append(f"rerun of {row['recovered_from']}")
    if row.get("started_by"):
        parts.append(f"by {row['started_by']}")
    return ", ".join(parts)


def run_rows(rows: list[dict[str, Any]]) -> str:
    out = []
    for row in rows:
        link = "/runs/" + urllib.parse.quote(row["name"])
        out.append(
            f'<tr data-run="{escape(row["name"])}">'
            f'<td><a href="{escape(link)}">{escape(row["name"])}</a></td>'
            f"<td>{escape(row['task'])}</td>"
            f"<td>{phase_badge(row['phase'], row['controller_gone'])}</td>"
            f"<td>{escape(when(row['started_at'] or row['created_at']))}</td>"
            f"<td>{escape(duration(row['started_at'], row['ended_at']))}</td>"
            f"<td>{escape(origin_text(row))}</td>"
            "</tr>"
        )
    return "\n".join(out) or '<tr class="empty"><td colspan="6">No runs match.</td></tr>'


def runs_page(
    rows: list[dict[str, Any]], filters: dict[str, str], next_cursor: str | None, first_page: bool, caller: str
) -> str:
    options = "".join(
        f'<option value="{p}"{" selected" if filters.get("phase") == p else ""}>{p.replace("_", " ")}</option>'
        for p in PHASES
    )
    kept = {k: v for k, v in filters.items() if v}
    more = newest = ""
    if next_cursor is not None:
        older = escape(urllib.parse.urlencode({**kept, "before": next_cursor}))
        more = f'<a class="button" id="next-page" href="/?{older}">Older runs &rarr;</a>'
    if not first_page:
        newest = f'<a class="button" href="/?{escape(urllib.parse.urlencode(kept))}">&larr; Newest</a>'
    task, name = escape(filters.get("task", "")), escape(filters.get("name", ""))
    body = f"""
<h1>Runs</h1>
<form class="filters" method="get" action="/" id="filters">
<label>Phase <select name="phase" id="filter-phase"><option value="">any</option>{options}</select></label>
<label>Task <input name="task" id="filter-task" value="{task}" placeholder="exact task name"></label>
<label>Name <input name="name" id="filter-name" value="{name}" placeholder="part of the run name"></label>
<button type="submit">Filter</button>
<span class="live" id="live" title="follows the store as runs change">{"live" if first_page else ""}</span>
</form>
<table class="runs" id="runs">
<thead><tr><th>Run</th><th>Task</th><th>Phase</th><th>Started</th><th>Duration</th><th>From</th></tr></thead>
<tbody id="runs-body">
{run_rows(rows)}
</tbody>
</table>
<p class="pages">{newest} {more}</p>
{json_island("runs-state", {"filters": kept, "live": first_page})}
"""
    return layout("Runs", body, "runs.js", caller)


def run_page(
    row: dict[str, Any], actions: list[dict[str, Any]], caller: str, window: dict[str, Any] | None = None
) -> str:
    name = row["name"]
    error = ""
    if row.get("error"):
        error = f'<pre class="error" id="run-error">{escape(row["error"]["message"])}</pre>'
    env_names = ", ".join(row.get("env_var_names") or []) or "-"
    why_not = row.get("rerun_refused") or ""
    refused = f' disabled title="{escape(why_not)}"' if why_not else ""
    body = f"""
<div class="run-head">
<h1><span class="muted">run</span> <span id="run-name">{escape(name)}</span></h1>
<span id="run-phase">{phase_badge(row["phase"], row["controller_gone"])}</span>
<button type="button" id="abort" class="danger"{" hidden" if row["terminal"] else ""}>Abort run</button>
<span class="reruns" id="reruns"{"" if row["terminal"] else " hidden"}>
<button type="button" id="rerun"{refused}>Rerun</button>
<button type="button" id="rerun-recover"{refused}>Rerun with recover</button>
<span class="muted" id="rerun-why">{escape(why_not)}</span>
</span>
</div>
<dl class="facts">
<dt>task</dt><dd>{escape(row["task"])}</dd>
<dt>from</dt><dd>{escape(origin_text(row))}</dd>
<dt>started</dt><dd>{escape(when(row["started_at"] or row["created_at"]))}</dd>
<dt>duration</dt><dd id="run-duration">{escape(duration(row["started_at"], row["ended_at"]))}</dd>
<dt>isolation</dt><dd>{escape(row.get("isolation") or "auto")}</dd>
<dt>env var names</dt><dd>{escape(env_names)}</dd>
</dl>
{error}
<p class="waiting" id="waiting" hidden></p>
<div class="tabs" role="tablist">
<button type="button" class="tab active" data-tab="tree-view">Actions</button>
<button type="button" class="tab" data-tab="timeline-view" id="timeline-tab">Timeline</button>
</div>
<div class="run-body">
<section class="pane" id="tree-view"><div id="tree" class="tree" aria-label="action tree"></div></section>
<section class="pane" id="timeline-view" hidden><div id="timeline" class="timeline"></div></section>
<section class="detail" id="detail"><p class="muted">Select an action to see its inputs, outputs, logs,
error and report.</p></section>
</div>
{json_island("run-state", {"run": row, "actions": actions, "window": window})}
"""
    return layout(f"Run {name}", body, ("markdown.js", "condition.js", "run.js"), caller)


def login_page(next_path: str, message: str = "", keys_enabled: bool = True) -> str:
    note = f'<p class="error-line">{escape(message)}</p>' if message else ""
    hint = (
        "From this machine the console needs no key."
        if not keys_enabled
        else "Enter an API key (<code>roost server create-key NAME</code> prints one). It is kept in a cookie that "
        "no script can read, until you log out."
    )
    body = f"""
<h1>Sign in</h1>
{note}
<p>{hint}</p>
<form method="post" action="/login" class="login">
<input type="hidden" name="next" value="{escape(next_path)}">
<label>API key <input type="password" name="key" id="key" autocomplete="off" autofocus></label>
<button type="submit">Sign in</button>
</form>
"""
    return layout("Sign in", body)


def not_found_page(what: str) -> str:
    return layout("Not found", f'<h1>Not found</h1><p class="error-line">{escape(what)}</p><p><a href="/">Runs</a></p>')
