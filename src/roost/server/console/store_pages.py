"""The console's pages of what the server's store holds besides runs: cached task results (each can be
forgotten) and the names of its secrets (never their values); and the API's routes.

Rendered on the server, every value escaped; the cache page's script (``cache.js``) forgets an entry
through the API (``DELETE /api/v1/cache/{key}``).
"""

from __future__ import annotations

import urllib.parse
from html import escape
from typing import Any

from roost.server.console.web_pages import layout, when


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n} {unit}"
        n //= 1024
    return f"{n} GiB"


def cache_page(entries: list[dict[str, Any]], task: str, caller: str) -> str:
    rows = []
    for e in entries:
        run = e.get("run_name")
        made = (
            f'<a href="/runs/{escape(urllib.parse.quote(run))}#{escape(e.get("action_id") or "")}">{escape(run)}</a>'
            if run
            else "-"
        )
        rows.append(
            f'<tr data-key="{escape(e["key"])}"><td>{escape(e["task"])}</td><td>{escape(e["version"])}</td>'
            f"<td>{escape(when(e['created_at']))}</td><td>{made}</td><td>{escape(_size(e['size']))}</td>"
            f'<td class="mono wrap">{escape(e["key"][:16])}...</td>'
            '<td><button type="button" class="forget">Forget</button></td></tr>'
        )
    empty = "Nothing is cached (tasks declared with <code>cache=</code> store their results here)."
    title = f' <span class="muted">{escape(task)}</span>' if task else ""
    body = f"""
<h1>Cached results{title}</h1>
<p class="muted">The newest 500, shared by every run of this store. A forgotten result is computed again by the
next call; <code>roost cache clear</code> forgets many.</p>
<p class="error-line" id="cache-error" role="alert"></p>
<table class="runs" id="cache">
<thead><tr><th>Task</th><th>Version</th><th>Stored</th><th>By run</th><th>Size</th><th>Key</th><th></th></tr></thead>
<tbody>
{"".join(rows) or f'<tr class="empty"><td colspan="7">{empty}</td></tr>'}
</tbody>
</table>
"""
    return layout("Cache", body, "cache.js", caller)


def secrets_page(names: list[dict[str, Any]], caller: str) -> str:
    rows = "".join(f"<tr><td>{escape(n['key'])}</td><td>{escape(n['group'] or '-')}</td></tr>" for n in names)
    empty = "No secret is stored (<code>roost secret create KEY</code>)."
    body = f"""
<h1>Secrets</h1>
<p class="muted">Their names only: values never leave the secret store.</p>
<table class="runs" id="secrets">
<thead><tr><th>Key</th><th>Group</th></tr></thead>
<tbody>
{rows or f'<tr class="empty"><td colspan="2">{empty}</td></tr>'}
</tbody>
</table>
"""
    return layout("Secrets", body, (), caller)


def api_page(doc: str, caller: str) -> str:
    """The API's routes, as ``server/api.py`` states them."""
    lines = [
        line.strip() for line in doc.splitlines() if line.strip().startswith(("GET", "POST", "PUT", "HEAD", "DELETE"))
    ]
    rows = []
    for line in lines:
        method, rest = line.split(None, 1)
        path, _, what = rest.partition("  ")
        cells = (f"<td class='mono'>{escape(method)}</td>", f"<td class='mono'>{escape(path)}</td>",
                 f"<td>{escape(what.strip())}</td>")  # fmt: skip
        rows.append(f"<tr>{''.join(cells)}</tr>")
    body = f"""
<h1>API</h1>
<p class="muted">JSON for anyone (<code>Accept: application/json</code>), msgpack for roost's client; every error is
a 4xx with <code>{{"error": ...}}</code>. From beyond this machine, an API key: <code>Authorization: Bearer KEY</code>.
docs/server.md has the details.</p>
<table class="runs" id="api-routes">
<thead><tr><th>Method</th><th>Path</th><th>What</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
</table>
"""
    return layout("API", body, (), caller)
