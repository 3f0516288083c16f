"""``roost abort [run] NAME`` and ``roost abort action RUN ACTION``: ask a run's controller, through the
store, to cancel every action of a run, or one action and what it started."""

from __future__ import annotations

import time

import click

from roost.cli.state import find_action, require_run, store, writer
from roost.runtime.runs.run_liveness import controller_gone
from roost.store.records import ActionPhase, ErrorInfo

WAIT_POLL_S = 0.1


class AbortGroup(click.Group):
    """``abort run NAME`` and ``abort action RUN ACTION`` as in Flyte's CLI; ``abort NAME`` stays the
    short form of ``abort run NAME``."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "run", self.commands["run"], args
        return super().resolve_command(ctx, args)


@click.group("abort", cls=AbortGroup, short_help="Abort a running run, or one action of it.")
def abort_group() -> None:
    """Abort a run (`roost abort NAME`, or `roost abort run NAME`) or one action of it (`roost abort
    action RUN ACTION`)."""


@abort_group.command("run")
@click.argument("name")
@click.option("--wait", is_flag=True, help="Wait until the run has ended.")
@click.option("--reason", default="Manually aborted from the CLI", show_default=True, help="Why.")
def abort_run(name: str, wait: bool, reason: str) -> None:
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


@abort_group.command("action")
@click.argument("run_name")
@click.argument("action_name")
@click.option("--reason", default="Manually aborted from the CLI", show_default=True, help="Why.")
@click.option("--wait", is_flag=True, help="Wait until the action has ended.")
def abort_action(run_name: str, action_name: str, reason: str, wait: bool) -> None:
    """Abort ACTION_NAME of run RUN_NAME and the actions it started; its caller gets an
    ActionAbortedError (and may go on). The root action a0 is the run: aborting it aborts the run."""
    run = require_run(run_name)
    action = find_action(run_name, action_name)
    if action.parent_id is None:
        abort_run.callback(run_name, wait, reason)  # type: ignore[misc]
        return
    if action.phase.is_terminal:
        raise click.ClickException(
            f"action {action.action_id} of run {run_name} already finished ({action.phase.value})"
        )
    if controller_gone(run):
        raise click.ClickException(
            f"run {run_name} has no live controller to abort one action; "
            f"`roost abort {run_name}` records the run aborted"
        )
    writer().request_action_abort(run_name, action.action_id, reason)
    click.echo(f"Abort requested for action {action.action_id} of run {run_name}.")
    if wait:
        while not (current := find_action(run_name, action.action_id)).phase.is_terminal:
            if controller_gone(require_run(run_name)):
                raise click.ClickException(f"the controller of run {run_name} died before the action ended")
            time.sleep(WAIT_POLL_S)
        click.echo(f"Action {action.action_id} {current.phase.value}.")
