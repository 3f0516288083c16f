"""``roost abort NAME``: ask a run's controller, through the store, to cancel every action."""

from __future__ import annotations

import time

import click

from roost.cli.state import controller_gone, require_run, store, writer
from roost.store.records import ActionPhase, ErrorInfo

WAIT_POLL_S = 0.1


@click.command("abort", short_help="Abort a running run.")
@click.argument("name")
@click.option("--wait", is_flag=True, help="Wait until the run has ended.")
def abort_command(name: str, wait: bool) -> None:
    """Abort run NAME: every running action is cancelled and the run is recorded ABORTED."""
    run = require_run(name)
    if run.phase.is_terminal:
        raise click.ClickException(f"run {name} already finished ({run.phase.value})")
    if controller_gone(run):
        # No process is left to hear the request: record the end here, or the run would show as
        # running forever. Its finished actions stay, so `roost rerun --recover` can still use them.
        run.phase = ActionPhase.ABORTED
        run.ended_at = time.time()
        run.error = ErrorInfo("ActionAborted", "user", f"run {name} was aborted after its controller died")
        writer().put_run(run)
        writer().request_abort(name)
        click.echo(f"Run {name} had no live controller; recorded it as aborted.")
        return
    if not writer().request_abort(name):
        raise click.ClickException(f"no run named {name!r} in {store().path}")
    click.echo(f"Abort requested for run {name}.")
    if wait:
        while not (current := require_run(name)).phase.is_terminal:
            if controller_gone(current):
                raise click.ClickException(f"the controller of run {name} died before the run ended")
            time.sleep(WAIT_POLL_S)
        click.echo(f"Run {name} {current.phase.value}.")
