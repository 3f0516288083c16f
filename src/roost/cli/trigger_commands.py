"""``roost get triggers`` and ``roost trigger activate|deactivate|delete|backfill``: the triggers
deployed on a roost server (docs/deploy.md "Triggers")."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import click
from rich.table import Table

from roost.cli.deploy import _console
from roost.cli.remote_run import remote_endpoint
from roost.cli.render import format_time, one_line
from roost.errors import BaseRuntimeError
from roost.runtime.runs import server_client
from roost.runtime.runs.initialize import init

ENDPOINT = click.option(
    "--endpoint", metavar="URL", help="The roost server (default: as `roost run --remote` finds it)."
)
TASK = click.option("--task", "task", metavar="TASK", help="The task the trigger belongs to (when NAME is not unique).")


def _client(endpoint: str | None) -> server_client.ServerClient:
    init(endpoint=remote_endpoint(True, endpoint))
    client = server_client.configured()
    assert client is not None
    return client


def automation_text(automation: dict[str, Any]) -> str:
    kind = automation.get("kind")
    if kind == "cron":
        return f"cron {automation['expression']} ({automation.get('timezone') or 'UTC'})"
    if kind == "fixed_rate":
        start = automation.get("start_time")
        return f"every {automation['interval_minutes']} min" + (f" from {format_time(start)}" if start else "")
    return f"on artifact {automation.get('name')} (not fired by roost)"


def _one(client: server_client.ServerClient, name: str, task: str | None) -> dict[str, Any]:
    """The trigger NAME (of ``task``): a usage error when there is none, or several and no --task."""
    found = client.list_triggers(task, name)
    if not found:
        raise click.UsageError(f"no trigger named {name!r}" + (f" on task {task!r}" if task else ""))
    if len(found) > 1:
        tasks = ", ".join(t["task"] for t in found)
        raise click.UsageError(f"several tasks have a trigger named {name!r} ({tasks}): say which with --task")
    return found[0]


@click.command("triggers")
@click.argument("task", required=False)
@ENDPOINT
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def get_triggers_command(task: str | None, endpoint: str | None, as_json: bool) -> None:
    """Deployed triggers (of TASK if given): schedule, state, next and last firing."""
    try:
        found = _client(endpoint).list_triggers(task)
    except BaseRuntimeError as e:
        raise click.ClickException(one_line(e.message)) from None
    if as_json:
        click.echo(json.dumps(found, indent=1, default=str))
        return
    if not found:
        click.echo("No triggers deployed" + (f" for {task!r}" if task else ""), err=True)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("task", "trigger", "schedule", "state", "next", "last fired", "version", "problem"):
        table.add_column(column, no_wrap=column != "problem")
    for t in found:
        state = "active" if t["active"] else "inactive"
        table.add_row(t["task"], t["name"], automation_text(t["automation"]), state, format_time(t["next_fire"]),
                      format_time(t["last_fired"]), t["version"], t.get("last_error") or "")  # fmt: skip
    _console().print(table)


@click.group("trigger")
def trigger_group() -> None:
    """Activate, deactivate, delete or backfill a deployed trigger."""


def _set_active(name: str, task: str | None, endpoint: str | None, active: bool) -> None:
    client = _client(endpoint)
    found = _one(client, name, task)
    after = client.set_trigger_active(found["task"], found["name"], active)
    state = f"active, next firing {format_time(after.get('next_fire'))}" if active else "inactive"
    click.echo(f"trigger {found['name']} of {found['task']}: {state}")


@trigger_group.command("activate")
@click.argument("name")
@TASK
@ENDPOINT
def activate_command(name: str, task: str | None, endpoint: str | None) -> None:
    """Activate trigger NAME: its schedule starts now (nothing missed while inactive fires)."""
    _set_active(name, task, endpoint, True)


@trigger_group.command("deactivate")
@click.argument("name")
@TASK
@ENDPOINT
def deactivate_command(name: str, task: str | None, endpoint: str | None) -> None:
    """Deactivate trigger NAME: it fires no more until activated."""
    _set_active(name, task, endpoint, False)


@trigger_group.command("delete")
@click.argument("name")
@TASK
@ENDPOINT
def delete_command(name: str, task: str | None, endpoint: str | None) -> None:
    """Delete trigger NAME (a later deploy that declares it registers it again)."""
    client = _client(endpoint)
    found = _one(client, name, task)
    client.delete_trigger(found["task"], found["name"])
    click.echo(f"trigger {found['name']} of {found['task']} deleted")


@trigger_group.command("fire")
@click.argument("name")
@TASK
@ENDPOINT
def fire_command(name: str, task: str | None, endpoint: str | None) -> None:
    """Fire trigger NAME now, with its inputs (active or not); prints its run's name."""
    client = _client(endpoint)
    found = _one(client, name, task)
    click.echo(client.fire_trigger(found["task"], found["name"]))


def _when(text: str, option: str) -> float:
    """An ISO 8601 time (UTC unless it names an offset) as a Unix time."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a time such as 2026-01-31T08:00 or 2026-01-31T08:00+01:00",
                                 param_hint=option) from None  # fmt: skip
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@trigger_group.command("backfill")
@click.argument("name")
@click.option(
    "--from", "start", required=True, metavar="TIME", help="From this time (excluded), ISO 8601; UTC unless it says."
)
@click.option("--to", "end", required=True, metavar="TIME", help="Up to this time (included).")
@click.option("--concurrency", type=click.IntRange(1, 100), default=4, show_default=True, help="Runs at once at most.")
@TASK
@ENDPOINT
def backfill_command(name: str, start: str, end: str, concurrency: int, task: str | None, endpoint: str | None) -> None:
    """Start a run for each time trigger NAME would have fired between --from and --to, except those
    that have a run already (each time's run has one name)."""
    begin, finish = _when(start, "--from"), _when(end, "--to")
    if begin >= finish:
        raise click.BadParameter("--from must be before --to", param_hint="--from")
    client = _client(endpoint)
    found = _one(client, name, task)
    answer = client.backfill(found["task"], found["name"], begin, finish, concurrency)
    for run in answer["runs"]:
        click.echo(run)
    click.echo(
        f"{len(answer['runs'])} runs started ({concurrency} at a time at most), "
        f"{len(answer['existing'])} times had a run already",
        err=True,
    )
