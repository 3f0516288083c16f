"""``roost cache list | clear``: the task result cache of ROOST_HOME (shared by every run there)."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from roost.cli.render import format_time, short_id
from roost.cli.state import store, writer
from roost.store.cache_store import CacheStore
from roost.store.records import CacheEntry

# Keys and versions are long hashes; a prefix identifies an entry in practice, as git shows commits.
PREFIX = 12
# Output that is not a terminal gets a wide fixed width, so that names are never cut or wrapped.
PIPE_WIDTH = 200


def _cache(write: bool = False) -> CacheStore:
    return CacheStore(writer() if write else store())


def _console() -> Console:
    console = Console(file=sys.stdout)
    return console if console.is_terminal else Console(file=sys.stdout, width=PIPE_WIDTH)


def entries_table(entries: list[CacheEntry]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("key", "task", "version", "created", "produced by"):
        table.add_column(column, no_wrap=True)
    for e in entries:
        origin = f"{e.run_name}/{short_id(e.action_id)}" if e.run_name and e.action_id else "-"
        table.add_row(e.key[:PREFIX], e.task_name, e.version[:PREFIX], format_time(e.created_at), origin)
    return table


@click.group("cache", short_help="List or clear cached task results.")
def cache_group() -> None:
    """The results of tasks declared with cache="auto" / "override" / Cache(...), stored in ROOST_HOME/roost.db."""


@cache_group.command("list")
@click.option("--task", help="Only entries of this task (full or short name).")
def list_entries(task: str | None) -> None:
    """List cached results, newest first: key and version prefixes, task, when and by which run."""
    # Reading creates nothing: no store yet means no entries.
    entries = _cache().entries(task) if store().path.exists() else []
    if not entries:
        click.echo(f"No cached results{f' of {task}' if task else ''} in {store().path}", err=True)
        return
    _console().print(entries_table(entries))


@cache_group.command("clear")
@click.argument("task", required=False)
def clear_entries(task: str | None) -> None:
    """Remove every cached result, or only those of TASK (full or short name)."""
    removed = _cache(write=True).clear(task)
    noun = "entry" if removed == 1 else "entries"
    click.echo(f"Removed {removed} cache {noun}{f' of {task}' if task else ''}.")
