"""``roost run FILE TASK --input value ...`` and ``roost rerun NAME [--recover]``.

Everything that can be wrong with the command line (file, task, inputs, options) is checked before
the run starts, so a bad invocation exits 2 with one line and leaves no run in the store.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from roost.cli.inputs import parse_inputs
from roost.cli.loading import import_from_cwd, load_program
from roost.cli.remote_run import follow_remote, remote_endpoint, remote_runner_run
from roost.cli.render import one_line, print_outputs
from roost.cli.session import RunSession
from roost.cli.state import find_action, require_run, store
from roost.errors import BaseRuntimeError, StoreError
from roost.runtime.ids import new_run_name
from roost.runtime.runs.handles import Run
from roost.runtime.runs.initialize import init
from roost.runtime.runs.runner import Runner, load_task, rerun_name, with_runcontext
from roost.store import server_info, store_config
from roost.store.records import ActionPhase, RunRecord
from roost.store.run_store import RunNameTaken
from roost.task import TaskTemplate

EXIT_INTERRUPTED = 130


def _console() -> Console:
    return Console(file=sys.stdout)


def _wants_live(console: Console, no_live: bool) -> bool:
    return not no_live and console.is_terminal and not console.is_dumb_terminal


def _load(location: str, task_name: str) -> TaskTemplate[Any]:
    return load_program(location, lambda: load_task(location, task_name))


def _env_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            # The text itself is not repeated: it may be a secret typed in the wrong place.
            raise click.UsageError("--env takes KEY=VALUE")
        env[key] = value
    return env


def _runner(**options: Any) -> Runner:
    try:
        return with_runcontext(**options)
    except (ValueError, TypeError) as e:
        raise click.UsageError(one_line(str(e))) from None


def _refused(message: str, rerun_of: str | None) -> click.ClickException:
    """A run that never started. For `roost run` that is the command line's fault (exit 2); a rerun
    whose recorded task cannot be loaded any more is not (exit 1)."""
    if rerun_of is None:
        return click.UsageError(message)
    return click.ClickException(f"rerun of {rerun_of} did not start: {message}")


def _failure_summary(name: str, record: RunRecord, error: BaseException | None) -> str:
    if record.phase is ActionPhase.ABORTED:
        return f"run {name} was aborted"
    state = record.phase.value.replace("_", " ")
    if record.error is not None:
        return f"run {name} {state}: {record.error.code}: {one_line(record.error.message)}"
    if error is not None:
        return f"run {name} {state}: {type(error).__name__}: {one_line(str(error))}"
    return f"run {name} {state}"


def _say_console_url(run_name: str) -> None:
    """Where the run shows in the web console, when a server runs for this ROOST_HOME (on stderr:
    stdout carries the run's outputs)."""
    url = server_info.run_page_url(store_config.current().home, run_name)
    if url is not None:
        click.echo(f"Run {run_name}: {url}", err=True)


def _watch(run_name: str, task_name: str, start: Callable[[], Run], no_live: bool, rerun_of: str | None = None) -> None:
    """Run ``start`` under a live view, then turn how it ended into output and an exit code."""
    console = _console()
    outcome = RunSession(run_name, task_name, start, console, _wants_live(console, no_live)).drive()
    if isinstance(outcome.error, StoreError):
        raise outcome.error
    if isinstance(outcome.error, RunNameTaken):
        # Another run claimed the name after the check before starting: the row is that run's, not ours.
        raise click.UsageError(str(outcome.error))
    record = store().get_run(run_name)
    if record is None:
        if outcome.interrupted:
            raise click.exceptions.Exit(EXIT_INTERRUPTED)
        error = outcome.error
        raise _refused(one_line(str(error)) if error is not None else "the run did not start", rerun_of)
    if outcome.interrupted:
        click.echo(f"Run {run_name} {record.phase.value}", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED)
    if record.phase in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED) and outcome.run is not None:
        print_outputs(outcome.run.outputs())
        return
    raise click.ClickException(_failure_summary(run_name, record, outcome.error))


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    short_help="Run a task of a Python file or module.",
)
@click.option("--name", "run_name", help="Name of the run (default: generated).")
@click.option(
    "--isolation",
    type=click.Choice(["auto", "inline", "process", "ray"]),
    default=None,
    help="Where actions run: in this process, in processes of their own, as their settings need (auto, the "
    "default), or on a Ray cluster (the default with --ray).",
)
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS",
    help="Run the actions on this Ray cluster ('auto', '127.0.0.1:6379', 'ray://host:10001'); see docs/ray.md.",
)
@click.option("--max-action-concurrency", type=int, help="How many actions of the run may run at once.")
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="Environment variable for the run's actions.")
@click.option("--overwrite-cache", is_flag=True, help="Run cached tasks again and overwrite their cache entries.")
@click.option("--disable-run-cache", is_flag=True, help="Do not use the cache in this run.")
@click.option("--no-live", is_flag=True, help="Print the run name and the result only, no live tree.")
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Show the tasks' output as it is written, instead of the live tree (implies --no-live).",
)
@click.option("--local", is_flag=True, help="Run in this process's machine, not on a server (the default).")
@click.option(
    "--remote",
    is_flag=True,
    help="Run on a roost server: --endpoint, else $ROOST_ENDPOINT, the -c config's admin.endpoint, or the server "
    "running for ROOST_HOME (docs/server.md).",
)
@click.option("--endpoint", metavar="URL", help="The roost server for --remote (its key: $ROOST_API_KEY).")
@click.option(
    "--deployed",
    metavar="NAME[@VERSION]",
    help="Run a task deployed on the server (`roost get tasks`), its newest version unless @VERSION; "
    "then no FILE TASK, only its inputs.",
)
@click.argument("file", required=False)
@click.argument("task", required=False)
@click.argument("task_args", nargs=-1, type=click.UNPROCESSED, metavar="[--INPUT VALUE]...")
@click.pass_context
def run_command(
    ctx: click.Context,
    run_name: str | None,
    isolation: str | None,
    ray_address: str | None,
    max_action_concurrency: int | None,
    env: tuple[str, ...],
    overwrite_cache: bool,
    disable_run_cache: bool,
    no_live: bool,
    follow: bool,
    local: bool,
    remote: bool,
    endpoint: str | None,
    deployed: str | None,
    file: str | None,
    task: str | None,
    task_args: tuple[str, ...],
) -> None:
    """Run TASK of FILE (a .py file or a module name) with the inputs given as options.

    Options of `roost run` come before FILE; after TASK come the task's inputs. `roost run FILE TASK
    --help` lists them with their types and defaults.
    """
    if deployed is not None:
        if local:
            raise click.UsageError("--deployed runs on a server: it contradicts --local")
        given = [a for a in (file, task) if a is not None] + list(task_args)
        run_deployed_command(deployed, given, endpoint, run_name, env, follow)
        return
    if file is None or task is None:
        raise click.UsageError("give FILE and TASK (or --deployed NAME)")
    if file.startswith("-"):
        # FILE swallows what click could not place (options are left unparsed for the task's inputs);
        # a dash there is an option of `roost run` that does not exist, not a file name.
        raise click.NoSuchOption(file.split("=", 1)[0], ctx=ctx)
    if ray_address is not None:
        try:
            init(ray_address=ray_address)  # as a program would: Ray becomes the runs' isolation
        except ValueError as e:
            raise click.UsageError(one_line(str(e))) from None
    if local and (remote or endpoint):
        raise click.UsageError("--local contradicts --remote/--endpoint")
    server = None if local else remote_endpoint(remote, endpoint)
    if server is not None:
        if isolation is not None or ray_address is not None:
            raise click.UsageError("--isolation and --ray are the server's to choose in a remote run")
        try:
            init(endpoint=server)
        except ValueError as e:
            raise click.UsageError(one_line(str(e))) from None
    template = _load(file, task)
    inputs = parse_inputs(template, list(task_args), f"{ctx.command_path} {file} {task}")
    if server is not None:
        remote_run = _runner(
            mode="remote",
            name=run_name,
            max_action_concurrency=max_action_concurrency,
            env_vars=_env_vars(env),
            overwrite_cache=overwrite_cache,
            disable_run_cache=disable_run_cache,
        )
        follow_remote(lambda: remote_runner_run(remote_run, template, inputs), follow)
        return
    name = run_name or new_run_name()
    runner = _runner(
        name=name,
        isolation=isolation,
        max_action_concurrency=max_action_concurrency,
        env_vars=_env_vars(env),
        overwrite_cache=overwrite_cache,
        disable_run_cache=disable_run_cache,
    )
    if store().get_run(name) is not None:
        raise click.UsageError(f"a run named {name!r} already exists; choose another --name")
    _say_console_url(name)
    _watch(name, template.name, lambda: runner.run(template, **inputs), no_live or follow)


