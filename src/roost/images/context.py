"""The build context of a rendered Dockerfile: which files go where, and writing them into a folder.

A Dockerfile rendered by roost never names a path on the machine that rendered it: every file a
layer needs (a requirements file, a project, a source folder) is given a place of its own in the
build context (``layer-03/requirements.txt``), and the Dockerfile copies or mounts it from there. So
the same image renders the same Dockerfile on every machine, and the context folder is all that
``docker build`` needs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from roost.errors import ImageBuildError
from roost.spec.dockerignore import IgnoreRules, is_ignored, read_ignore_rules


@dataclass(frozen=True)
class ContextEntry:
    """One file or folder of the build context: copied from ``source`` or written from ``content``."""

    dest: str  # relative, '/'-separated, inside the context folder
    source: Path | None = None
    content: bytes | None = None
    # .dockerignore files whose rules filter a copied folder (its own one, then with_dockerignore's)
    ignore_files: tuple[Path, ...] = ()

    def describe(self) -> str:
        """One line for listings and golden files: the destination and where it comes from."""
        if self.content is not None:
            return f"{self.dest}  (generated, {len(self.content)} bytes)"
        assert self.source is not None
        kind = "folder" if self.source.is_dir() else "file"
        return f"{self.dest}  ({kind} {self.source.name})"


def write_context(entries: Iterable[ContextEntry], folder: Path) -> None:
    """Materialise the entries under ``folder`` (which must exist, usually empty)."""
    for entry in entries:
        target = folder / entry.dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.content is not None:
            target.write_bytes(entry.content)
        elif entry.source is not None and entry.source.is_dir():
            _copy_tree(entry.source, target, entry.ignore_files)
        elif entry.source is not None and entry.source.exists():
            shutil.copy2(entry.source, target)
        else:
            raise ImageBuildError(f"{str(entry.source)!r} does not exist; the image needs it in its build context")


def _copy_tree(source: Path, target: Path, ignore_files: tuple[Path, ...]) -> None:
    """Copy a folder, leaving out what its .dockerignore rules exclude (as the content tag does)."""
    rules: IgnoreRules = []
    for file in ignore_files:
        rules += read_ignore_rules(file)
    # With a "!keep" rule something inside an ignored folder may come back, so it is still walked.
    can_prune = not any(negated for negated, _ in rules)
    target.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(source):
        base = Path(root)
        rel_root = base.relative_to(source).as_posix()
        rel_root = "" if rel_root == "." else rel_root + "/"
        kept = []
        for d in sorted(dirs):
            ignored = bool(rules) and is_ignored(rel_root + d, rules)
            if not ignored:
                (target / rel_root / d).mkdir(parents=True, exist_ok=True)
            if not ignored or not can_prune:
                kept.append(d)
        dirs[:] = kept
        for name in sorted(files):
            if rules and is_ignored(rel_root + name, rules):
                continue
            (target / rel_root).mkdir(parents=True, exist_ok=True)
            shutil.copy2(base / name, target / rel_root / name, follow_symlinks=False)
