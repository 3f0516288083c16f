"""``roost get runs | run NAME | logs NAME [ACTION] | action RUN [ACTION] | io RUN [ACTION]``: reading what
the run store recorded."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from rich.console import Console

from roost.cli import render
from roost.cli.get_actions import get_action, get_io
from roost.cli.state import endpoint_option, find_action, require_run, store
from roost.runtime.runs.action_handle import format_log_line
from roost.runtime.runs.run_liveness import controller_gone
from roost.runtime.task_api.action_report import REPORT_FILE
from roost.store.blobs import is_remote_uri, local_path_of
from roost.store.records import ActionPhase, ActionRecord, ErrorInfo, RunRecord

# Output that is not a terminal (a pipe, a file, a test) gets a wide fixed width, so that names in
# tables are never cut or wrapped.
PIPE_WIDTH = 200


def _console() -> Console:
    console = Console(file=sys.stdout)
    if not console.is_terminal:
        console = Console(file=sys.stdout, width=PIPE_WIDTH)
    return console


@click.group("get", short_help="Show recorded runs, their actions, inputs and outputs, or logs.")
def get_group() -> None:
    """Show what the run store (ROOST_HOME/roost.db) recorded."""


def _phase(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return ActionPhase(value.lower()).value
    except ValueError:
        names = ", ".join(p.value for p in ActionPhase)
        raise click.UsageError(f"unknown phase {value!r}; phases: {names}") from None


def _runs(limit: int, phase: str | None, task: str | None) -> list[RunRecord]:
    runs = store().list_runs(limit=limit, phase=phase, task_name=task)
    if runs or task is None or "." in task:
        return runs
    # A task's short name (`main` for `env.main`) is what a user remembers; match it too.
    candidates = store().list_runs(limit=max(limit * 50, 10_000), phase=phase)
    return [r for r in candidates if r.task_name.rsplit(".", 1)[-1] == task][:limit]


def _error_json(error: ErrorInfo | None) -> dict[str, Any] | None:
    return None if error is None else {"code": error.code, "kind": error.kind, "message": error.message}


def _run_json(run: RunRecord, gone: bool) -> dict[str, Any]:
    """What ``--json`` shows of a run: its facts, never its inputs, outputs or options."""
    return {
        "name": run.name,
        "task": run.task_name,
        "phase": run.phase.value,
        "mode": run.mode,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "controller_gone": gone,
        "recovered_from": run.recovered_from,
        "version": render.run_origin(run).get("version"),
        "trigger": render.run_origin(run).get("trigger"),
        "error": _error_json(run.error),
    }


def _action_json(action: ActionRecord, report: str | None) -> dict[str, Any]:
    return {**action.summary(), "short_name": action.short_name, "report": report, "error": _error_json(action.error)}


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of a table.")


@get_group.command("runs")
@endpoint_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs, newest first.")
@click.option("--phase", help="Only runs in this phase (running, succeeded, failed, ...).")
@click.option("--task", help="Only runs of this task (full or short name).")
@JSON_OPTION
def get_runs(limit: int, phase: str | None, task: str | None, as_json: bool) -> None:
    """List recorded runs, newest first."""
    runs = _runs(limit, _phase(phase), task)
    if as_json:
        _print_json([_run_json(r, controller_gone(r)) for r in runs])
        return
    if not runs:
        click.echo(f"No runs recorded in {store().path}" + (" match" if phase or task else ""), err=True)
        return
    gone = {r.name for r in runs if controller_gone(r)}
    _console().print(render.runs_table(runs, gone))


@get_group.command("run")
@endpoint_option
@click.argument("name")
@JSON_OPTION
def get_run(name: str, as_json: bool) -> None:
    """Show run NAME: its phase, its tree of actions and, if it failed, its error."""
    run = require_run(name)
    actions = store().list_actions(name)
    if as_json:
        reports = dict(_reports(run, actions))
        shown = _run_json(run, controller_gone(run))
        shown["actions"] = [_action_json(a, reports.get(a.action_id)) for a in actions]
        _print_json(shown)
        return
    console = _console()
    console.print(render.run_header(run, controller_gone(run)))
    console.print()
    console.print(render.action_tree(actions, render.phase_counts(actions), detailed=True))
    reports = _reports(run, actions)
    if reports:
        console.print()
        console.print("Reports:")
        for action_id, path in reports:
            console.print(f"  {render.short_id(action_id)}  {path}", highlight=False, soft_wrap=True)
    error, where = run.error, None
    if error is None and run.phase in (ActionPhase.FAILED, ActionPhase.TIMED_OUT):
        failed = [a for a in actions if a.error is not None]
        if failed:
            error, where = failed[-1].error, f"action {failed[-1].action_id}"
    if error is not None:
        console.print()
        console.print(render.error_block(error, where))


def _reports(run: RunRecord, actions: list[ActionRecord]) -> list[tuple[str, str]]:
    """The report.html files the run's actions wrote (``flyte.report``), in the order of the actions.

    Only a run whose base folder is on this machine is looked at: one folder listing, not a look-up per
    action, since most actions write no folder at all.
    """
    base = json.loads(run.options or "{}").get("run_base_dir")
    if not base or is_remote_uri(base):
        return []
    folder = local_path_of(base)
    try:
        with os.scandir(folder) as entries:
            written = {e.name for e in entries if e.is_dir() and os.path.isfile(os.path.join(e.path, REPORT_FILE))}
    except OSError:
        return []
    return [(a.action_id, os.path.join(folder, a.action_id, REPORT_FILE)) for a in actions if a.action_id in written]


@get_group.command("logs")
@endpoint_option
@click.argument("name")
@click.argument("action", required=False)
@click.option(
    "--attempt",
    "-a",
    type=click.IntRange(min=1),
    help="Only the lines of this attempt (1 is the first); every attempt's by default.",
)
@click.option("--show-ts", is_flag=True, help="Start each line with the time it was written (UTC, ISO 8601).")
@click.option(
    "--filter-system",
    is_flag=True,
    help="Accepted for Flyte's CLI; roost records only the task's own output, so there is nothing to filter.",
)
def get_logs(name: str, action: str | None, attempt: int | None, show_ts: bool, filter_system: bool) -> None:
    """Print the lines that run NAME (or one ACTION of it) wrote to stdout, stderr and logging."""
    require_run(name)
    if action is not None:
        record = find_action(name, action)
        lines = store().list_logs(name, record.action_id, None if attempt is None else attempt - 1)
        for line in lines:
            click.echo(format_log_line(line, show_ts))
    else:
        lines = store().list_logs(name)
        if attempt is not None:
            lines = [line for line in lines if line.attempt == attempt - 1]
        for line in lines:
            click.echo(f"[{render.short_id(line.action_id)}] {format_log_line(line, show_ts)}")
    if not lines:
        click.echo("No log lines recorded" + (f" for attempt {attempt}." if attempt else "."), err=True)


get_group.add_command(get_action)
get_group.add_command(get_io)
