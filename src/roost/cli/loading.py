"""How the CLI loads a user's program: module names are looked up from the current folder, and each
way loading can fail is one line of usage error (exit 2), not a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

import click

from roost.cli.render import one_line
from roost.errors import StoreError

T = TypeVar("T")


def import_from_cwd() -> None:
    """Module names are looked up from the current folder, as `python -m` does; the console script's
    sys.path does not include it."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def load_program(location: str, load: Callable[[], T]) -> T:
    """``load()`` of the file or module ``location``, its failures turned into usage errors."""
    if not (location.endswith(".py") or os.sep in location or "/" in location):
        import_from_cwd()
    try:
        return load()
    except StoreError:
        raise
    except FileNotFoundError as e:
        raise click.UsageError(str(e)) from None
    except ModuleNotFoundError as e:
        if location.endswith(".py"):
            raise click.UsageError(f"loading {location} failed: {e}") from None
        raise click.UsageError(f"no such file or module: {location} ({e})") from None
    except LookupError as e:
        raise click.UsageError(str(e)) from None
    except SyntaxError as e:
        raise click.UsageError(f"{location} has a syntax error: {e.msg} (line {e.lineno})") from None
    except Exception as e:
        raise click.UsageError(f"loading {location} failed: {type(e).__name__}: {one_line(str(e))}") from None
