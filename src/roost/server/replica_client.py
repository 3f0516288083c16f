"""HTTP/1.1 to the apps' replicas, for the proxy: kept-alive connections per address, reused request after
request, each request and response streamed piece by piece.

Every upstream of the proxy is a replica that speaks HTTP/1.1 (on 127.0.0.1, or on a Ray node), and a general client
(httpx) spends more per request building its models than the request itself takes on this machine. So
this client is the least around ``h11``, which does the HTTP/1.1 itself: it writes the request's head
and frames its body, parses the response (Content-Length, chunked, until close, 1xx, HEAD/204/304) and
says, by its states, whether the connection may carry another request. Here are only the I/O (asyncio
streams), the pool of kept-alive connections, and one rule h11 leaves to its user: a kept-alive
connection the replica closed as a request went out is noticed (its answer is a close with nothing
read), and the request is sent again on a new connection when it had no body -- nothing of it can have
been handled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import h11

MAX_HEAD = 1 << 20  # a response's status line and headers, at most
PIECE = 1 << 16  # what one read from a replica asks for
IDLE_S = 4.0  # uvicorn closes a connection idle for 5 s: one idle for 4 s is not reused, it is closed
IDLE_PER_PORT = 64  # connections kept idle to one replica; more are closed when their request is done
CONNECT_S = 5.0

Headers = list[tuple[bytes, bytes]]


class ReplicaError(Exception):
    """The replica did not answer as HTTP/1.1 says (refused, closed, or malformed): one line why."""


class _ClosedUnanswered(Exception):
    """The replica closed the connection before any byte of its answer."""


class _Connection:
    __slots__ = ("address", "eof", "h11", "idle_since", "reader", "received", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: tuple[str, int]):
        self.reader, self.writer, self.address = reader, writer, address
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.idle_since = 0.0
        self.eof = False  # the replica closed its side (h11 was told)
        self.received = 0  # bytes of the current answer read so far

    def usable(self, now: float) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing() and now - self.idle_since < IDLE_S

    async def next_event(self) -> h11.Event:
        """h11's next event, reading from the replica as long as h11 needs more."""
        connection = self.h11
        while True:
            event = connection.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]  # PAUSED only comes after a whole response
            data = await self.reader.read(PIECE)
            self.eof = not data
            self.received += len(data)
            connection.receive_data(data)  # b"": the replica closed; h11 judges if the answer was whole

    def close(self) -> None:
        self.writer.close()


