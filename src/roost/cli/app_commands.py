"""``roost get apps`` and ``roost app stop|start NAME``: the apps a roost server runs (docs/apps.md)."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from roost.cli.remote_run import remote_endpoint
from roost.cli.render import format_time, one_line
from roost.errors import BaseRuntimeError
from roost.runtime.runs.initialize import init

_ENDPOINT_HELP = "The roost server (default: as `roost run --remote` finds it)."


def _apps() -> type:
    from roost.runtime.runs.served_apps import App

    return App


@click.command("apps")
@click.argument("name", required=False)
@click.option("--endpoint", metavar="URL", help=_ENDPOINT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def get_apps_command(name: str | None, endpoint: str | None, as_json: bool) -> None:
    """The apps of a roost server (or app NAME): state, replicas ready/total, URL, last request."""
    init(endpoint=remote_endpoint(True, endpoint))
    try:
        found = [_apps().get(name)] if name else _apps().listall()
    except LookupError as e:
        raise click.ClickException(str(e)) from None
    except BaseRuntimeError as e:
        raise click.ClickException(one_line(e.message)) from None
    records = [app._record for app in found]
    if as_json:
        click.echo(json.dumps(records, indent=1))
        return
    if not records:
        click.echo("No apps served", err=True)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("app", "state", "replicas", "url", "last request", "auth"):
        table.add_column(column, no_wrap=True)
    for r in records:
        replicas = f"{r['ready']}/{r['total']} (min {r['min']}, max {r['max']})"
        auth = "key" if r["requires_auth"] else "public"
        table.add_row(r["name"], r["state"], replicas, r["url"], format_time(r["last_request"]), auth)
    console = Console(file=sys.stdout)
    (console if console.is_terminal else Console(file=sys.stdout, width=200)).print(table)


@click.group("app")
def app_group() -> None:
    """Start or stop an app a roost server runs."""


def _set_active(name: str, endpoint: str | None, active: bool) -> None:
    init(endpoint=remote_endpoint(True, endpoint))
    try:
        app = _apps().get(name)
        if active:
            app.activate()
        else:
            app.deactivate(wait=True)
    except (LookupError, TimeoutError) as e:
        raise click.ClickException(str(e)) from None
    except BaseRuntimeError as e:
        raise click.ClickException(one_line(e.message)) from None
    click.echo(f"app {name} {'started' if active else 'stopped'}: {app.url}", err=True)


@app_group.command("stop")
@click.argument("name")
@click.option("--endpoint", metavar="URL", help=_ENDPOINT_HELP)
def app_stop_command(name: str, endpoint: str | None) -> None:
    """Stop every replica of app NAME; its URL answers 503 until `roost app start NAME`."""
    _set_active(name, endpoint, False)


@app_group.command("start")
@click.argument("name")
@click.option("--endpoint", metavar="URL", help=_ENDPOINT_HELP)
def app_start_command(name: str, endpoint: str | None) -> None:
    """Serve app NAME again (its next request starts a replica, or its minimum start now)."""
    _set_active(name, endpoint, True)
