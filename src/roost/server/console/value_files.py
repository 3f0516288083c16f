"""Downloading the files an action's values name (File, Dir, DataFrame) through the console.

Only what the store references is served: the path asked for must be one that the action's recorded
inputs or outputs name (a Dir's files inside that Dir), and it is always sent as an attachment --
a file may be user HTML, which must never render as a page of the console's origin.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import FileResponse, Response, StreamingResponse

from roost.server.api import BadRequest
from roost.server.console.run_views import CONDITION
from roost.server.console.value_views import blob_path, blob_refs
from roost.store.blobs import is_remote_uri, local_path_of, url_to_fs
from roost.store.run_store import RunStore
from roost.types import task_io

_CHUNK = 1 << 20
# Nothing of a downloaded file runs, even if a browser were to show it.
_FILE_POLICY = "sandbox; default-src 'none'"


def file_of(store: RunStore, run: str, action_id: str, ref: str, member: str | None) -> tuple[str, str]:
    """Where a file the action's values name is, and its name; a 404 for any other path."""
    action = store.get_action(run, action_id)
    if action is None:
        raise BadRequest(f"run {run!r} has no action {action_id[:100]!r}", 404)
    refs: list[tuple[str, str, str]] = []
    # A condition's inputs are its spec, not values: it names no file.
    for data in (action.inputs, action.outputs) if action.isolation != CONDITION else ():
        try:
            for lit in task_io.unpack(data).values() if data else ():
                blob_refs(lit, refs)
        except Exception:  # an unreadable value names no file
            continue
    found = blob_path(refs, ref, member)
    if found is None:
        raise BadRequest(f"action {action_id[:100]} of run {run} names no such file", 404)
    return found


async def download(where: str, filename: str, common: dict[str, str]) -> Response:
    """The file at ``where`` (a local path or an object store's URL) as an attachment named ``filename``."""
    headers = {**common, "content-security-policy": _FILE_POLICY}
    gone = BadRequest(f"{filename} is no longer where the run left it", 404)
    if not is_remote_uri(where):
        path = local_path_of(where)
        if not os.path.isfile(path):
            raise gone
        return FileResponse(
            path, filename=filename, headers=headers, media_type="application/octet-stream",
            content_disposition_type="attachment",
        )  # fmt: skip
    fs, path = url_to_fs(where)
    try:
        opened = await run_in_threadpool(fs.open, path, "rb")
    except (OSError, ValueError):
        raise gone from None

    def chunks() -> Iterator[bytes]:
        with opened:
            while chunk := opened.read(_CHUNK):
                yield chunk

    headers["content-disposition"] = f"attachment; filename*=utf-8''{urllib.parse.quote(filename)}"
    return StreamingResponse(iterate_in_threadpool(chunks()), headers=headers, media_type="application/octet-stream")