def run_deployed_command(
    deployed: str, args: list[str], endpoint: str | None, run_name: str | None, env: tuple[str, ...], follow: bool
) -> None:
    """``roost run --deployed NAME[@VERSION] --x 1``: the task as deployed, on the server."""
    from roost.cli.deploy import deployed_inputs
    from roost.runtime.runs.deployed_tasks import Task

    name, _, version = deployed.partition("@")
    init(endpoint=remote_endpoint(True, endpoint))
    lazy = Task.get(name, version=version) if version else Task.get(name, auto_version="latest")
    try:
        details = lazy.fetch()
    except BaseRuntimeError as e:
        raise click.UsageError(one_line(e.message)) from None
    inputs = deployed_inputs(details.inputs, args)
    runner = _runner(mode="remote", name=run_name, env_vars=_env_vars(env))
    follow_remote(lambda: runner.run(lazy, **inputs), follow)


@click.command("rerun", short_help="Run a recorded run's task again (--recover resumes it).")
@click.argument("source")
@click.option("--recover", is_flag=True, help="Reuse the outputs of every action that succeeded in SOURCE.")
@click.option(
    "--action-name",
    help="Run only this action of SOURCE again, as the root of the new run, with the inputs it received "
    "(not with --recover). `roost get action SOURCE` lists them.",
)
@click.option(
    "--force-rerun-action",
    "force_rerun_actions",
    multiple=True,
    metavar="ACTION",
    help="With --recover: run this action again even though it succeeded in SOURCE. Repeatable.",
)
@click.option("--name", "run_name", help="Name of the new run (default: SOURCE-r1, -r2, ...).")
@click.option("--no-live", is_flag=True, help="Print the run name and the result only, no live tree.")
@click.option("--follow", "-f", is_flag=True, help="Show the tasks' output as it is written (implies --no-live).")
def rerun_command(
    source: str,
    recover: bool,
    action_name: str | None,
    force_rerun_actions: tuple[str, ...],
    run_name: str | None,
    no_live: bool,
    follow: bool,
) -> None:
    """Run the task of run SOURCE again with the same inputs, as a new run.

    With --recover, actions that succeeded in SOURCE are not executed again: their recorded outputs
    are reused. This resumes a run whose process died (`roost get runs` shows it as "running
    (controller gone)").
    """
    if force_rerun_actions and not recover:
        raise click.UsageError("--force-rerun-action needs --recover")
    if action_name and recover:
        raise click.UsageError(
            "--action-name cannot be combined with --recover: a run rooted at one action has a different "
            "action tree; rerun the action alone, or recover the whole run"
        )
    source_run = require_run(source)
    task_name = source_run.task_name
    if action_name:
        action = find_action(source, action_name)
        action_name, task_name = action.action_id, action.task_name
    forced = [find_action(source, ref).action_id for ref in force_rerun_actions]
    import_from_cwd()
    name = run_name or rerun_name(store(), source)
    if store().get_run(name) is not None:
        raise click.UsageError(f"a run named {name!r} already exists; choose another --name")
    runner = _runner(name=name)

    def start() -> Run:
        return runner.rerun(  # type: ignore[no-any-return]
            source, action_name=action_name or "a0", recover=recover, force_rerun_actions=forced or None
        )

    _say_console_url(name)
    _watch(name, task_name, start, no_live or follow, rerun_of=source)
