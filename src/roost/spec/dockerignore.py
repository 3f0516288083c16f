"""``.dockerignore`` rules: reading them from a file, and whether they exclude a relative path.

Docker's semantics: a pattern matching a parent directory excludes everything below it, ``**``
spans directories, and the last matching rule wins. Used where a folder's content digest is taken
(``image_layers.tree_digest``) and where a build context is copied (``roost.images.context``), so
both leave out the same files.

``.gitignore`` files read with ``gitignore=True`` become the same rules: a pattern without an inner
``/`` matches at any depth, one ending in ``/`` only directories (what a code bundle leaves out,
``roost.runtime.code_bundles``). Git's "a file below an excluded directory cannot be re-included"
is not modelled: there the last matching rule wins too.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

IgnoreRules = list[tuple[bool, re.Pattern[str]]]


def read_ignore_rules(file: Path, *, gitignore: bool = False) -> IgnoreRules:
    """The rules of a .dockerignore (or, with ``gitignore``, .gitignore) file, for ``is_ignored``.

    None when the file cannot be read.
    """
    try:
        text = file.read_text()
    except OSError:
        return []
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        raw_pattern = line[1:].strip() if negated else line
        pattern = posixpath.normpath(raw_pattern).lstrip("/")
        if pattern in ("", "."):
            continue
        if gitignore:
            pattern = _git_pattern(raw_pattern, pattern)
        rules.append((negated, _pattern_regex(pattern)))
    return rules


def _git_pattern(raw: str, pattern: str) -> str:
    """A .gitignore pattern (``raw``, ``pattern`` its normalised form) as the .dockerignore one."""
    if "/" not in raw.rstrip("/"):
        pattern = "**/" + pattern  # "*.log", "build/": at any depth, not only at the top
    if raw.endswith("/"):
        pattern += "/**"  # directories only: what lies below one, never a file of that name
    return pattern


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore glob as a regex over '/'-separated relative paths (``**`` spans directories)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def is_ignored(rel: str, rules: IgnoreRules) -> bool:
    # Docker semantics: a pattern matching a parent directory excludes everything below it, and the
    # last matching rule wins (so "!keep.txt" after "*" brings keep.txt back).
    parts = rel.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for negated, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            ignored = not negated
    return ignored
