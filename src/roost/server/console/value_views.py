"""How the console shows an action's inputs and outputs: each value by what it is.

Decoded without the task's code, from the literals the store holds -- and never unpickled: a pickled
value is shown by its type name, so reading a run cannot run code that the run's data brings with it.

    scalar      its text (``3``, ``'abc'``, a date)
    json        records (dataclasses, pydantic models), lists and maps as indented JSON
    dataframe   a table preview: the column names and the first rows, read from its parquet
    file, dir   links that download through the console (``blob_path`` says which files may)

A value that holds files anywhere inside (a ``list[File]``, a record with a ``Dir``) also gets a link
for each of them.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import threading
from typing import Any

from roost.store.blobs import is_remote_uri, local_path_of, url_to_fs
from roost.types import task_io
from roost.types.literals import BLOB_KINDS, LIST_KINDS, MAP_KINDS, Literal

# A value's text is cut here: a page shows a preview, `roost get io` the whole value.
MAX_VALUE_CHARS = 20_000
PREVIEW_ROWS = 10
PREVIEW_COLUMNS = 50
MAX_CELL_CHARS = 200
MAX_LINKS = 50  # files linked per value; a Dir lists at most this many of its files
SCALARS = frozenset({"none", "bool", "int", "float", "str", "bytes", "decimal", "datetime", "date", "duration"})


def decoded_values(data: bytes | None, what: str) -> list[dict[str, Any]]:
    """Named values as ``{"name", "type", "kind", "text", "links", "table"}`` (see the module's doc)."""
    if not data:
        return []
    try:
        literals = task_io.unpack(data)
        shown = {name: inert(lit) for name, lit in literals.items()}
        natives = task_io.literals_to_native(shown)
    except Exception as e:  # a store written by another roost, or damaged: say so instead of failing
        text = f"cannot be decoded here: {type(e).__name__}"
        return [{"name": f"({what})", "type": "unreadable", "kind": "scalar", "text": text, "links": [], "table": None}]
    return [shown_value(name, shown[name], natives[name]) for name in shown]


def shown_value(name: str, lit: Literal, value: Any) -> dict[str, Any]:
    kind = lit.kind
    shown: dict[str, Any] = {"name": name, "type": type_name(lit, value), "kind": "json", "text": "", "table": None}
    shown["links"] = blob_links(lit)
    if kind in SCALARS or (kind == "enum") or (kind == "union" and _inner(lit).kind in SCALARS):
        shown["kind"] = "scalar"
    elif kind in ("file", "dir"):
        shown["kind"] = kind
    elif kind == "dataframe":
        shown["kind"] = "dataframe"
        shown["table"] = table_preview(lit.value.get("uri", ""), lit.value.get("format", ""))
    shown["text"] = text_of(value)
    return shown


def _inner(lit: Literal) -> Literal:
    while lit.kind == "union" and isinstance(lit.value, Literal):
        lit = lit.value
    return lit


def type_name(lit: Literal, value: Any) -> str:
    lit = _inner(lit)
    if lit.kind == "record" and lit.meta:
        return lit.meta.rsplit(":", 1)[-1].rsplit(".", 1)[-1]  # "pkg.mod:Point" -> "Point"
    names = {"file": "File", "dir": "Dir", "dataframe": "DataFrame", "none": "None"}
    if lit.kind in names:
        return names[lit.kind]
    name = type(value).__name__
    return {"NoneType": "None"}.get(name, name)


def inert(lit: Literal) -> Literal:
    """``lit`` with each pickled member replaced by its type's name (the server never unpickles)."""
    kind, value = lit.kind, lit.value
    if kind == "pickle":
        return Literal("str", f"<pickled {lit.meta or 'value'}>")
    if kind in LIST_KINDS and isinstance(value, (list, tuple)):
        return dataclasses.replace(lit, value=type(value)(inert(v) for v in value))
    if kind in MAP_KINDS and isinstance(value, dict):
        return dataclasses.replace(lit, value={k: inert(v) for k, v in value.items()})
    if kind == "pairs" and isinstance(value, (list, tuple)):
        return dataclasses.replace(lit, value=[(inert(k), inert(v)) for k, v in value])
    if kind in ("union", "enum") and isinstance(value, Literal):
        return dataclasses.replace(lit, value=inert(value))
    return lit


def blob_refs(lit: Literal, found: list[tuple[str, str, str]] | None = None) -> list[tuple[str, str, str]]:
    """The ``(kind, where, name)`` of every File, Dir and DataFrame in ``lit``, nested ones included (at
    most ``MAX_LINKS``): what a page may download (``blob_path``)."""
    found = [] if found is None else found
    if len(found) >= MAX_LINKS:
        return found
    kind, value = lit.kind, lit.value
    if kind in BLOB_KINDS and isinstance(value, dict):
        where = value.get("path") or value.get("uri")
        if isinstance(where, str) and where:
            found.append((kind, where, str(value.get("name") or os.path.basename(where.rstrip("/")))))
    elif kind in LIST_KINDS and isinstance(value, (list, tuple)):
        for member in value:
            blob_refs(member, found)
    elif kind in MAP_KINDS and isinstance(value, dict):
        for member in value.values():
            blob_refs(member, found)
    elif kind == "pairs" and isinstance(value, (list, tuple)):
        for pair in value:
            blob_refs(pair[1], found)
    elif kind == "union" and isinstance(value, Literal):
        blob_refs(value, found)
    return found


def blob_links(lit: Literal) -> list[dict[str, str]]:
    """Links to the files of ``lit``: a File or a DataFrame as one, a Dir as one per file in it."""
    links: list[dict[str, str]] = []
    for kind, where, name in blob_refs(lit):
        if kind != "dir":
            links.append({"ref": where, "label": name if kind == "file" else "the table as parquet"})
            continue
        for member in dir_members(where):
            links.append({"ref": where, "member": member, "label": f"{name}/{member}"})
            if len(links) >= MAX_LINKS:
                break
    return links[:MAX_LINKS]


def dir_members(where: str) -> list[str]:
    """The files of a Dir, as paths relative to it (sorted; at most ``MAX_LINKS``)."""
    if not is_remote_uri(where):  # walked, and left as soon as enough is found: a Dir may be huge
        root, found = local_path_of(where), []
        for folder, subfolders, files in os.walk(root):
            subfolders.sort()
            found.extend(os.path.relpath(os.path.join(folder, f), root) for f in sorted(files))
            if len(found) >= MAX_LINKS:
                break
        return [f.replace(os.sep, "/") for f in found[:MAX_LINKS]]
    try:
        fs, root = url_to_fs(where)
        found = sorted(fs.find(root))
    except (OSError, ValueError):
        return []
    prefix = root.rstrip("/") + "/"
    return [p[len(prefix) :] for p in found if p.startswith(prefix)][:MAX_LINKS]


def blob_path(refs: list[tuple[str, str, str]], ref: str, member: str | None) -> tuple[str, str] | None:
    """Where the file asked for is, and its name -- only when it is one the action's values name (a
    File or DataFrame, or a file inside a Dir of them); None for anything else."""
    for kind, where, name in refs:
        if where != ref:
            continue
        if kind != "dir":
            if member is not None:
                return None
            return where, name if kind == "file" or name.endswith(".parquet") else f"{name}.parquet"
        if not member or member.startswith("/") or "\\" in member or ".." in member.split("/"):
            return None
        path = f"{where.rstrip('/')}/{member}"
        if not is_remote_uri(where):
            root = os.path.realpath(local_path_of(where))
            real = os.path.realpath(local_path_of(path))
            if not real.startswith(root + os.sep):  # a link inside the Dir pointing out of it
                return None
        return path, member.rsplit("/", 1)[-1]
    return None


# Previews read, by (uri, format): a run page asks again at each change of its run, and a DataFrame's
# data is written once. Only previews that were read are kept (a store that failed may answer later).
_PREVIEWS: dict[tuple[str, str], dict[str, Any]] = {}
_PREVIEWS_LOCK = threading.Lock()  # the server reads values in several threads
MAX_PREVIEWS_KEPT = 256


def table_preview(uri: str, fmt: str) -> dict[str, Any]:
    """A DataFrame's column names and first rows (``{"columns", "rows", "total"}``), or why there is
    no preview (``{"error"}``): read from its parquet, a row group at a time, never whole."""
    kept = _PREVIEWS.get((uri, fmt))
    if kept is not None:
        return kept
    preview = _read_preview(uri, fmt)
    if "error" not in preview:
        with _PREVIEWS_LOCK:
            if len(_PREVIEWS) >= MAX_PREVIEWS_KEPT:
                _PREVIEWS.pop(next(iter(_PREVIEWS)))  # the oldest
            _PREVIEWS[(uri, fmt)] = preview
    return preview


def _read_preview(uri: str, fmt: str) -> dict[str, Any]:
    if fmt and fmt != "parquet":
        return {"error": f"no preview of {fmt} data"}
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return {"error": "a preview needs pyarrow on the server (pip install 'roost[dataframe]')"}
    try:
        fs, path = url_to_fs(uri if is_remote_uri(uri) else local_path_of(uri))
        if fs.isdir(path):
            parts = sorted(p for p in fs.find(path) if not os.path.basename(p).startswith(("_", ".")))
            if not parts:
                return {"columns": [], "rows": [], "total": 0}
            path = parts[0]
        with fs.open(path, "rb") as f:
            source = pq.ParquetFile(f)
            total = source.metadata.num_rows
            columns = source.schema_arrow.names[:PREVIEW_COLUMNS]
            rows: list[list[str]] = []
            for batch in source.iter_batches(batch_size=PREVIEW_ROWS, columns=columns):
                table = batch.to_pylist()
                rows = [[_cell(row.get(c)) for c in columns] for row in table[:PREVIEW_ROWS]]
                break
    except Exception as e:  # gone, not parquet, unreadable here: the page says so
        return {"error": f"no preview: {type(e).__name__}: {str(e)[:200]}"}
    return {"columns": columns, "rows": rows, "total": total}


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), ensure_ascii=False)
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "..."


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    for field in ("path", "uri"):  # File, Dir, DataFrame: where the data lives
        where = getattr(value, field, None)
        if isinstance(where, str):
            return {type(value).__name__: where}
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return repr(value)


def text_of(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int, float)) or value is None:
        text = repr(value)
    else:
        shown = _jsonable(value)
        text = shown if isinstance(shown, str) else json.dumps(shown, indent=2, ensure_ascii=False)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + f"\n... ({len(text) - MAX_VALUE_CHARS} more characters)"
    return text
