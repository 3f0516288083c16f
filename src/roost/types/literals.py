"""Literals: Python values in a typed, language-neutral form, and their msgpack encoding.

A ``Literal`` is a kind tag plus a payload. Payloads of container kinds hold further literals, so a
File nested three levels deep in a dataclass is still a ``file`` literal that the hash and the
inline-size check can see. The tag records the wire type, so bytes can be decoded (and shown) without
the Python type that produced them.

Kinds (payload):
    none (None) · bool · int · float · str · bytes · decimal (str) · enum (member name or Literal value)
    datetime ([seconds since the epoch, microseconds], UTC) · date (ordinal) · duration ([d, s, us])
    list, tuple (list of literals) · vec (list of natives; meta = element kind, for list[primitive])
    map, record (str -> literal; record meta = the Python type's name) · vmap (str -> native; meta = kind)
    pairs ([[key literal, value literal], ...] for dict[K != str, V]) · union (a literal; meta = member tag)
    msgpack (a msgpack-native structure: untyped dicts) · pickle (cloudpickle bytes; meta = type name)
    file, dir ({path, name, format, hash}) · dataframe ({uri, format, hash})
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgpack

FORMAT_VERSION = 1

# Kinds whose payload is a list of literals / a str-keyed dict of literals / one literal.
LIST_KINDS = frozenset({"list", "tuple"})
MAP_KINDS = frozenset({"map", "record"})
BLOB_KINDS = frozenset({"file", "dir", "dataframe"})

# msgpack integers stop at 64 bits; Python's do not. Larger ints travel as an extension holding their
# decimal text, so ``10**100`` round-trips exactly.
_BIGINT_EXT = 1
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


@dataclass(frozen=True, slots=True)
class Literal:
    """A value in wire form: ``kind`` tags the payload ``value``; ``meta`` names a type or union member."""

    kind: str
    value: Any = None
    meta: str = ""


@dataclass(frozen=True, slots=True)
class LiteralType:
    """The wire type of a Python type: used for union tags, interface hashes and ``guess_python_type``.

    ``args`` are element / field / member types, ``names`` the field names of a record or tuple, the
    values of an enum; ``name`` is the Python type's qualified name where one exists.
    """

    kind: str
    args: tuple[LiteralType, ...] = ()
    names: tuple[str, ...] = ()
    name: str = ""

    def __str__(self) -> str:
        text = self.kind
        if self.name:
            text += f"<{self.name}>"
        if self.names and not self.args:
            text += "{" + ",".join(self.names) + "}"
        elif self.names:
            text += "{" + ",".join(f"{n}:{a}" for n, a in zip(self.names, self.args)) + "}"
        elif self.args:
            text += "[" + ",".join(str(a) for a in self.args) + "]"
        return text


def is_big_int(value: int) -> bool:
    return not (_INT_MIN <= value <= _INT_MAX)


def _native_int(value: int) -> Any:
    return msgpack.ExtType(_BIGINT_EXT, str(value).encode()) if is_big_int(value) else value


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _BIGINT_EXT:
        return int(data.decode())
    return msgpack.ExtType(code, data)


def _encode(lit: Literal) -> list[Any]:
    kind, value = lit.kind, lit.value
    if kind in LIST_KINDS:
        value = [_encode(v) for v in value]
    elif kind in MAP_KINDS:
        value = {k: _encode(v) for k, v in value.items()}
    elif kind == "union":
        value = _encode(value)
    elif kind == "pairs":
        value = [[_encode(k), _encode(v)] for k, v in value]
    elif kind == "int":
        value = _native_int(value)
    elif kind == "vec" and lit.meta == "int":
        value = [_native_int(v) for v in value]
    elif kind == "vmap" and lit.meta == "int":
        value = {k: _native_int(v) for k, v in value.items()}
    return [kind, value, lit.meta] if lit.meta else [kind, value]


def _decode(item: list[Any]) -> Literal:
    kind, value = item[0], item[1]
    meta = item[2] if len(item) > 2 else ""
    if kind in LIST_KINDS:
        value = [_decode(v) for v in value]
    elif kind in MAP_KINDS:
        value = {k: _decode(v) for k, v in value.items()}
    elif kind == "union":
        value = _decode(value)
    elif kind == "pairs":
        value = [(_decode(k), _decode(v)) for k, v in value]
    return Literal(kind, value, meta)


# Lone surrogates are legal in a Python str but not in UTF-8; surrogatepass keeps every str exact.
_PACK_OPTS: dict[str, Any] = {"use_bin_type": True, "unicode_errors": "surrogatepass"}
_UNPACK_OPTS: dict[str, Any] = {
    "raw": False,
    "strict_map_key": False,
    "ext_hook": _ext_hook,
    "unicode_errors": "surrogatepass",
}


def packb(obj: Any) -> bytes:
    """msgpack with the options every roost encoding uses."""
    return msgpack.packb(obj, **_PACK_OPTS)


def unpackb(data: bytes) -> Any:
    return msgpack.unpackb(data, **_UNPACK_OPTS)


def encode_literal(lit: Literal) -> bytes:
    return packb(_encode(lit))


def decode_literal(data: bytes) -> Literal:
    return _decode(unpackb(data))


def pack_literals(literals: dict[str, Literal]) -> bytes:
    """Named literals as bytes: ``[FORMAT_VERSION, {name: encoded literal}]``, names in the given order."""
    return packb([FORMAT_VERSION, {name: _encode(lit) for name, lit in literals.items()}])


def unpack_literals(data: bytes) -> dict[str, Literal]:
    try:
        version, items = unpackb(data)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise ValueError(f"not a roost literal map: {e}") from e
    if version != FORMAT_VERSION:
        raise ValueError(f"literal map format {version} is not supported (this roost reads {FORMAT_VERSION})")
    return {name: _decode(item) for name, item in items.items()}


def literal_size(lit: Literal) -> int:
    """Bytes the literal takes inline; a File / Dir / DataFrame counts only its reference."""
    return len(encode_literal(lit))


def _first(pair: list[Any]) -> Any:
    return pair[0]


def _canonical(lit: Literal) -> Any:
    """A form of ``lit`` whose encoding is the same for equal values, whatever the dict order."""
    kind, value = lit.kind, lit.value
    if kind in BLOB_KINDS:
        # The content hash identifies the data; where none is known the location has to do (as in Flyte's cache key).
        ref = value.get("hash") or value.get("path") or value.get("uri")
        return [kind, ref, value.get("format", "")]
    if kind in LIST_KINDS:
        value = [_canonical(v) for v in value]
    elif kind in MAP_KINDS:
        value = sorted(([k, _canonical(v)] for k, v in value.items()), key=_first)
    elif kind == "vmap":
        value = sorted(([k, _native_int(v) if lit.meta == "int" else v] for k, v in value.items()), key=_first)
    elif kind == "union":
        value = _canonical(value)
    elif kind == "pairs":
        value = sorted(([packb(_canonical(k)), _canonical(v)] for k, v in value), key=_first)
    elif kind == "msgpack":
        value = _canonical_native(value)
    else:
        return _encode(lit)
    return [kind, value, lit.meta]


def _canonical_native(value: Any) -> Any:
    if isinstance(value, dict):
        return [
            "d",
            sorted(([packb(_canonical_native(k)), _canonical_native(v)] for k, v in value.items()), key=_first),
        ]
    if isinstance(value, list):
        return ["l", [_canonical_native(v) for v in value]]
    return value


def canonical_bytes(literals: dict[str, Literal]) -> bytes:
    """Order-independent bytes of named literals, for hashing."""
    return packb(sorted(([name, _canonical(lit)] for name, lit in literals.items()), key=_first))


def hash_literals(literals: dict[str, Literal]) -> str:
    return hashlib.sha256(canonical_bytes(literals)).hexdigest()
