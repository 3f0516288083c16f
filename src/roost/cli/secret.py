"""``roost secret create | list | delete``: the local secret store from the command line.

A value is never printed, echoed back or put in an error message. ``create`` reads it from standard
input unless ``--value`` is given, so that it stays out of shell history and the process list.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from roost.store.secret_store import SecretStore


def _store() -> SecretStore:
    return SecretStore()


@contextmanager
def _usable() -> Iterator[None]:
    """A store the user may not read or write (ROOST_HOME of another user, a read-only disk) is one
    line naming what failed, not a traceback."""
    try:
        yield
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        raise click.ClickException(f"the secret store cannot be used: {e.strerror or e}{where}") from None


def _named(key: str, group: str | None) -> str:
    return f"{key} (group {group})" if group else key


def _read_value() -> str:
    stdin = click.get_text_stream("stdin")
    if stdin.isatty():
        # Asked twice, hidden, as passwd does: a typo in a value nobody can see would go unnoticed.
        value: str = click.prompt("Value", hide_input=True, confirmation_prompt=True, err=True)
        return value
    value = stdin.read()
    # `echo secret | roost secret create K` adds one newline that is not part of the value; a value
    # that really ends in line breaks keeps the rest.
    if value.endswith("\r\n"):
        return value[:-2]
    return value[:-1] if value.endswith("\n") else value


@click.group("secret", short_help="Create, list and delete local secrets.")
def secret_group() -> None:
    """Secrets that tasks request with Secret(key, group): stored privately, given to an action when it starts."""


@secret_group.command("create")
@click.argument("key")
@click.option("--group", help="The secret's group, as in Secret(key, group=...).")
@click.option(
    "--value",
    help="The value. Without it the value is read from standard input (prompted for, hidden, on a terminal), "
    "which keeps it out of shell history.",
)
def create_secret(key: str, group: str | None, value: str | None) -> None:
    """Store secret KEY (replacing any value it had)."""
    if value is None:
        value = _read_value()
    if value == "":
        # Almost always a mistake (an empty pipe, an unset variable): refuse instead of storing "".
        raise click.UsageError("the secret value is empty; pass it on standard input or with --value")
    try:
        with _usable():
            store = _store()
            existed = store.get(key, group) is not None
            store.set(key, value, group)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    verb = "Replaced" if existed else "Created"
    click.echo(f"{verb} secret {_named(key, group or None)} in {store.location}.")


@secret_group.command("list")
def list_secrets() -> None:
    """List stored secrets by key and group; values are never shown."""
    with _usable():
        store = _store()
        names = store.list()
    if not names:
        click.echo(f"No secrets stored in {store.location}.", err=True)
        return
    width = max(len("KEY"), *(len(key) for key, _ in names))
    click.echo(f"{'KEY':<{width}}  GROUP")
    for key, group in names:
        click.echo(f"{key:<{width}}  {group or '-'}")


@secret_group.command("delete")
@click.argument("key")
@click.option("--group", help="The secret's group.")
def delete_secret(key: str, group: str | None) -> None:
    """Delete secret KEY."""
    with _usable():
        store = _store()
        deleted = store.delete(key, group)
    if not deleted:
        raise click.ClickException(
            f"no secret {_named(key, group or None)} in {store.location} (see `roost secret list`)"
        )
    click.echo(f"Deleted secret {_named(key, group or None)}.")
