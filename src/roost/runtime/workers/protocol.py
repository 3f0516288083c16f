"""Frames between the controller and its processes: a 4-byte big-endian length, then msgpack.

Messages are dicts with an ``op``. Payload bytes (packed literals) travel as msgpack bin, never
re-encoded. Secret values travel only over these private sockets, never to the store or logs.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import msgpack

_HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 31


def encode(message: dict[str, Any]) -> bytes:
    body = msgpack.packb(message, use_bin_type=True)
    return _HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    return msgpack.unpackb(body, raw=False, strict_map_key=False)


async def read_message(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None at end of stream (the other side closed or died)."""
    try:
        header = await reader.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        return decode(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
        return None


def send_blocking(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(encode(message))


def recv_blocking(sock: socket.socket) -> dict[str, Any] | None:
    header = _recv_exactly(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    body = _recv_exactly(sock, size)
    return None if body is None else decode(body)


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
