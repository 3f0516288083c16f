"""``roost server create-key | list-keys | revoke-key``: the API keys a server asks callers for.

A key is printed once, by ``create-key``, alone on standard output (``KEY=$(roost server create-key
ci)`` captures just it); what to do with it goes to standard error. Nothing else ever shows a key.
"""

from __future__ import annotations

import base64
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.table import Table

from roost.cli.render import format_time
from roost.server.api_keys import ApiKeyError, ApiKeys, keys_path
from roost.store import store_config

# Output that is not a terminal gets a wide fixed width, so that names are never cut or wrapped.
PIPE_WIDTH = 200


def _console() -> Console:
    console = Console(file=sys.stdout)
    return console if console.is_terminal else Console(file=sys.stdout, width=PIPE_WIDTH)


@contextmanager
def _keys() -> Iterator[ApiKeys]:
    """The home's API keys, closed after use. A refused operation, or a key file this user cannot read
    or write, is one line, not a traceback."""
    keys = ApiKeys(keys_path(store_config.current().home))
    try:
        yield keys
    except ApiKeyError as e:
        raise click.ClickException(str(e)) from None
    except (OSError, sqlite3.Error) as e:
        raise click.ClickException(f"the API key store cannot be used: {e}") from None
    finally:
        keys.close()


def add_key_commands(group: click.Group) -> None:
    """Add ``create-key``, ``list-keys`` and ``revoke-key`` to ``group`` (``roost server``)."""
    group.add_command(create_key)
    group.add_command(list_keys)
    group.add_command(revoke_key)


@click.command("create-key")
@click.argument("name")
@click.option(
    "--flyte-form",
    "endpoint",
    metavar="URL",
    is_flag=False,
    flag_value="",
    default=None,
    help="Print the key in Flyte's encoded form, naming the server (the running one, or URL), for "
    "flyte.init_from_api_key() / FLYTE_API_KEY.",
)
def create_key(name: str, endpoint: str | None) -> None:
    """Create an API key named NAME and print it: the only time it is shown."""
    if endpoint == "":
        from roost.server.daemon import read_info

        info = read_info(store_config.current().home)
        if info is None:
            raise click.ClickException("no roost server is running here: give its URL, --flyte-form URL")
        endpoint = info.url
    with _keys() as keys:
        key = keys.create(name)
    if endpoint is not None:
        # Flyte's key: base64 of "endpoint:client_id:client_secret:org"; roost's key is the secret.
        key = base64.b64encode(f"{endpoint}:{name}:{key}:roost".encode()).decode("ascii")
    click.echo(key)
    click.echo(
        f"Created API key {name!r}. Copy it now: it will not be shown again. Give it to clients as "
        "flyte.init(endpoint=..., api_key=...) or in the ROOST_API_KEY environment variable.",
        err=True,
    )


@click.command("list-keys")
def list_keys() -> None:
    """List API keys: name, hint, when created and last used; never the keys."""
    with _keys() as keys:
        infos = keys.list()
    if not infos:
        click.echo(f"No API keys in {keys.path}: the server serves loopback clients only.", err=True)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "hint", "created", "last used"):
        table.add_column(column, no_wrap=True)
    for info in infos:
        table.add_row(info.name, info.hint, format_time(info.created_at), format_time(info.last_used_at))
    _console().print(table)


@click.command("revoke-key")
@click.argument("name")
def revoke_key(name: str) -> None:
    """Revoke the API key named NAME: requests with it are refused from now on."""
    with _keys() as keys:
        keys.revoke(name)
    click.echo(f"Revoked API key {name!r}.")
