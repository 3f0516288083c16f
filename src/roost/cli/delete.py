"""``roost delete local-cache``: Flyte's command for forgetting cached task results, on roost's cache."""

from __future__ import annotations

import click

from roost.cli.state import store, writer
from roost.store.cache_store import CacheStore


@click.group("delete", short_help="Delete what roost keeps locally (the task result cache).")
def delete_group() -> None:
    """Delete what roost keeps in ROOST_HOME."""


@delete_group.command("local-cache")
def delete_local_cache() -> None:
    """Remove every cached task result (as `roost cache clear`). Recorded runs stay: `roost get runs`
    still lists them, and `roost rerun --recover` can still reuse their outputs."""
    removed = CacheStore(writer()).clear(None)
    noun = "entry" if removed == 1 else "entries"
    click.echo(f"Cleared the local cache in {store().path}: removed {removed} cached {noun}.")
