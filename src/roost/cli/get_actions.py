"""``roost get action RUN [ACTION]`` and ``roost get io RUN [ACTION]``: a run's actions one by one,
with each attempt's phases, and what an action received and returned."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from roost.cli import render
from roost.cli.state import endpoint_option, find_action, require_run, store
from roost.runtime.runs.action_details import ActionDetails
from roost.store.records import ActionPhase, ActionRecord

# Output that is not a terminal gets a wide fixed width, so that names are never cut or wrapped.
PIPE_WIDTH = 200


def _console() -> Console:
    console = Console(file=sys.stdout)
    return console if console.is_terminal else Console(file=sys.stdout, width=PIPE_WIDTH)


def _details(run_name: str, record: ActionRecord) -> ActionDetails:
    return ActionDetails(record, store().list_attempts(run_name, record.action_id))


def _seconds(details: ActionDetails, attempt: int) -> list[dict[str, Any]]:
    return [
        {
            "phase": t.phase.value,
            "start": t.start_time.timestamp(),
            "end": None if t.end_time is None else t.end_time.timestamp(),
            "seconds": t.duration.total_seconds(),
        }
        for t in details.get_phase_transitions(attempt)
    ]


def _actions_table(actions: list[ActionRecord]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("action", "task", "phase", "parent", "attempts", "started", "duration"):
        table.add_column(column, no_wrap=True)
    for a in actions:
        table.add_row(
            a.action_id,
            a.task_name,
            render.phase_text(a.phase),
            a.parent_id or "-",
            str(a.attempts),
            render.format_time(a.started_at),
            render.format_duration(render.elapsed(a.started_at, a.ended_at, a.phase)),
        )
    return table


def _show_action(details: ActionDetails) -> None:
    r = details.record
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("action", r.action_id)
    grid.add_row("run", r.run_name)
    grid.add_row("task", r.task_name)
    grid.add_row("phase", render.phase_text(r.phase))
    grid.add_row("parent", r.parent_id or "-")
    grid.add_row("attempts", str(r.attempts))
    grid.add_row("runtime", render.format_duration(details.runtime.total_seconds()))
    if r.cache_hit:
        grid.add_row("cache", "hit: answered from the cache without running")
    console = _console()
    console.print(grid)
    for n in range(1, max(r.attempts, 1) + 1):
        transitions = details.get_phase_transitions(n)
        if not transitions:
            continue
        console.print()
        console.print(f"attempt {n}", style="bold")
        for t in transitions:
            end = "now" if t.end_time is None else render.format_time(t.end_time.timestamp())
            console.print(
                f"  {t.phase.value:<22} {render.format_duration(t.duration.total_seconds()):>8}  "
                f"{render.format_time(t.start_time.timestamp())} -> {end}",
                highlight=False,
            )
    if r.error is not None:
        console.print()
        console.print(render.error_block(r.error))


@click.command("action")
@endpoint_option
@click.argument("run_name")
@click.argument("action_name", required=False)
@click.option(
    "--in-phase",
    type=click.Choice([p.value for p in ActionPhase], case_sensitive=False),
    help="Only the actions in this phase.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of a table.")
def get_action(run_name: str, action_name: str | None, in_phase: str | None, as_json: bool) -> None:
    """List the actions of run RUN_NAME, or show ACTION_NAME: its phase and each attempt's phases.

    ACTION_NAME may be a unique prefix of the action's id, as `roost get run` shows it.
    """
    require_run(run_name)
    if action_name is None:
        actions = store().list_actions(run_name, (in_phase.lower(),) if in_phase else ())
        if as_json:
            shown = [{"id": a.action_id, "task": a.task_name, "phase": a.phase.value} for a in actions]
            click.echo(json.dumps(shown, indent=2))
        elif not actions:
            click.echo(f"Run {run_name} has no actions" + (f" in phase {in_phase}" if in_phase else ""), err=True)
        else:
            _console().print(_actions_table(actions))
        return
    if in_phase is not None:
        raise click.UsageError("--in-phase lists actions; it cannot be given with ACTION_NAME")
    details = _details(run_name, find_action(run_name, action_name))
    if as_json:
        r = details.record
        attempts = [{"attempt": n, "phases": _seconds(details, n)} for n in range(1, max(r.attempts, 1) + 1)]
        error = None if r.error is None else {"code": r.error.code, "kind": r.error.kind, "message": r.error.message}
        shown = {"id": r.action_id, "task": r.task_name, "phase": r.phase.value, "attempts": attempts, "error": error}
        click.echo(json.dumps(shown, indent=2))
        return
    _show_action(details)


def _values(values: dict[str, Any]) -> list[str]:
    return [f"  {name}: {value!r}" for name, value in values.items()] or ["  (none)"]


@click.command("io")
@endpoint_option
@click.argument("run_name")
@click.argument("action_name", required=False)
@click.option("--inputs-only", "-i", is_flag=True, help="Show only the inputs.")
@click.option("--outputs-only", "-o", is_flag=True, help="Show only the outputs.")
def get_io(run_name: str, action_name: str | None, inputs_only: bool, outputs_only: bool) -> None:
    """Show the inputs and outputs of run RUN_NAME (its root action), or of its action ACTION_NAME."""
    if inputs_only and outputs_only:
        raise click.UsageError("--inputs-only and --outputs-only cannot be given together")
    require_run(run_name)
    details = _details(run_name, find_action(run_name, action_name or "a0"))
    lines: list[str] = []
    if not outputs_only:
        lines += ["Inputs", *_values(asyncio.run(details.inputs()))]
    if not inputs_only:
        phase = details.phase
        if phase in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED):
            outputs = asyncio.run(details.outputs())
            lines += ["Outputs", *_values(outputs.named_outputs)]
        elif phase.is_terminal:
            lines += ["Outputs", f"  (none: the action ended {phase.value})"]
        else:
            lines += ["Outputs", f"  (not yet available: the action is {phase.value})"]
    for line in lines:
        click.echo(line)
