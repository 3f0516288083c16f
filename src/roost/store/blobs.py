"""A content-addressed blob store over an fsspec URL (file://, memory://, s3://, gs://, ...).

Layout under the store's root:

    <sha[:2]>/<sha>                 a file, named by the SHA-256 of its bytes (stored once)
    dirs/<h[:2]>/<h>/...            a directory tree, named by the hash of its manifest
    remote/<random>/<name>          ``new_remote`` targets: written by users, not content-addressed
    named/<run>/<action>/<name>     ``named_remote`` targets: stable across an action's retries

Every write goes to a temporary name beside its destination and is renamed into place once complete,
so a crash never leaves a half-written blob under its final name (on object stores, where a put is
already all-or-nothing, the rename is a copy). fsspec is imported on first use, not with roost.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_CHUNK = 1 << 20
_DIR_MANIFEST_VERSION = b"roost-dir-1\n"


def url_to_fs(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem and the path within it for ``uri`` (a URL or a local path), with the
    object-store options of its protocol (``init(storage=...)`` or the environment)."""
    import fsspec.core

    from roost.store.object_stores import fsspec_kwargs

    protocol = uri.split("://", 1)[0] if "://" in uri else None
    return fsspec.core.url_to_fs(uri, **fsspec_kwargs(protocol))


