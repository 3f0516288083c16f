"""``roost serve FILE APP``: serve an app here, in the foreground, its output streamed; Ctrl-C stops it
cleanly (docs/apps.md)."""

from __future__ import annotations

import sys
import time

import click

from roost.cli.loading import load_program
from roost.cli.render import one_line
from roost.runtime.loader import load_module
from roost.store.open_stores import get_store

POLL_S = 0.2


def _app_of(file: str, name: str) -> object:
    from roost.spec.app_environment import AppEnvironment
    from roost.spec.environment import list_loaded_environments

    load_program(file, lambda: load_module(file))
    apps = {e.name: e for e in list_loaded_environments() if isinstance(e, AppEnvironment)}
    if name not in apps:
        raise click.UsageError(f"{file} declares no app {name!r}; its apps: {', '.join(sorted(apps)) or 'none'}")
    return apps[name]


def _parameters(pairs: tuple[str, ...]) -> dict[str, str]:
    given = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--param")
        given[key] = value
    return given


@click.command("serve")
@click.argument("file")
@click.argument("app")
@click.option("--port", type=click.IntRange(1, 65535), help="Serve on this port instead of the declared one.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A value for one of the app's parameters.")
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="An environment variable for the app.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds the app may take to answer.")
@click.option("--remote", is_flag=True, help="Have a roost server run it (replicas, proxy, scale to zero).")
@click.option("--endpoint", metavar="URL", help="The roost server to run it (implies --remote).")
def serve_command(
    file: str,
    app: str,
    port: int | None,
    params: tuple[str, ...],
    env: tuple[str, ...],
    timeout: float,
    remote: bool,
    endpoint: str | None,
) -> None:
    """Serve APP (an AppEnvironment of FILE) here until Ctrl-C, printing what it prints; with --remote,
    register it on a roost server, which serves it at SERVER/apps/APP/, and return."""
    from roost.runtime.runs.app_serving import AppStartError, Serve

    if remote or endpoint:
        if port is not None:
            raise click.UsageError("--port is for serving here: a server gives each replica a port of its own")
        from roost.cli.remote_run import remote_endpoint
        from roost.runtime.runs.initialize import init

        init(endpoint=remote_endpoint(True, endpoint))
    app_env = _app_of(file, app)
    if remote or endpoint:
        serving = Serve(
            "remote",
            env_vars=_parameters(env) if env else None,
            parameter_values={app: _parameters(params)},
            activate_timeout=timeout,
        )
        try:
            served = serving.serve(app_env)
        except AppStartError as e:
            for line in e.lines:
                click.echo(f"  | {line}", err=True)
            raise click.ClickException(one_line(str(e))) from None
        except (ValueError, TypeError) as e:
            raise click.ClickException(one_line(str(e))) from None
        click.echo(f"app {app} is served by the roost server at {served.url}/", err=True)
        click.echo(served.url)
        return
    serving = Serve(
        "local",
        env_vars=_parameters(env) if env else None,
        parameter_values={app: _parameters(params)},
        activate_timeout=timeout,
        port=port,
    )
    try:
        handle = serving.serve(app_env)
    except AppStartError as e:
        for line in e.lines:
            click.echo(f"  | {line}", err=True)
        raise click.ClickException(one_line(str(e))) from None
    except (ValueError, TypeError, NotImplementedError) as e:
        raise click.ClickException(one_line(str(e))) from None
    click.echo(f"app {app} serves at {handle.endpoint} (run {handle.run_name}); Ctrl-C stops it", err=True)
    store, seen = get_store(), 0
    try:
        while not handle.wait(POLL_S):
            seen = _print_new(store, handle.run_name, seen)
    except KeyboardInterrupt:
        click.echo(f"stopping app {app}...", err=True)
        try:
            handle.deactivate(wait=True)
        except TimeoutError as e:
            raise click.ClickException(str(e)) from None
    time.sleep(POLL_S)  # the last lines reach the store
    _print_new(store, handle.run_name, seen)
    if handle.error is not None and not isinstance(handle.error, KeyboardInterrupt):
        record = store.get_run(handle.run_name or "")
        if record is None or record.phase.value != "aborted":
            raise click.ClickException(f"app {app} stopped: {one_line(str(handle.error))}")
    click.echo(f"app {app} stopped", err=True)


def _print_new(store: object, run_name: str | None, seen: int) -> int:
    lines = store.list_logs(run_name or "")  # type: ignore[attr-defined]
    for line in lines[seen:]:
        stream = sys.stderr if line.stream == "stderr" else sys.stdout
        print(line.line, file=stream, flush=True)
    return len(lines)
