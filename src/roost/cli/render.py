"""How runs and actions look in a terminal: phase colours, durations, the action tree, the runs table.

Everything here is a pure function from store records to rich renderables, so the live view of
``roost run`` and the static view of ``roost get run`` draw the same tree.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

import roost
from roost.store.records import ActionPhase, ActionRecord, ErrorInfo, RunRecord

PHASE_STYLES: dict[ActionPhase, str] = {
    ActionPhase.QUEUED: "dim",
    ActionPhase.WAITING_FOR_RESOURCES: "yellow",
    ActionPhase.INITIALIZING: "cyan",
    ActionPhase.RUNNING: "bold blue",
    ActionPhase.PAUSED: "magenta",
    ActionPhase.SUCCEEDED: "green",
    ActionPhase.FAILED: "bold red",
    ActionPhase.ABORTED: "red",
    ActionPhase.TIMED_OUT: "bold red",
    ActionPhase.RECOVERED: "green italic",
}
CONTROLLER_GONE = "running (controller gone)"
SHORT_ID = 8
TRACEBACK_LINES = 12
# Frames from files under this folder are roost's own.
_ROOST_DIR = str(Path(roost.__file__).parent) + os.sep


def phase_text(phase: ActionPhase, label: str | None = None) -> Text:
    return Text(label or phase.value.upper(), style=PHASE_STYLES.get(phase, ""))


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_time(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def elapsed(start: float | None, end: float | None, phase: ActionPhase) -> float | None:
    """Duration so far: a run or action that has not ended counts up to now, unless it is terminal
    without an end time (a dead controller never wrote one), which has no meaningful duration."""
    if start is None:
        return None
    if end is None:
        return None if phase.is_terminal else time.time() - start
    return end - start


def short_id(action_id: str) -> str:
    return action_id[:SHORT_ID]


def one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- runs --------------------------------------------------------------------------------------------
def runs_table(runs: Sequence[RunRecord], gone: set[str]) -> Table:
    """``gone``: names of runs whose phase says RUNNING but whose controller process is dead."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "task", "phase", "started", "duration", "mode"):
        table.add_column(column, no_wrap=True)
    for run in runs:
        if run.name in gone:
            phase = phase_text(ActionPhase.FAILED, CONTROLLER_GONE)
            duration = "-"
        else:
            phase = phase_text(run.phase)
            duration = format_duration(elapsed(run.started_at, run.ended_at, run.phase))
        table.add_row(run.name, run.task_name, phase, format_time(run.started_at), duration, run.mode)
    return table


def run_origin(run: RunRecord) -> dict[str, str]:
    """The deployed version a run ran and the trigger that fired it, where it has them."""
    try:
        options = json.loads(run.options or "{}")
    except ValueError:
        return {}
    return {k: options[k] for k in ("version", "trigger") if isinstance(options.get(k), str)}


def run_header(run: RunRecord, controller_gone: bool) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    phase = phase_text(ActionPhase.FAILED, CONTROLLER_GONE) if controller_gone else phase_text(run.phase)
    grid.add_row("run", run.name)
    grid.add_row("task", run.task_name)
    grid.add_row("phase", phase)
    grid.add_row("started", format_time(run.started_at))
    grid.add_row("duration", format_duration(elapsed(run.started_at, run.ended_at, run.phase)))
    grid.add_row("mode", run.mode)
    if run.recovered_from:
        grid.add_row("rerun of", run.recovered_from)
    made_by = run_origin(run)
    for what in ("version", "trigger"):
        if made_by.get(what):
            grid.add_row(what, made_by[what])
    if controller_gone:
        grid.add_row("hint", f"its process died; `roost rerun {run.name} --recover` resumes it")
    return grid


def user_traceback(text: str) -> list[str]:
    """The last traceback of the chain, without roost's own frames: the user wants the lines of their
    code that raised, not the controller and executor frames every failure passes through."""
    lines = text.rstrip().splitlines()
    # Of a chain of exceptions, the last one is the one that was raised.
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    kept: list[str] = []
    skipping = False
    for line in lines[starts[-1] if starts else 0 :]:
        if line.startswith('  File "'):
            skipping = _ROOST_DIR in line
        elif not line.startswith("    "):
            skipping = False  # a header or the exception line: always kept
        if not skipping:
            kept.append(line)
    return kept


def error_block(error: ErrorInfo, where: str | None = None) -> RenderableType:
    """The failure: code and message, then the end of the traceback (where the user's code raised)."""
    title = Text.assemble(("error ", "bold red"), (error.code, "bold"), (f" ({where})" if where else "", "dim"))
    parts: list[RenderableType] = [title, Text(error.message)]
    if error.traceback:
        lines = user_traceback(error.traceback)[-TRACEBACK_LINES:]
        parts.append(Text("\n".join(lines), style="dim"))
    return Group(*parts)


