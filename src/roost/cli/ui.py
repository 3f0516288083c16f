"""``roost ui``: the web console of ROOST_HOME's server in a browser, starting the server if none runs."""

from __future__ import annotations

import os
import sys
import webbrowser

import click

from roost.server import daemon
from roost.store import store_config


def browser_available() -> bool:
    """A graphical browser can be opened: on macOS and Windows, or with a display (or $BROWSER) elsewhere.

    Without one, Python's ``webbrowser`` would start a text browser in this terminal instead.
    """
    if os.environ.get("BROWSER"):
        return True
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@click.command("ui")
@click.option("--no-browser", is_flag=True, help="Only print the console's URL.")
@click.option(
    "--port",
    default=daemon.DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The port of a server started here (0: any free one).",
)
def ui_command(no_browser: bool, port: int) -> None:
    """Open the web console: runs, their live action trees, logs and reports (docs/server.md).

    The server of ROOST_HOME serves it; one is started in the background (127.0.0.1) when none runs,
    and goes on after this command (`roost server stop` stops it).
    """
    home = store_config.current().home
    info = daemon.read_info(home)
    if info is None or daemon.health(info.url) is None:
        try:
            info = daemon.start_detached(home, ["--host", daemon.DEFAULT_HOST, "--port", str(port)])
        except daemon.ServerStartError as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"started a roost server for {home} (pid {info.pid}); `roost server stop` stops it", err=True)
    url = info.url + "/"
    click.echo(url)
    if not no_browser and browser_available():
        try:
            webbrowser.open(url)
        except webbrowser.Error:
            pass  # the URL is printed: the user opens it
