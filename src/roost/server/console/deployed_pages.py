"""The console's pages of what is deployed on the server: tasks (every version) and their triggers.

Rendered on the server from the API's own records (``registry.DeployedTask.to_wire``,
``trigger_table.DeployedTrigger.to_wire``), every value escaped; the triggers page's script
(``triggers.js``) activates and deactivates them through the API.
"""

from __future__ import annotations

import urllib.parse
from html import escape
from typing import Any

from roost.server.console.web_pages import json_island, layout, when


def inputs_text(inputs: dict[str, Any]) -> str:
    parts = []
    for name, about in inputs.items():
        kind = about.get("type", "?") if isinstance(about, dict) else "?"
        optional = " (optional)" if isinstance(about, dict) and about.get("default") else ""
        parts.append(f"{name}: {kind}{optional}")
    return ", ".join(parts) or "none"


def tasks_page(tasks: list[dict[str, Any]], name: str, caller: str) -> str:
    rows = []
    for task in tasks:
        only = "/tasks?" + urllib.parse.urlencode({"name": task["name"]})
        runs = "/?" + urllib.parse.urlencode({"task": task["name"]})
        rows.append(
            f'<tr data-task="{escape(task["name"])}" data-version="{escape(task["version"])}">'
            f'<td><a href="{escape(only)}">{escape(task["name"])}</a></td>'
            f"<td>{escape(task['version'])}</td>"
            f"<td>{escape(task['env_name'])}</td>"
            f"<td>{escape(when(task['deployed_at']))}</td>"
            f'<td class="wrap">{escape(inputs_text(task["inputs"]))}</td>'
            f'<td><a href="{escape(runs)}">runs</a></td>'
            "</tr>"
        )
    empty = "No task is deployed here (<code>flyte.deploy(env)</code> or <code>roost deploy</code>)."
    body = f"""
<h1>Deployed tasks{f' <span class="muted">{escape(name)}</span>' if name else ""}</h1>
<p class="muted">Every version, newest first.{' <a href="/tasks">All tasks</a>' if name else ""}</p>
<table class="runs" id="tasks">
<thead><tr><th>Task</th><th>Version</th><th>Environment</th><th>Deployed</th><th>Inputs</th><th></th></tr></thead>
<tbody>
{"".join(rows) or f'<tr class="empty"><td colspan="6">{empty}</td></tr>'}
</tbody>
</table>
"""
    return layout("Deployed tasks", body, (), caller)


def automation_text(trigger: dict[str, Any]) -> str:
    automation = trigger.get("automation") or {}
    kind = automation.get("kind")
    if kind == "cron":
        return f"cron {automation.get('expression')} ({automation.get('timezone') or 'UTC'})"
    if kind == "fixed_rate":
        return f"every {automation.get('interval_minutes')} min"
    if kind == "artifact":
        return f"artifact {automation.get('name')}"
    return str(kind or "-")


def trigger_row(trigger: dict[str, Any]) -> str:
    active = trigger["active"]
    state = '<span class="phase phase-succeeded">active</span>' if active else '<span class="phase">inactive</span>'
    fired = "/?" + urllib.parse.urlencode({"task": trigger["task"]})
    error = f'<span class="error-line">{escape(trigger["last_error"])}</span>' if trigger.get("last_error") else ""
    return (
        f'<tr data-task="{escape(trigger["task"])}" data-trigger="{escape(trigger["name"])}"'
        f' data-active="{"true" if active else "false"}">'
        f"<td>{escape(trigger['task'])}</td>"
        f"<td>{escape(trigger['name'])}</td>"
        f"<td>{escape(automation_text(trigger))}</td>"
        f'<td class="state">{state}</td>'
        f"<td>{escape(when(trigger.get('next_fire')) if active else '-')}</td>"
        f'<td><a href="{escape(fired)}">{escape(when(trigger.get("last_fired")))}</a></td>'
        f"<td>{escape(trigger.get('version') or '-')}</td>"
        f'<td class="wrap">{error}</td>'
        f'<td><button type="button" class="toggle-active">{"Deactivate" if active else "Activate"}</button></td>'
        "</tr>"
    )


def triggers_page(triggers: list[dict[str, Any]], caller: str) -> str:
    empty = "No trigger is deployed here (a task's <code>triggers=</code>, then deploy)."
    body = f"""
<h1>Triggers</h1>
<p class="error-line" id="trigger-error" role="alert"></p>
<table class="runs" id="triggers">
<thead><tr><th>Task</th><th>Trigger</th><th>Fires</th><th>State</th><th>Next firing</th><th>Last fired</th>
<th>Version</th><th>Last error</th><th></th></tr></thead>
<tbody>
{"".join(trigger_row(t) for t in triggers) or f'<tr class="empty"><td colspan="9">{empty}</td></tr>'}
</tbody>
</table>
{json_island("triggers-state", {"count": len(triggers)})}
"""
    return layout("Triggers", body, "triggers.js", caller)


def app_row(app: dict[str, Any]) -> str:
    active = app["active"]
    replicas = f"{app['ready']}/{app['total']} (min {app['min']}, max {app['max']})"
    runs = " ".join(
        f'<a href="/runs/{escape(urllib.parse.quote(run))}">{escape(run)}</a>' for run in app.get("runs") or []
    )
    error = f'<span class="error-line">{escape(app["last_error"])}</span>' if app.get("last_error") else ""
    return (
        f'<tr data-app="{escape(app["name"])}" data-active="{"true" if active else "false"}">'
        f"<td>{escape(app['name'])}</td>"
        f'<td class="state"><span class="phase">{escape(app["state"])}</span></td>'
        f"<td>{escape(replicas)}</td>"
        f'<td><a href="{escape(app["url"])}/">{escape(app["url"])}</a></td>'
        f"<td>{escape(when(app.get('last_request')))}</td>"
        f"<td>{'key' if app['requires_auth'] else 'public'}</td>"
        f'<td class="wrap">{runs or "-"}</td>'
        f'<td class="wrap">{error}</td>'
        f'<td><button type="button" class="toggle-app">{"Stop" if active else "Start"}</button></td>'
        "</tr>"
    )


def apps_page(apps: list[dict[str, Any]], caller: str) -> str:
    empty = "No app is served here (<code>roost serve --remote FILE APP</code>)."
    body = f"""
<h1>Apps</h1>
<p class="muted">Served by this server at <code>/apps/NAME/</code>, scaled per their <code>Scaling</code>.</p>
<p class="error-line" id="app-error" role="alert"></p>
<table class="runs" id="apps">
<thead><tr><th>App</th><th>State</th><th>Replicas</th><th>URL</th><th>Last request</th><th>Access</th>
<th>Replica runs</th><th>Last error</th><th></th></tr></thead>
<tbody>
{"".join(app_row(a) for a in apps) or f'<tr class="empty"><td colspan="9">{empty}</td></tr>'}
</tbody>
</table>
"""
    return layout("Apps", body, "apps.js", caller)
