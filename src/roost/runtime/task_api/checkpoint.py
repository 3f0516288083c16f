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

The Flyte SDK's helper is here too, on the same object: ``save(data)`` / ``save_sync(data)`` (bytes,
a file or a folder; it replaces what the attempt saved before) and ``load()`` / ``load_sync()``, which
bring the previous checkpoint into a local workspace (``path``) and return ``path / "payload"`` for
bytes or a file, ``path`` for a folder, None when there is none. ``save`` does its work when called
and returns an awaitable, so ``await cp.save(x)`` (Flyte) and ``cp.save(x)`` (roost) both work.
"""

from __future__ import annotations

import abc
import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from roost.store.blobs import is_remote_uri, local_path_of, url_to_fs, write_whole

DATA_FILE = "data"
_PREFIX = "checkpoint-"
# Marks a checkpoint saved from a folder, so that load() gives a folder back even when it held one file.
FOLDER_MARK = ".folder"
PAYLOAD = "payload"


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


def saved_checkpoints(action_dir: str) -> list[tuple[int, str]]:
    """``(attempt, folder)`` of each attempt of the action that saved a checkpoint, oldest first (what
    the console lists)."""
    saved = []
    for name in _listing(action_dir):
        if name.startswith(_PREFIX) and name[len(_PREFIX) :].isdigit():
            folder = attempt_folder(action_dir, int(name[len(_PREFIX) :]))
            if any(not entry.startswith(".") for entry in _listing(folder)):
                saved.append((int(name[len(_PREFIX) :]), folder))
    return sorted(saved)


def _listing(folder: str) -> list[str]:
    try:
        if is_remote_uri(folder):
            fs, path = url_to_fs(folder)
            return [entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(path, detail=False)]
        return os.listdir(local_path_of(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []


class BaseCheckpoint(abc.ABC):
    """What a checkpoint helper offers task code (the Flyte SDK's interface): a local workspace,
    loading the previous attempt's checkpoint into it and saving this attempt's."""

    @property
    @abc.abstractmethod
    def path(self) -> Path:
        """The local folder a loaded checkpoint is put in."""

    @abc.abstractmethod
    def prev_exists(self) -> bool:
        """Whether an earlier attempt left a checkpoint to resume from."""

    @abc.abstractmethod
    async def load(self) -> Path | None: ...

    @abc.abstractmethod
    def load_sync(self) -> Path | None: ...

    @abc.abstractmethod
    def save(self, data: Path | str | bytes) -> Any: ...

    @abc.abstractmethod
    def save_sync(self, data: Path | str | bytes) -> None: ...


class Checkpoint(BaseCheckpoint):
    """The checkpoint helper of one attempt: ``write``/``read`` for bytes, ``save``/``restore`` for a
    file or a folder, and the SDK's ``load``/``save`` pairs."""

    def __init__(self, checkpoint_path: str, prev_checkpoint_path: str | None = None):
        self.checkpoint_path = checkpoint_path
        self.prev_checkpoint_path = prev_checkpoint_path
        self._workspace: str | None = None
        self._loaded: Path | None = None

    # The SDK's names for the two locations.
    @property
    def remote_destination(self) -> str:
        return self.checkpoint_path

    @property
    def remote_source(self) -> str | None:
        return self.prev_checkpoint_path

    @property
    def path(self) -> Path:
        if self._workspace is None:
            self._workspace = tempfile.mkdtemp(prefix="roost-checkpoint-")
            weakref.finalize(self, shutil.rmtree, self._workspace, True)
        return Path(self._workspace)

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

    def save(self, data: bytes | str | os.PathLike[str]) -> _Saved:
        """Save bytes, a local file or a local folder (its contents, recursively) as this attempt's
        checkpoint, replacing what it saved before. Returns an awaitable, for ``await cp.save(...)``."""
        self.save_sync(data)
        return _Saved()

    def save_sync(self, data: bytes | str | os.PathLike[str]) -> None:
        """``save`` for code that does not await."""
        if isinstance(data, (bytes, bytearray, memoryview)):
            self._replace(lambda folder: Path(folder, DATA_FILE).write_bytes(bytes(data)))
            return
        if not isinstance(data, (str, os.PathLike)):
            raise TypeError(f"Checkpoint.save() takes bytes or a path, not {type(data).__name__}")
        src = Path(data)
        if not src.exists():
            raise FileNotFoundError(f"Checkpoint.save(): {src} does not exist")

        def fill(folder: str) -> None:
            if src.is_dir():
                shutil.copytree(src, folder, dirs_exist_ok=True)
                Path(folder, FOLDER_MARK).touch()
            else:
                shutil.copy2(src, Path(folder, src.name))

        self._replace(fill)

    def _replace(self, fill: Callable[[str], None]) -> None:
        """Fill a new folder, then put it in place of the attempt's checkpoint: a kill in between
        leaves the earlier checkpoint (of this attempt or an older one) readable."""
        staging = tempfile.mkdtemp(prefix=".roost-checkpoint-")
        try:
            fill(staging)
            if is_remote_uri(self.checkpoint_path):
                fs, path = url_to_fs(self.checkpoint_path)
                if fs.exists(path):
                    fs.rm(path, recursive=True)
                fs.put(staging.rstrip("/") + "/", path, recursive=True)
                return
            target = Path(local_path_of(self.checkpoint_path))
            target.parent.mkdir(parents=True, exist_ok=True)
            # Staged beside the target (same file system), so that each step is one rename.
            beside = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}"
            shutil.move(staging, beside)
            staging = str(beside)
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            if target.exists():
                target.rename(old)
            beside.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    async def load(self) -> Path | None:
        """The previous checkpoint, brought into ``path``: ``path / "payload"`` when it was bytes or a
        file, ``path`` when it was a folder; None when no earlier attempt saved one."""
        return self.load_sync()

    def load_sync(self) -> Path | None:
        """``load`` for code that does not await."""
        if self.prev_checkpoint_path is None:
            return None
        if self._loaded is not None:
            return self._loaded
        for child in self.path.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        self._fetch_previous(self.path)
        entries = [p for p in self.path.iterdir() if p.name != FOLDER_MARK]
        if (self.path / FOLDER_MARK).exists() or len(entries) != 1 or not entries[0].is_file():
            (self.path / FOLDER_MARK).unlink(missing_ok=True)
            self._loaded = self.path
        else:
            self._loaded = entries[0].rename(self.path / PAYLOAD)
        return self._loaded

    def restore(self, destination: str | os.PathLike[str]) -> Path | None:
        """Copy the previous checkpoint's files into the folder ``destination``; that folder, or None
        when there is no previous checkpoint."""
        if self.prev_checkpoint_path is None:
            return None
        dest = self._fetch_previous(Path(destination))
        (dest / FOLDER_MARK).unlink(missing_ok=True)
        return dest

    def _fetch_previous(self, dest: Path) -> Path:
        assert self.prev_checkpoint_path is not None
        dest.mkdir(parents=True, exist_ok=True)
        if is_remote_uri(self.prev_checkpoint_path):
            fs, path = url_to_fs(self.prev_checkpoint_path)
            fs.get(path.rstrip("/") + "/", str(dest), recursive=True)
        else:
            shutil.copytree(local_path_of(self.prev_checkpoint_path), dest, dirs_exist_ok=True)
        return dest

    def __repr__(self) -> str:
        return f"Checkpoint({self.checkpoint_path!r}, previous={self.prev_checkpoint_path!r})"


class _Saved:
    """What ``save`` returns: already done, and awaitable (no 'never awaited' warning when it is not)."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


def latest_checkpoint(
    root: str | os.PathLike[str], glob_pattern: str = "**/last.ckpt", *, key: Callable[[Path], Any] | None = None
) -> Path | None:
    """The file under ``root`` matching ``glob_pattern`` that ranks highest by ``key`` (by default the
    newest modification time), or None -- e.g. the last Lightning checkpoint in a loaded tree."""
    matches = [p for p in Path(root).glob(glob_pattern) if p.is_file()]
    if not matches:
        return None
    return max(matches, key=key or (lambda p: p.stat().st_mtime))
