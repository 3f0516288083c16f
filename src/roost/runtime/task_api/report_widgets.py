"""Small helpers for building report HTML: a timeline of named spans, shortened values, durations."""

from __future__ import annotations

import html as html_text
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Union

# A moment: a datetime, or seconds as time.time() / time.monotonic() give them (not mixed in one call).
Moment = Union[datetime, float, int]


def duration_ms(start: Moment, end: Moment) -> float:
    """Milliseconds from ``start`` to ``end`` (negative when ``end`` comes first)."""
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise TypeError("duration_ms needs two datetimes or two numbers of seconds, not one of each")
    if isinstance(start, datetime) and isinstance(end, datetime):
        return (end - start).total_seconds() * 1000.0
    return (float(end) - float(start)) * 1000.0  # type: ignore[arg-type]


def abbreviate(value: Any, limit: int = 300) -> str:
    """``str(value)``, cut to at most ``limit`` characters; a cut text ends with ``...``.

    The text is not HTML-escaped: escape it (``html.escape``) before logging it as HTML.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    if limit <= 3:
        return "." * limit
    return text[: limit - 3] + "..."


@dataclass(frozen=True)
class Span:
    name: str
    start: Moment
    end: Moment
    detail: str | None = None


class Timeline:
    """Named spans of time drawn as bars on one shared axis (plain HTML and CSS, no script).

    ``add(name, start, end, detail=None)`` records a span; ``to_html()`` renders the chart, so
    ``flyte.report.log(timeline)`` (or ``log(timeline.to_html())``) puts it in a report.
    """

    def __init__(self, title: str = "Timeline"):
        self.title = title
        self.spans: list[Span] = []

    def add(self, name: str, start: Moment, end: Moment, detail: str | None = None) -> Timeline:
        duration_ms(start, end)  # refuses a datetime mixed with seconds now, not when rendering
        self.spans.append(Span(name, start, end, detail))
        return self

    def to_html(self) -> str:
        title = f"<h3>{html_text.escape(self.title)}</h3>" if self.title else ""
        if not self.spans:
            return f'<div class="roost-timeline">{title}<p>No spans.</p></div>'
        origin = min(self.spans, key=lambda s: duration_ms(self.spans[0].start, s.start)).start
        offsets = [(duration_ms(origin, s.start), duration_ms(s.start, s.end)) for s in self.spans]
        total = max((offset + max(length, 0.0) for offset, length in offsets), default=0.0) or 1.0
        rows = []
        for span, (offset, length) in zip(self.spans, offsets):
            left = 100.0 * offset / total
            width = max(100.0 * max(length, 0.0) / total, 0.2)  # a zero-length span stays visible
            label = html_text.escape(span.name)
            tip = html_text.escape(span.detail or f"{span.name}: {length:.1f} ms", quote=True)
            rows.append(
                "<tr>"
                f'<td style="white-space:nowrap;padding-right:0.5rem">{label}</td>'
                f'<td style="width:100%"><div style="position:relative;height:1rem">'
                f'<div title="{tip}" style="position:absolute;left:{left:.3f}%;width:{width:.3f}%;'
                'height:100%;background:#4a78c2;border-radius:2px"></div></div></td>'
                f'<td style="white-space:nowrap;text-align:right;padding-left:0.5rem">{length:.1f} ms</td>'
                "</tr>"
            )
        return (
            f'<div class="roost-timeline">{title}'
            f'<table style="width:100%;border-collapse:collapse">{"".join(rows)}</table></div>'
        )

    def _repr_html_(self) -> str:
        return self.to_html()