def is_local_fs(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def is_remote_uri(uri: str) -> bool:
    """True for a URL of a non-local filesystem (``s3://b/k``, ``memory://x``); False for local paths."""
    return "://" in uri and not uri.startswith("file://")


def local_path_of(uri: str) -> str:
    """``file:///a/b`` -> ``/a/b``; other strings unchanged."""
    return uri[len("file://") :] if uri.startswith("file://") else uri


def uri_on(fs: Any, path: str) -> str:
    """How ``path`` on ``fs`` is named to others: a plain path locally, a URL with its protocol elsewhere."""
    return path if is_local_fs(fs) else fs.unstrip_protocol(path)


def local_source(local_path: str | os.PathLike[str], *, directory: bool) -> str:
    """``local_path`` as a string, once it is known to be an existing file (or directory)."""
    src = os.fspath(local_path)
    if not (os.path.isdir(src) if directory else os.path.isfile(src)):
        raise ValueError(f"{'directory' if directory else 'file'} not found: {src}")
    return src


def write_whole(location: str, data: bytes) -> None:
    """Write ``data`` at ``location`` (a path or a URL) so that a reader sees the old content or the
    new, never part: locally beside the final name, then renamed into place; an object store's put
    already is all-or-nothing."""
    if is_remote_uri(location):
        fs, path = url_to_fs(location)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(path, data)
        return
    path = local_path_of(location)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{_tmp_name()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _tmp_name() -> str:
    return f".tmp-{uuid.uuid4().hex}"


class BlobStore:
    """Blobs under one fsspec URL. ``put_*`` return ``(uri, sha256)``; the other methods take any URI."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.fs, root = url_to_fs(self.url)
        self.root = root.rstrip("/")
        self.is_local = is_local_fs(self.fs)

    def __repr__(self) -> str:
        return f"BlobStore({self.url!r})"

    # -- naming ------------------------------------------------------------------------------------------

    def uri_of(self, path: str) -> str:
        """Local stores hand out plain absolute paths (usable with ``open()``); others full URLs."""
        return uri_on(self.fs, path)

    def blob_path(self, sha: str) -> str:
        return f"{self.root}/{sha[:2]}/{sha}"

    def dir_path(self, digest: str) -> str:
        return f"{self.root}/dirs/{digest[:2]}/{digest}"

    def contains(self, uri: str) -> bool:
        """True when ``uri`` lies inside this store."""
        fs, path = url_to_fs(uri)
        return type(fs) is type(self.fs) and (path == self.root or path.startswith(self.root + "/"))

    def new_uri(self, name: str | None = None) -> str:
        """A fresh random location (``new_remote``)."""
        return self.uri_of(f"{self.root}/remote/{uuid.uuid4().hex}/{name or uuid.uuid4().hex[:12]}")

    def named_uri(self, action_path: str, name: str) -> str:
        """The location of ``name`` for one action: the same on every retry (``named_remote``)."""
        return self.uri_of(f"{self.root}/named/{action_path.strip('/')}/{name}")

    # -- writing -----------------------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> tuple[str, str]:
        sha = hashlib.sha256(data).hexdigest()
        final = self.blob_path(sha)
        if not self.fs.exists(final):
            self._write_atomic(final, lambda f: f.write(data))
        return self.uri_of(final), sha

    def put_file(self, local_path: str | os.PathLike[str], *, move: bool = False) -> tuple[str, str]:
        """Store a local file by content. ``move=True`` lets a local store take the file by renaming it."""
        src = local_source(local_path, directory=False)
        if self.is_local and not move:
            return self._copy_hashing(src)
        sha = sha256_file(src)
        final = self.blob_path(sha)
        if self.fs.exists(final):
            if move:
                os.unlink(src)
            return self.uri_of(final), sha
        if self.is_local:
            self._place_local(src, final, move=True)
        else:
            tmp = f"{self.root}/{sha[:2]}/{_tmp_name()}"
            self.fs.put_file(src, tmp)
            self._rename(tmp, final)
            if move:
                os.unlink(src)
        return self.uri_of(final), sha

    def put_local(
        self, local_path: str | os.PathLike[str], dest_uri: str | None, *, directory: bool
    ) -> tuple[str, str]:
        """A local file (or tree) copied into the store, named by its content, or to ``dest_uri``."""
        if directory:
            return self.put_dir_at(local_path, dest_uri) if dest_uri else self.put_dir(local_path)
        return self.put_file_at(local_path, dest_uri) if dest_uri else self.put_file(local_path)

    def put_file_at(self, local_path: str | os.PathLike[str], dest_uri: str) -> tuple[str, str]:
        """Copy a local file to an exact location (``remote_destination``), atomically."""
        src = local_source(local_path, directory=False)
        sha = sha256_file(src)
        fs, dest = url_to_fs(dest_uri)
        tmp = tmp_beside(fs, dest)
        fs.put_file(src, tmp)
        _rename(fs, tmp, dest)
        return uri_on(fs, dest), sha

    def put_dir(self, local_dir: str | os.PathLike[str]) -> tuple[str, str]:
        """Store a directory tree, named by the hash of its manifest (relative paths and file hashes)."""
        src = local_source(local_dir, directory=True)
        digest = dir_digest(src)
        final = self.dir_path(digest)
        if not self.fs.exists(final):
            _put_tree(self.fs, src, final, replace=False)
        return self.uri_of(final), digest

    def put_dir_at(self, local_dir: str | os.PathLike[str], dest_uri: str) -> tuple[str, str]:
        """Copy a directory tree to an exact location (``remote_destination``), replacing what was there."""
        src = local_source(local_dir, directory=True)
        digest = dir_digest(src)
        fs, dest = url_to_fs(dest_uri)
        dest = dest.rstrip("/")
        _put_tree(fs, src, dest, replace=True)
        return uri_on(fs, dest), digest

    def _write_atomic(self, final: str, write: Any) -> None:
        tmp = tmp_beside(self.fs, final)
        try:
            if self.is_local:
                with open(tmp, "wb") as f:
                    write(f)
                    f.flush()
                    os.fsync(f.fileno())
            else:
                with self.fs.open(tmp, "wb") as f:
                    write(f)
            self._rename(tmp, final)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)

    def _copy_hashing(self, src: str) -> tuple[str, str]:
        """Local store: one pass reads the file, hashes it and writes the temporary copy."""
        os.makedirs(self.root, exist_ok=True)
        tmp = f"{self.root}/{_tmp_name()}"
        digest = hashlib.sha256()
        try:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                while chunk := fin.read(_CHUNK):
                    digest.update(chunk)
                    fout.write(chunk)
                fout.flush()
                os.fsync(fout.fileno())
            sha = digest.hexdigest()
            final = self.blob_path(sha)
            if not os.path.exists(final):
                os.makedirs(os.path.dirname(final), exist_ok=True)
                os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return final, sha

    def _place_local(self, src: str, final: str, *, move: bool) -> None:
        os.makedirs(os.path.dirname(final), exist_ok=True)
        if move:
            try:
                os.replace(src, final)
                return
            except OSError:  # another filesystem: copy, then drop the source
                pass
        tmp = f"{os.path.dirname(final)}/{_tmp_name()}"
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        if move:
            os.unlink(src)

    def _rename(self, tmp: str, final: str) -> None:
        _rename(self.fs, tmp, final)

    # -- reading -----------------------------------------------------------------------------------------

    def exists(self, uri: str) -> bool:
        fs, path = url_to_fs(uri)
        return bool(fs.exists(path))

    def open(self, uri: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        fs, path = url_to_fs(uri)
        return fs.open(path, mode, **kwargs)  # type: ignore[no-any-return]

    def read_bytes(self, uri: str) -> bytes:
        fs, path = url_to_fs(uri)
        return fs.cat_file(path)  # type: ignore[no-any-return]

    def get(self, uri: str, local_path: str | os.PathLike[str]) -> str:
        """Download a file or a directory tree to ``local_path``; returns that path."""
        fs, path = url_to_fs(uri)
        dest = os.fspath(local_path)
        if fs.isdir(path):
            if is_local_fs(fs):
                shutil.copytree(path, dest, dirs_exist_ok=True)
            else:
                os.makedirs(dest, exist_ok=True)
                fs.get(path.rstrip("/") + "/", dest.rstrip("/") + "/", recursive=True)
        else:
            os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
            fs.get_file(path, dest)
        return dest


def tmp_beside(fs: Any, path: str) -> str:
    """A fresh temporary name in ``path``'s folder (made if missing): renamed onto ``path`` once complete."""
    parent = path.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    return f"{parent}/{_tmp_name()}"


def _put_tree(fs: Any, src: str, final: str, *, replace: bool) -> None:
    """Copy the local tree ``src`` to ``final`` through a temporary sibling, so ``final`` is never
    partial; ``replace`` first removes what stood at ``final``."""
    tmp = tmp_beside(fs, final)
    try:
        if is_local_fs(fs):
            shutil.copytree(src, tmp)
        else:
            fs.put(src.rstrip("/") + "/", tmp, recursive=True)
        if replace and fs.exists(final):
            fs.rm(final, recursive=True)
        _rename(fs, tmp, final)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)


def _rename(fs: Any, tmp: str, final: str) -> None:
    if is_local_fs(fs):
        try:
            os.replace(tmp, final)
        except OSError:
            # A directory of the same content appeared meanwhile (rename onto a non-empty dir fails):
            # the content is already there, which is all a content-addressed store needs.
            if not os.path.exists(final):
                raise
        return
    if fs.isdir(tmp):
        fs.mv(tmp, final, recursive=True)
    else:
        fs.mv(tmp, final)


def _walk_entries(root: str) -> Iterator[tuple[str, bool]]:
    """(relative path, is_dir) for every entry under ``root``, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for d in dirnames:
            yield (Path(rel_dir, d).as_posix() if rel_dir != "." else d), True
        for name in sorted(filenames):
            yield (Path(rel_dir, name).as_posix() if rel_dir != "." else name), False


def dir_digest(local_dir: str) -> str:
    """SHA-256 over the sorted (relative path, content hash) pairs of a tree; empty folders count."""
    lines = []
    for rel, is_dir in _walk_entries(local_dir):
        lines.append(f"{rel}/" if is_dir else f"{rel}\0{sha256_file(os.path.join(local_dir, rel))}")
    manifest = "\n".join(sorted(lines)).encode("utf-8", "surrogateescape")
    return hashlib.sha256(_DIR_MANIFEST_VERSION + manifest).hexdigest()


_STORES: dict[str, BlobStore] = {}


def blob_store(url: str) -> BlobStore:
    """The (cached) store for ``url``."""
    store = _STORES.get(url)
    if store is None:
        store = _STORES[url] = BlobStore(url)
    return store
