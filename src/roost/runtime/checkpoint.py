"""Intra-task checkpoints (``flyte.ctx().checkpoint``): progress a long task saves as it goes, so that
its next attempt -- a retry, or the same action in a recovered run -- resumes instead of starting over.

Each attempt has a folder of its own, ``<run_base_dir>/<action id>/checkpoint-<attempt>``
(``ctx().checkpoint_paths.checkpoint_path``). ``prev_checkpoint_path`` is the newest such folder an
earlier attempt wrote: of this run's earlier attempts, or else -- in a run started by
``rerun(NAME, recover=True)`` -- of the same action in the run it recovers (an action keeps its id
across a recovery). Nothing is copied between attempts: the previous folder is read where it is.

Writes are all-or-nothing: ``write`` puts the bytes beside their final name and renames them into
place (an object store's put already is), so an attempt killed while saving leaves the last complete
checkpoint readable.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from roost.store.blobs import is_remote_uri, local_path_of, url_to_fs, write_whole

DATA_FILE = "data"
_PREFIX = "checkpoint-"


def attempt_folder(action_dir: str, attempt: int) -> str:
    return f"{action_dir.rstrip('/')}/{_PREFIX}{attempt}"


def newest_checkpoint(action_dir: str, before: int | None = None) -> str | None:
    """The folder of the newest checkpoint written under ``action_dir`` (by attempts before
    ``before``, when given); None when there is none."""
    attempts = []
    for name in _listing(action_dir):
        if name.startswith(_PREFIX) and name[len(_PREFIX) :].isdigit():
            attempt = int(name[len(_PREFIX) :])
            if before is None or attempt < before:
                attempts.append(attempt)
    for attempt in sorted(attempts, reverse=True):
        folder = attempt_folder(action_dir, attempt)
        # An attempt that saved nothing -- or was killed in its first write, leaving only a hidden
        # temporary file -- does not count.
        if any(not name.startswith(".") for name in _listing(folder)):
            return folder
    return None


def _listing(folder: str) -> list[str]:
    try:
        if is_remote_uri(folder):
            fs, path = url_to_fs(folder)
            return [entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(path, detail=False)]
        return os.listdir(local_path_of(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []


class Checkpoint:
    """The checkpoint helper of one attempt: ``write``/``read`` for bytes, ``save``/``restore`` for a
    file or a folder."""

    def __init__(self, checkpoint_path: str, prev_checkpoint_path: str | None):
        self.checkpoint_path = checkpoint_path
        self.prev_checkpoint_path = prev_checkpoint_path

    def prev_exists(self) -> bool:
        """Whether an earlier attempt left a checkpoint to resume from."""
        return self.prev_checkpoint_path is not None

    def read(self) -> bytes | None:
        """The bytes the previous checkpoint was written with (``write``), or None."""
        if self.prev_checkpoint_path is None:
            return None
        location = f"{self.prev_checkpoint_path}/{DATA_FILE}"
        try:
            if is_remote_uri(location):
                fs, path = url_to_fs(location)
                return fs.cat_file(path)  # type: ignore[no-any-return]
            return Path(local_path_of(location)).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes) -> None:
        """Save ``data`` as this attempt's checkpoint (replacing what it saved before)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Checkpoint.write() takes bytes, not {type(data).__name__}")
        write_whole(f"{self.checkpoint_path}/{DATA_FILE}", bytes(data))

    def save(self, source: str | os.PathLike[str]) -> None:
        """Save a local file or folder as this attempt's checkpoint (a folder's contents, recursively)."""
        src = Path(source)
        if not src.exists():
            raise FileNotFoundError(f"Checkpoint.save(): {src} does not exist")
        if is_remote_uri(self.checkpoint_path):
            fs, path = url_to_fs(self.checkpoint_path)
            fs.put(str(src), path + ("/" if src.is_dir() else f"/{src.name}"), recursive=src.is_dir())
            return
        target = Path(local_path_of(self.checkpoint_path))
        target.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target / src.name)

    def restore(self, destination: str | os.PathLike[str]) -> Path | None:
        """Copy the previous checkpoint's files into the folder ``destination``; that folder, or None
        when there is no previous checkpoint."""
        if self.prev_checkpoint_path is None:
            return None
        dest = Path(destination)
        dest.mkdir(parents=True, exist_ok=True)
        if is_remote_uri(self.prev_checkpoint_path):
            fs, path = url_to_fs(self.prev_checkpoint_path)
            fs.get(path.rstrip("/") + "/", str(dest), recursive=True)
        else:
            shutil.copytree(local_path_of(self.prev_checkpoint_path), dest, dirs_exist_ok=True)
        return dest

    def __repr__(self) -> str:
        return f"Checkpoint({self.checkpoint_path!r}, previous={self.prev_checkpoint_path!r})"
