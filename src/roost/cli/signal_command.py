"""``roost signal RUN CONDITION [VALUE]`` and ``roost get conditions``: answering the conditions runs
wait on (docs/durable.md "Conditions"), in ROOST_HOME's store or on a roost server (``--endpoint``)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from roost.cli.render import format_time, one_line
from roost.errors import BaseRuntimeError
from roost.runtime.runs import condition_answers, server_client
from roost.runtime.task_api.conditions import coerce
from roost.store.open_stores import get_store

ENDPOINT = click.option(
    "--endpoint", metavar="URL", help="The roost server whose runs these are (default: ROOST_HOME's store)."
)


def _client(endpoint: str | None) -> server_client.ServerClient | None:
    return server_client.ServerClient(endpoint) if endpoint else None


def _conditions(endpoint: str | None, run: str | None, pending: bool) -> list[dict[str, Any]]:
    client = _client(endpoint)
    if client is not None:
        return client.list_conditions(run, pending)
    return [condition_answers.to_wire(c) for c in get_store().list_conditions(run, pending=pending)]


def _ask(found: dict[str, Any]) -> Any:
    """The answer, asked at the terminal: the condition's prompt (as markdown when it says so), then a
    value of its type until one reads."""
    console = Console(file=sys.stderr)
    prompt = found["prompt"]
    console.print(Markdown(prompt) if found["prompt_type"] == "markdown" else prompt, highlight=False)
    while True:
        text = click.prompt(f"{found['name']} ({found['data_type']})", err=True)
        try:
            return coerce(text, found["data_type"])
        except ValueError as e:
            console.print(f"[red]{e}[/red]")


@click.command("signal")
@click.argument("run")
@click.argument("condition")
@click.argument("value", required=False)
@click.option("--fail", "fail", metavar="REASON", help="Fail the condition: its wait() raises ConditionFailedError.")
@ENDPOINT
def signal_command(run: str, condition: str, value: str | None, fail: str | None, endpoint: str | None) -> None:
    """Answer CONDITION (its name, or its action id) of RUN with VALUE, read as the condition's type
    (true/false, a number, text). Without VALUE at a terminal, its prompt is shown and the value asked."""
    if value is not None and fail is not None:
        raise click.UsageError("give a VALUE or --fail REASON, not both")
    client = _client(endpoint)
    try:
        if value is None and fail is None:
            waiting = [c for c in _conditions(endpoint, run, False) if condition in (c["name"], c["action_id"])]
            if not waiting or not sys.stdin.isatty():
                raise click.UsageError("give the VALUE to answer with (or --fail REASON)")
            value = _ask(next((c for c in waiting if c["state"] == "waiting"), waiting[0]))
        if client is not None:
            done = client.signal_condition(run, condition, value, fail)
        else:
            done = condition_answers.to_wire(condition_answers.answer(get_store(), run, condition, value, fail))
    except server_client.ServerError as e:
        raise click.ClickException(one_line(str(e))) from None
    except BaseRuntimeError as e:
        raise click.ClickException(one_line(e.message)) from None
    except ValueError as e:
        raise click.ClickException(one_line(str(e))) from None
    what = f"failed ({done['reason']})" if done["state"] == "failed" else f"answered {done['value']!r}"
    click.echo(f"condition {done['name']} of run {run}: {what}")


@click.command("conditions")
@click.option("--run", "run", metavar="NAME", help="Only the conditions of run NAME.")
@click.option("--pending", is_flag=True, help="Only those waiting for an answer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@ENDPOINT
def get_conditions_command(run: str | None, pending: bool, as_json: bool, endpoint: str | None) -> None:
    """Conditions runs wait (or waited) on, newest first: what they ask and how they were answered."""
    try:
        found = _conditions(endpoint, run, pending)
    except server_client.ServerError as e:
        raise click.ClickException(one_line(str(e))) from None
    if as_json:
        click.echo(json.dumps(found, indent=1))
        return
    if not found:
        click.echo("No conditions" + (" pending" if pending else "") + (f" in run {run!r}" if run else ""), err=True)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("run", "condition", "type", "state", "answer", "by", "asked", "prompt"):
        table.add_column(column, no_wrap=column not in ("prompt", "answer"))
    for c in found:
        answer = (
            c["reason"] if c["state"] in ("failed", "timed_out") else ("" if c["value"] is None else repr(c["value"]))
        )
        prompt = c["prompt"].splitlines()[0] if c["prompt"] else ""
        table.add_row(c["run_name"], c["name"], c["data_type"], c["state"], answer, c["signalled_by"] or "",
                      format_time(c["created_at"]), prompt)  # fmt: skip
    Console(file=sys.stdout, width=200 if not sys.stdout.isatty() else None).print(table)
