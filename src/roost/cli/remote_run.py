"""``roost run --remote``: which server, and following a run there until it ends."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import click

from roost.cli.render import one_line, print_outputs
from roost.errors import BaseRuntimeError
from roost.runtime.runs.handles import Run
from roost.runtime.runs.runner import Runner
from roost.runtime.runs.server_client import ServerUnreachable
from roost.store import store_config
from roost.store.records import ActionPhase
from roost.task import TaskTemplate

ENDPOINT_ENV = "ROOST_ENDPOINT"


def remote_endpoint(remote: bool, endpoint: str | None) -> str | None:
    """The server a `roost run` goes to, or None for a local run: ``--endpoint``; with ``--remote``,
    $ROOST_ENDPOINT, the -c config's admin.endpoint, or the server running for ROOST_HOME; without
    ``--remote``, a config given with -c that names an endpoint (as ``flyte -c FILE run``)."""
    from roost.runtime.runs import flyte_config

    if endpoint:
        return endpoint
    explicit = flyte_config._explicit_path
    configured = flyte_config.load(explicit).platform.endpoint if explicit is not None else None
    if not remote:
        return configured
    found = os.environ.get(ENDPOINT_ENV) or configured
    if found:
        return found
    from roost.server.daemon import read_info

    info = read_info(store_config.current().home)
    if info is None:
        raise click.UsageError(
            "--remote needs a server: start one with `roost server start`, or give --endpoint URL / $ROOST_ENDPOINT"
        )
    return info.url


def remote_runner_run(runner: Runner, task: TaskTemplate[Any], inputs: dict[str, Any]) -> Run:
    return runner.run(task, **inputs)  # type: ignore[no-any-return]


def follow_remote(start: Callable[[], Run], follow: bool) -> None:
    """Submit, say where the run is, wait (printing its output lines with --follow), then print its
    outputs -- or its failure as one line (exit 1)."""
    try:
        run = start()
    except BaseRuntimeError as e:
        raise click.ClickException(one_line(e.message)) from None
    click.echo(f"Run {run.name}: {run.url}", err=True)
    seen = 0
    try:
        while True:
            try:
                phase = run.phase
                if follow:  # every action's lines, in the order they were stored
                    lines = run._store.list_logs(run.name)
                    for line in lines[seen:]:
                        click.echo(line.line)
                    seen = max(seen, len(lines))
            except ServerUnreachable:
                phase = ActionPhase.RUNNING  # the server restarts: keep waiting
            if phase.is_terminal:
                break
            time.sleep(0.2)
        if phase in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED):
            print_outputs(run.outputs())
            return
        record = run._record()
    except KeyboardInterrupt:
        click.echo(f"Stopped following run {run.name}; it goes on (roost abort {run.name} stops it)", err=True)
        raise click.exceptions.Exit(130) from None
    except BaseRuntimeError as e:  # the server refused a read: the key revoked meanwhile, say
        raise click.ClickException(f"cannot follow run {run.name}: {one_line(e.message)}") from None
    reason = f": {record.error.code}: {one_line(record.error.message)}" if record.error else ""
    raise click.ClickException(f"run {run.name} {phase.value.replace('_', ' ')}{reason}")
