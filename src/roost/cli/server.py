"""``roost server start | stop | status`` and the API key commands (``server_keys.py``)."""

from __future__ import annotations

import json

import click

from roost.cli.server_keys import add_key_commands
from roost.server import daemon
from roost.store import store_config


@click.group("server")
def server_group() -> None:
    """The roost server: remote runs, pools that stay warm across runs (docs/server.md)."""


@server_group.command("start")
@click.option("--host", default=daemon.DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=daemon.DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one).",
)
@click.option("--detach", is_flag=True, help="Run in the background (log: ROOST_HOME/server/server.log).")
@click.option("--ray", "ray_address", metavar="ADDRESS", help="Run the server's actions on this Ray cluster.")
@click.option("--blob-store", metavar="URL", help="Where runs keep their data (an fsspec URL: s3://, gs://, ...).")
@click.option(
    "--flyte-python",
    metavar="PATH",
    envvar="ROOST_FLYTE_PYTHON",
    type=click.Path(exists=True, dir_okay=False),
    help="The Python of a virtualenv with the flyte package: runs of the flyte client run under it "
    "(docs/flyte-backend.md). Default: $ROOST_FLYTE_PYTHON, else one built per client version.",
)
def start_command(
    host: str, port: int, detach: bool, ray_address: str | None, blob_store: str | None, flyte_python: str | None
) -> None:
    """Start the server over ROOST_HOME's store (127.0.0.1:8686 by default)."""
    config = store_config.configure(raw_data_url=blob_store) if blob_store else store_config.current()
    try:
        if detach:
            args = ["--host", host, "--port", str(port)]
            args += ["--ray", ray_address] if ray_address else []
            args += ["--blob-store", blob_store] if blob_store else []
            args += ["--flyte-python", flyte_python] if flyte_python else []
            info = daemon.start_detached(config.home, args)
            click.echo(f"roost server {info.url} started (pid {info.pid}); stop it with `roost server stop`")
            return
        # What every run on this server gets (RunOptions fields), whatever its client asked for.
        run_options: dict[str, str] = {"isolation": "ray", "ray_address": ray_address} if ray_address else {}
        if blob_store:
            run_options["raw_data_path"] = blob_store
        daemon.serve(config, host, port, run_options, flyte_python)
    except daemon.ServerStartError as e:
        raise click.ClickException(str(e)) from None


@server_group.command("stop")
def stop_command() -> None:
    """Stop the server of ROOST_HOME."""
    info = daemon.stop(store_config.current().home)
    if info is None:
        raise click.ClickException(f"no roost server is running for {store_config.current().home}")
    click.echo(f"stopped the roost server {info.url} (pid {info.pid})")


@server_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(as_json: bool) -> None:
    """Whether the server of ROOST_HOME runs, where, and whether it answers."""
    home = store_config.current().home
    info = daemon.read_info(home)
    answer = daemon.health(info.url) if info is not None else None
    if as_json:
        click.echo(
            json.dumps(
                {"running": info is not None, "answering": answer is not None, **(info.__dict__ if info else {})}
            )
        )
    elif info is None:
        click.echo(f"no roost server is running for {home}")
    else:
        state = "answering" if answer is not None else "NOT answering"
        click.echo(f"roost server {info.url} (pid {info.pid}, store {home}): {state}")
    if info is None or answer is None:
        raise SystemExit(1)


add_key_commands(server_group)
