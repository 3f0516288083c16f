"""Frames between the controller and its workers: a 4-byte big-endian length, then one message
(runtime/messages.py: its kind and fields, msgpack).

Payload bytes (packed literals) travel as msgpack bin, never re-encoded. Secret values travel only
over these private sockets, never to the store or logs. A frame that is not a message closes the
connection with a ``ProtocolError`` (``MessageProtocol.error``): the peer's actions fail saying so.

Both ends read with ``MessageProtocol``: each complete frame is decoded and handed to its handler
inside the event loop's read callback, so a result reaches the action waiting for it without a
reader task in between (one loop iteration less per message, on a path measured in microseconds).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

from roost.runtime import messages
from roost.runtime.messages import Message, ProtocolError

_HEADER = struct.Struct(">I")
# A frame longer than this is not one of ours (the largest are packed inputs and outputs, which
# roost offloads to the blob store long before this size).
MAX_FRAME = 1 << 31


def encode(message: Message) -> bytes:
    body = messages.encode(message)
    return _HEADER.pack(len(body)) + body


decode = messages.decode


class MessageProtocol(asyncio.Protocol):
    """A stream of frames in, one ``on_message`` call per message; ``on_close`` once at the end.

    Handlers may be attached after the connection is made: what arrives before is kept for them.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._partial = bytearray()
        self._needed = 0  # the length of the frame being gathered in _partial (4: its header first)
        self._on_message: Callable[[Message], None] | None = None
        self._on_close: Callable[[], None] | None = None
        self._early: list[Message] = []
        self.closed = False
        self.error: ProtocolError | None = None  # why this end closed the connection, if it did

    def attach(self, on_message: Callable[[Message], None], on_close: Callable[[], None]) -> None:
        self._on_message, self._on_close = on_message, on_close
        early, self._early = self._early, []
        for message in early:
            on_message(message)
        if self.closed:
            on_close()

    def send(self, message: Message) -> None:
        """Queue ``message``; a closed connection drops it (its end is reported through on_close)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(encode(message))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.error is not None:
            return  # closing: the rest of a bad stream means nothing
        try:
            if self._partial:
                # A large frame arrives in many reads: gather them until it is whole, then parse once
                # (joining at every read would copy the frame over and over).
                self._partial += data
                if len(self._partial) < self._needed:
                    return
                data = bytes(self._partial)
                self._partial.clear()
            view = memoryview(data)
            end, pos = len(data), 0
            while end - pos >= 4:
                (size,) = _HEADER.unpack_from(data, pos)
                if size > MAX_FRAME:
                    raise ProtocolError(f"a frame of {size} bytes is not a message")
                stop = pos + 4 + size
                if stop > end:
                    break
                self._deliver(decode(view[pos + 4 : stop]))
                pos = stop
            if pos < end:
                self._partial += view[pos:]
                rest = end - pos
                self._needed = 4 + _HEADER.unpack_from(data, pos)[0] if rest >= 4 else 4
        except ProtocolError as e:
            self.error = e
            self._partial.clear()
            if self.transport is not None:
                self.transport.close()  # connection_lost follows: on_close reports it

    def _deliver(self, message: Message) -> None:
        if self._on_message is None:
            self._early.append(message)
        else:
            self._on_message(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._on_close is not None:
            self._on_close()


async def connect(sock: Any) -> MessageProtocol:
    """A MessageProtocol over the connected stream socket ``sock``, on the running loop."""
    _, protocol = await asyncio.get_running_loop().create_unix_connection(MessageProtocol, sock=sock)
    return protocol
