"""``roost deploy FILE [ENV ...]``, ``roost get tasks [NAME]`` and the inputs of ``roost run --deployed``:
deployed tasks on a roost server (docs/deploy.md)."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from roost.cli.loading import load_program
from roost.cli.remote_run import remote_endpoint
from roost.cli.render import format_time, one_line
from roost.errors import BaseRuntimeError
from roost.runtime.loader import load_module
from roost.runtime.runs.initialize import init

PIPE_WIDTH = 200


def _console() -> Console:
    console = Console(file=sys.stdout)
    return console if console.is_terminal else Console(file=sys.stdout, width=PIPE_WIDTH)


def _environments(file: str, names: tuple[str, ...]) -> list[Any]:
    """The environments of ``file`` named (all of its task environments when none are)."""
    from roost.spec.task_environment import TaskEnvironment

    module = load_program(file, lambda: load_module(file))
    found = {value.name: value for value in vars(module).values() if isinstance(value, TaskEnvironment)}
    if not names:
        if not found:
            raise click.UsageError(f"{file} declares no TaskEnvironment to deploy")
        return list(found.values())
    unknown = [n for n in names if n not in found]
    if unknown:
        raise click.UsageError(f"{file} has no environment {', '.join(map(repr, unknown))}; it has: {', '.join(found)}")
    return [found[n] for n in names]


@click.command("deploy", short_help="Register the tasks of environments on a roost server, under a version.")
@click.argument("file")
@click.argument("envs", nargs=-1, metavar="[ENV]...")
@click.option("--version", help="The version to register (default: a hash of the code and the declarations).")
@click.option("--dry-run", is_flag=True, help="Print the plan (environments in deployment order) and register nothing.")
@click.option(
    "--copy-style",
    type=click.Choice(["loaded_modules", "all", "none"]),
    default="loaded_modules",
    show_default=True,
    help="What code is sent (as remote runs send it).",
)
@click.option("--endpoint", metavar="URL", help="The roost server (default: as `roost run --remote` finds it).")
def deploy_command(
    file: str, envs: tuple[str, ...], version: str | None, dry_run: bool, copy_style: str, endpoint: str | None
) -> None:
    """Deploy the environments ENV of FILE (all of them by default) and what they depend on."""
    from roost.runtime.runs.deployments import deploy

    if not dry_run:
        init(endpoint=remote_endpoint(True, endpoint))
    chosen = _environments(file, envs)
    progress = Console(file=sys.stderr)
    # Building the images (once, on the server) may take minutes the first time: say so meanwhile.
    building = progress.status("building images and registering tasks...")
    try:
        with building if progress.is_terminal and not dry_run else contextlib.nullcontext():
            deployment = deploy(*chosen, dry_run=dry_run, version=version, copy_style=copy_style)[0]
    except (BaseRuntimeError, ValueError) as e:
        raise click.ClickException(one_line(getattr(e, "message", None) or str(e))) from None
    for line in deployment.images:
        click.echo(f"image {line}", err=True)
    table = Table(box=None, header_style="bold", pad_edge=False, title=None)
    for column in ("environment", "task", "version", "state"):
        table.add_column(column, no_wrap=True)
    for row in deployment.table_repr():
        table.add_row(*row)
    _console().print(table)
    what = "would be deployed (dry run)" if dry_run else "deployed"
    click.echo(
        f"version {deployment.version} {what}, environments in this order: {', '.join(deployment.envs)}", err=True
    )


@click.command("tasks")
@click.argument("name", required=False)
@click.option("--endpoint", metavar="URL", help="The roost server (default: as `roost run --remote` finds it).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def get_tasks_command(name: str | None, endpoint: str | None, as_json: bool) -> None:
    """Deployed tasks and their versions, newest first (every version of NAME if given)."""
    from roost.runtime.runs.deployed_tasks import Task

    init(endpoint=remote_endpoint(True, endpoint))
    try:
        tasks = Task.listall(name)
    except BaseRuntimeError as e:
        raise click.ClickException(one_line(e.message)) from None
    if as_json:
        click.echo(json.dumps([t.__dict__ for t in tasks], indent=1))
        return
    if not tasks:
        click.echo("No tasks deployed" + (f" named {name!r}" if name else ""), err=True)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("task", "version", "environment", "deployed", "inputs"):
        table.add_column(column, no_wrap=True)
    for t in tasks:
        inputs = ", ".join(
            f"{n}: {i.get('type')}" + ("" if not i.get("default") else " = ...") for n, i in t.inputs.items()
        )
        table.add_row(t.name, t.version, t.env_name, format_time(t.deployed_at), inputs)
    _console().print(table)


def deployed_inputs(declared: dict[str, Any], args: list[str]) -> dict[str, Any]:
    """``--name value`` pairs for a deployed task, read by the types it declared (int, float, bool, str;
    anything else as JSON, else as text). The server converts them to the declared types."""
    given: dict[str, Any] = {}
    items = list(args)
    while items:
        flag = items.pop(0)
        if not flag.startswith("--") or len(flag) < 3:
            raise click.UsageError(f"inputs are given as --name value, got {flag!r}")
        key, sep, value = flag[2:].partition("=")
        key = key.replace("-", "_") if key.replace("-", "_") in declared else key
        if key not in declared:
            raise click.UsageError(f"the task has no input {key!r}; its inputs: {', '.join(declared) or 'none'}")
        if not sep:
            if not items:
                raise click.UsageError(f"--{key} needs a value")
            value = items.pop(0)
        given[key] = _typed(declared[key].get("type"), value, key)
    missing = [n for n, info in declared.items() if not info.get("default") and n not in given]
    if missing:
        raise click.UsageError(f"missing inputs: {', '.join('--' + m for m in missing)}")
    return given


def _typed(type_name: str | None, text: str, key: str) -> Any:
    try:
        if type_name == "int":
            return int(text)
        if type_name == "float":
            return float(text)
        if type_name == "bool":
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
    except ValueError:
        raise click.UsageError(f"--{key} must be of type {type_name}, got {text!r}") from None
    if type_name == "str":
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