class ReplicaResponse:
    """A response's status and headers (names in lowercase, values as the replica sent them), and its
    body read piece by piece with ``read``; ``complete`` once all of it was read."""

    def __init__(self, pool: ReplicaPool, connection: _Connection, status: int, headers: Headers):
        self._pool = pool
        self._connection: _Connection | None = connection
        self.status = status
        self.headers = headers
        self.complete = False
        self._next: h11.Event | None = None  # an event h11 had already parsed, not yet given
        self._look_ahead()

    async def read(self) -> bytes:
        """The next piece of the body; ``b""`` with ``complete`` set at its end."""
        connection = self._connection
        if self.complete or connection is None:
            return b""
        try:
            event, self._next = self._next or await connection.next_event(), None
            if type(event) is h11.Data:
                self._look_ahead()  # the end already here: this piece goes as the last one
                return bytes(event.data)
            if type(event) is h11.EndOfMessage:
                self._finish()
                return b""
            raise h11.RemoteProtocolError(f"{type(event).__name__} within a response")
        except h11.RemoteProtocolError as e:
            self.abort()
            if connection.eof:
                raise ReplicaError("the replica closed the connection before the end of its response") from None
            raise ReplicaError(f"the replica's response was cut: {e}") from None
        except OSError as e:
            self.abort()
            raise ReplicaError(f"the replica's response was cut: {type(e).__name__}") from None

    def _look_ahead(self) -> None:
        """Take what h11 can parse of the body without reading more: its end, when it came with the
        piece before it (or with the head), makes the response complete now."""
        connection = self._connection
        if connection is None or self._next is not None:
            return
        event = connection.h11.next_event()
        if type(event) is h11.EndOfMessage:
            self._finish()
        elif event is not h11.NEED_DATA:
            self._next = event  # type: ignore[assignment]

    def _finish(self) -> None:
        self.complete = True
        connection, self._connection = self._connection, None
        if connection is None:
            return
        state = connection.h11
        # Both sides DONE: h11 found the answer whole and nothing in it (Connection: close, HTTP/1.0, a
        # body until close) asks to end the connection; bytes past the answer would be a broken replica.
        if state.our_state is h11.DONE and state.their_state is h11.DONE and not state.trailing_data[0]:
            state.start_next_cycle()
            self._pool._keep(connection)
        else:
            connection.close()

    def abort(self) -> None:
        """Close the connection (the body is not wanted, or it was cut): it is never reused."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class ReplicaPool:
    """Kept-alive connections to the replicas (by host and port), each carrying one request at a time."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._swept = time.monotonic()

    async def send(
        self,
        port: int,
        method: bytes,
        target: bytes,
        headers: Headers,
        body: AsyncIterator[bytes] | None,
        host: str = "127.0.0.1",
    ) -> ReplicaResponse:
        """Send a request to the replica at ``host``:``port`` -- ``headers`` with its Host, and a
        Content-Length or ``transfer-encoding: chunked`` when ``body`` (its pieces) is given -- and read
        the response's status and headers."""
        try:
            request = h11.Request(method=method, target=target, headers=headers)
        except h11.LocalProtocolError as e:
            raise ReplicaError(f"the request cannot be sent on: {e}") from None
        address = (host, port)
        connection = self._take(address)
        reused = connection is not None
        while True:
            if connection is None:
                connection = await self._open(address)
            try:
                return await self._exchange(connection, request, body)
            except (_ClosedUnanswered, ConnectionError) as e:
                connection.close()
                # A kept-alive connection the replica closed as the request went out: it saw nothing.
                if reused and body is None and not connection.received:
                    connection, reused = None, False
                    continue
                raise ReplicaError(f"the replica closed the connection: {type(e).__name__}") from None
            except h11.LocalProtocolError as e:  # the body did not match its Content-Length
                connection.close()
                raise ReplicaError(f"the request cannot be sent on: {e}") from None
            except (h11.RemoteProtocolError, OSError) as e:
                connection.close()
                if connection.eof:  # part of a head, then the replica closed
                    raise ReplicaError(f"the replica closed the connection mid-answer: {e}") from None
                raise ReplicaError(f"the replica's answer is not HTTP/1.1: {e}") from None
            except BaseException:  # cancelled (the request timeout, the client gone): the answer is not read
                connection.close()
                raise

    async def _exchange(
        self, connection: _Connection, request: h11.Request, body: AsyncIterator[bytes] | None
    ) -> ReplicaResponse:
        state, writer = connection.h11, connection.writer
        connection.received = 0
        if body is None:
            writer.write((state.send(request) or b"") + (state.send(h11.EndOfMessage()) or b""))
        else:
            writer.write(state.send(request) or b"")
            async for piece in body:
                writer.write(state.send(h11.Data(data=piece)) or b"")
                await writer.drain()
            writer.write(state.send(h11.EndOfMessage()) or b"")
        while True:
            try:
                event = await connection.next_event()
            except h11.RemoteProtocolError:
                if connection.eof and not connection.received:
                    raise _ClosedUnanswered() from None
                raise
            if type(event) is h11.Response:
                break
            # 1xx (100 Continue, 103 Early Hints) are informational: the answer follows
        # raw_items: as sent (a list at once, where iterating h11's Headers goes through a Sequence's
        # __getitem__ header by header -- a measurable part of a small request's cost)
        headers = [(name.lower(), value) for name, value in event.headers.raw_items()]
        if any(name == b"transfer-encoding" for name, _ in headers):  # RFC 9112 6.3: chunked wins
            headers = [(name, value) for name, value in headers if name != b"content-length"]
        return ReplicaResponse(self, connection, event.status_code, headers)

    def _take(self, address: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(address)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable(now):
                return connection
            connection.close()
        return None

    def _keep(self, connection: _Connection) -> None:
        now = time.monotonic()
        connection.idle_since = now
        idle = self._idle.setdefault(connection.address, [])
        if len(idle) < IDLE_PER_PORT:
            idle.append(connection)
        else:
            connection.close()
        if now - self._swept > IDLE_S:  # connections to replicas gone, or idle too long, are closed
            self._swept = now
            for address, connections in list(self._idle.items()):
                for stale in [c for c in connections if not c.usable(now)]:
                    stale.close()
                    connections.remove(stale)
                if not connections:
                    del self._idle[address]

    async def _open(self, address: tuple[str, int]) -> _Connection:
        try:
            opening = asyncio.open_connection(address[0], address[1], limit=PIECE)
            reader, writer = await asyncio.wait_for(opening, CONNECT_S)
        except asyncio.TimeoutError:
            raise ReplicaError(f"the replica did not accept a connection within {CONNECT_S:g} s") from None
        except OSError as e:
            raise ReplicaError(f"cannot connect to the replica: {e.strerror or e}") from None
        return _Connection(reader, writer, address)

    def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