# -- the action tree ---------------------------------------------------------------------------------
@dataclass
class _Node:
    action: ActionRecord
    children: list[ActionRecord] = field(default_factory=list)


def _action_label(action: ActionRecord, detailed: bool) -> Text:
    text = Text.assemble(
        (action.short_name or action.task_name, "bold"),
        "  ",
        (short_id(action.action_id), "dim"),
        "  ",
        phase_text(action.phase),
        "  ",
        format_duration(elapsed(action.started_at, action.ended_at, action.phase)),
    )
    if detailed or action.attempts > 1:
        text.append(f"  attempts {action.attempts}")
    if action.cache_hit:
        text.append("  cache hit", style="cyan")
    if detailed and action.isolation:
        reason = f" ({action.isolation_reason})" if action.isolation_reason else ""
        text.append(f"  {action.isolation}{reason}", style="dim")
    if action.node:
        text.append(f"  on {action.node}", style="dim")
    if action.error is not None and action.phase in (ActionPhase.FAILED, ActionPhase.TIMED_OUT):
        text.append(f"  {action.error.code}: {one_line(action.error.message, 100)}", style="red")
    return text


def _children_by_parent(actions: Iterable[ActionRecord]) -> tuple[list[ActionRecord], dict[str, list[ActionRecord]]]:
    by_id = {}
    ordered = sorted(actions, key=lambda a: a.seq)
    for action in ordered:
        by_id[action.action_id] = action
    roots: list[ActionRecord] = []
    children: dict[str, list[ActionRecord]] = {}
    for action in ordered:
        # A child committed before its parent (or a parent lost in a crash) still shows, at the top.
        if action.parent_id is None or action.parent_id not in by_id:
            roots.append(action)
        else:
            children.setdefault(action.parent_id, []).append(action)
    return roots, children


def _visible(children: list[ActionRecord], limit: int | None) -> tuple[list[ActionRecord], list[ActionRecord]]:
    """Which children to draw when there are too many: the unfinished and failed ones first, since
    those are what a user watching a run looks for, then the most recent."""
    if limit is None or len(children) <= limit:
        return children, []
    done = (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED)
    chosen = [c for c in children if c.phase not in done][:limit]
    if len(chosen) < limit:
        taken = {id(c) for c in chosen}
        rest = [c for c in children if id(c) not in taken]
        chosen += rest[len(rest) - (limit - len(chosen)) :]
    keep = {id(c) for c in chosen}
    shown = [c for c in children if id(c) in keep]
    hidden = [c for c in children if id(c) not in keep]
    return shown, hidden


def _hidden_summary(hidden: list[ActionRecord]) -> Text:
    counts = Counter(a.phase for a in hidden)
    text = Text(f"… {len(hidden)} more: ", style="dim")
    for i, (phase, n) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1])):
        if i:
            text.append(", ", style="dim")
        text.append(f"{n} ")
        text.append_text(phase_text(phase, phase.value))
    return text


def _add_children(
    tree: Tree, parent_id: str, children: dict[str, list[ActionRecord]], detailed: bool, limit: int | None
) -> None:
    kids = children.get(parent_id, [])
    shown, hidden = _visible(kids, limit)
    groups: dict[str, Tree] = {}
    for child in shown:
        holder = tree
        if child.group_name:
            holder = groups.get(child.group_name) or tree.add(Text(f"group {child.group_name}", style="magenta"))
            groups[child.group_name] = holder
        branch = holder.add(_action_label(child, detailed))
        _add_children(branch, child.action_id, children, detailed, limit)
    if hidden:
        tree.add(_hidden_summary(hidden))


def action_tree(
    actions: Sequence[ActionRecord], title: RenderableType, detailed: bool = True, limit: int | None = None
) -> Tree:
    """The run's actions as a tree under ``title``; ``limit`` caps the children drawn per node."""
    tree = Tree(title, guide_style="dim")
    roots, children = _children_by_parent(actions)
    for root in roots:
        branch = tree.add(_action_label(root, detailed))
        _add_children(branch, root.action_id, children, detailed, limit)
    return tree


def phase_counts(actions: Sequence[ActionRecord]) -> Text:
    counts = Counter(a.phase for a in actions)
    text = Text(f"{len(actions)} action{'s' if len(actions) != 1 else ''}", style="bold")
    for phase in ActionPhase:
        if counts.get(phase):
            text.append("  ")
            text.append_text(phase_text(phase, f"{counts[phase]} {phase.value}"))
    return text


def print_outputs(outputs: Any) -> None:
    """A run's outputs (``ActionOutputs``) as ``roost run`` prints them: one value as it is, several
    as ``name: value`` lines."""
    if len(outputs) == 1:
        value = outputs[0]
        if value is not None:
            click.echo(value if isinstance(value, str) else repr(value))
        return
    for name, value in outputs.named_outputs.items():
        click.echo(f"{name}: {value!r}")
