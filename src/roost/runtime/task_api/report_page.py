"""A task's HTML report: named tabs of HTML fragments, rendered as one self-contained page.

Pure data and text: no I/O and no knowledge of actions (``runtime/task_api/action_report.py`` ties a report to the
running action and writes it).
"""

from __future__ import annotations

import html as html_text
from dataclasses import dataclass, field
from typing import Any

MAIN_TAB = "main"


def as_html(value: Any) -> str:
    """A fragment to put in a tab: a str as it is; an object that renders itself (a ``Timeline``, a
    pandas DataFrame, anything with Jupyter's ``_repr_html_``) by its own HTML; anything else as escaped
    text, so that a stray ``<`` in a value cannot break the page."""
    if isinstance(value, str):
        return value
    for method in ("to_html", "_repr_html_", "__html__"):
        render = getattr(value, method, None)
        if callable(render):
            return str(render())
    return html_text.escape(str(value))


@dataclass
class Tab:
    """One tab of a report: HTML fragments, shown in the order they were logged."""

    name: str
    content: list[str] = field(default_factory=list)

    def log(self, html: Any) -> None:
        """Append a fragment."""
        self.content.append(as_html(html))

    def replace(self, html: Any) -> None:
        """Make this fragment the tab's only content."""
        self.content = [as_html(html)]

    def get_html(self) -> str:
        return "\n".join(self.content)

    def has_content(self) -> bool:
        return any(self.content)


@dataclass
class Report:
    """A named report; it always has a ``"main"`` tab, listed first."""

    name: str
    tabs: dict[str, Tab] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if MAIN_TAB not in self.tabs:
            # A new dict rather than an insertion into the caller's, so that "main" comes first.
            self.tabs = {MAIN_TAB: Tab(MAIN_TAB), **self.tabs}

    def get_tab(self, name: str, create_if_missing: bool = True) -> Tab:
        tab = self.tabs.get(name)
        if tab is None:
            if not create_if_missing:
                raise ValueError(f"tab {name!r} does not exist in report {self.name!r}")
            tab = self.tabs[name] = Tab(name)
        return tab

    def has_content(self) -> bool:
        return any(tab.has_content() for tab in self.tabs.values())

    def get_final_report(self) -> str:
        """The whole report as one HTML page: a nav entry per tab (an empty main tab is left out), and
        the first tab shown until another is picked."""
        shown = [tab for name, tab in self.tabs.items() if name != MAIN_TAB or tab.has_content()]
        nav = "\n".join(
            f'<a href="#tab-{i}" data-tab="tab-{i}">{html_text.escape(tab.name)}</a>' for i, tab in enumerate(shown)
        )
        sections = "\n".join(
            f'<section id="tab-{i}" class="tab" data-name="{html_text.escape(tab.name, quote=True)}">\n'
            f"{tab.get_html()}\n</section>"
            for i, tab in enumerate(shown)
        )
        return _PAGE.format(title=html_text.escape(self.name), nav=nav, sections=sections)


# The page needs nothing from the network: a viewer may open it from a machine without one. Without
# its script (a viewer that runs none) every tab is shown, one after another.
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; }}
nav {{ display: flex; gap: 0.25rem; padding: 0.5rem 1rem; border-bottom: 1px solid #ccc; background: #f6f6f6; }}
nav a {{ padding: 0.3rem 0.8rem; border-radius: 4px; text-decoration: none; color: #333; }}
nav a.active {{ background: #333; color: #fff; }}
section.tab {{ padding: 1rem; }}
body.tabbed section.tab {{ display: none; }}
body.tabbed section.tab.active {{ display: block; }}
</style>
</head>
<body>
<nav>
{nav}
</nav>
{sections}
<script>
(function () {{
  function show(id) {{
    var sections = document.querySelectorAll("section.tab");
    if (!sections.length) return;
    document.body.classList.add("tabbed");
    if (!document.getElementById(id)) id = sections[0].id;
    sections.forEach(function (s) {{ s.classList.toggle("active", s.id === id); }});
    document.querySelectorAll("nav a").forEach(function (a) {{
      a.classList.toggle("active", a.dataset.tab === id);
    }});
  }}
  window.addEventListener("hashchange", function () {{ show(location.hash.slice(1)); }});
  show(location.hash.slice(1));
}})();
</script>
</body>
</html>
"""
