"""The ``roost`` command and how it ends.

Exit codes: 0 success; 1 the run failed, timed out or was aborted, or the store is unusable, or a
named run/action does not exist; 2 bad usage (unknown file or task, missing or mistyped inputs, bad
options); 130 interrupted with Ctrl-C. Every expected failure is one line on stderr, never a
traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from roost._version import __version__
from roost.cli.abort import abort_group
from roost.cli.app_commands import app_group, get_apps_command
from roost.cli.build import build_command
from roost.cli.cache import cache_group
from roost.cli.delete import delete_group
from roost.cli.deploy import deploy_command, get_tasks_command
from roost.cli.get import get_group
from roost.cli.render import one_line
from roost.cli.run import EXIT_INTERRUPTED, rerun_command, run_command
from roost.cli.secret import secret_group
from roost.cli.serve import serve_command
from roost.cli.server import server_group
from roost.cli.signal_command import get_conditions_command, signal_command
from roost.cli.trigger_commands import get_triggers_command, trigger_group
from roost.cli.ui import ui_command
from roost.errors import StoreError
from roost.runtime.runs.server_client import ServerError


def _error(message: str) -> None:
    click.echo(f"Error: {one_line(message, limit=2000)}", err=True)


def _finish(invoke: Callable[[], Any]) -> int:
    """Run the command line and map how it ended to an exit code, printing failures as one line."""
    try:
        result = invoke()
    except click.exceptions.NoArgsIsHelpError as e:
        # A group named without its command (`roost get`): its help, as written, not one line of it.
        click.echo(e.ctx.get_help(), err=True)
        return e.exit_code
    except click.ClickException as e:
        # click would print the usage and a hint around the message; one line says it.
        _error(e.format_message())
        return e.exit_code
    except click.Abort:  # click's form of KeyboardInterrupt outside a run
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except ServerError as e:  # a roost server that cannot be reached, or refused the request
        _error(e.message)
        return 1
    except StoreError as e:
        _error(e.message)
        # The store's own exit hook would meet the same failure and print it as a traceback.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    except BrokenPipeError:
        # The reader went away (`roost get runs | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return result if isinstance(result, int) else 0


class RoostGroup(click.Group):
    """The top-level group: in standalone use it ends the process with the exit codes above."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        def invoke() -> Any:
            return super(RoostGroup, self).main(args, prog_name or "roost", complete_var, False, **extra)

        if not standalone_mode:
            return invoke()
        sys.exit(_finish(invoke))


@click.group(cls=RoostGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="roost")
@click.option(
    "-c",
    "--config",
    "config_file",
    metavar="FILE",
    help="Flyte config file for flyte.init_from_config() in the program (default: Flyte's search).",
)
def main(config_file: str | None) -> None:
    """roost: run Flyte 2 programs on this machine, every run recorded under ROOST_HOME (~/.roost)."""
    if config_file is not None:
        _use_config(config_file)


def _use_config(path: str) -> None:
    """Check the file now (a bad one is one line here, not a traceback inside the program) and make it
    the one ``init_from_config()`` reads."""
    from roost.errors import InitializationError
    from roost.runtime.runs import flyte_config

    try:
        flyte_config.load(Path(path).expanduser())
    except InitializationError as e:
        raise click.UsageError(e.message) from None
    flyte_config.use_config_file(path)


main.add_command(run_command)
main.add_command(rerun_command)
main.add_command(get_group)
main.add_command(abort_group)
main.add_command(cache_group)
main.add_command(delete_group)
main.add_command(secret_group)
main.add_command(build_command)
main.add_command(server_group)
main.add_command(deploy_command)
get_group.add_command(get_tasks_command)
get_group.add_command(get_triggers_command)
get_group.add_command(get_conditions_command)
get_group.add_command(get_apps_command)
main.add_command(app_group)
main.add_command(signal_command)
main.add_command(serve_command)
main.add_command(trigger_group)
main.add_command(ui_command)


if __name__ == "__main__":
    main()
