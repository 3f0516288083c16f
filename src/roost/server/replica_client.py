"""HTTP/1.1 to the apps' replicas, for the proxy: kept-alive connections per port, reused request after
request, and a response read as its framing says (Content-Length, chunked, or until the replica closes).

Every upstream of the proxy is a replica on 127.0.0.1 that speaks HTTP/1.1, and a general client
(httpx) spends more per request building its models than the request itself takes on this machine. So
the proxy writes the request line and headers as bytes (``ReplicaPool.send``) and this module reads the
answer's status line, headers and body with asyncio's streams: nothing decoded, nothing copied but what
the socket gives. A kept-alive connection the replica closed meanwhile is noticed before it is reused,
and a request that found it closed anyway (the replica closed it as the request went out) is sent again
on a new connection when it had no body -- nothing of it can have been handled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

MAX_HEAD = 1 << 20  # a response's status line and headers, at most
PIECE = 1 << 16  # what one read of a body asks for
IDLE_S = 4.0  # uvicorn closes a connection idle for 5 s: one idle for 4 s is not reused, it is closed
IDLE_PER_PORT = 64  # connections kept idle to one replica; more are closed when their request is done
CONNECT_S = 5.0
NO_BODY_STATUS = frozenset({204, 304})


class ReplicaError(Exception):
    """The replica did not answer as HTTP/1.1 says (refused, closed, or malformed): one line why."""


class _Connection:
    __slots__ = ("idle_since", "port", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int):
        self.reader, self.writer, self.port = reader, writer, port
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing() and now - self.idle_since < IDLE_S

    def close(self) -> None:
        self.writer.close()


class ReplicaResponse:
    """A response's status and headers (names in lowercase, as the replica sent them otherwise), and
    its body read piece by piece with ``read``; ``complete`` once all of it was read."""

    def __init__(self, pool: ReplicaPool, connection: _Connection, status: int, headers: list[tuple[bytes, bytes]]):
        self._pool = pool
        self._connection: _Connection | None = connection
        self.status = status
        self.headers = headers
        self.complete = False
        self._reusable = True
        self._left = 0  # of the body (Content-Length) or of the current chunk
        self._mode = "length"  # length, chunked, close (until the replica closes)

    async def read(self) -> bytes:
        """The next piece of the body; ``b""`` with ``complete`` set at its end."""
        connection = self._connection
        if self.complete or connection is None:
            return b""
        reader = connection.reader
        try:
            if self._mode == "chunked" and self._left == 0 and not await self._next_chunk(reader):
                self._finish()
                return b""
            if self._mode == "close":
                data = await reader.read(PIECE)
                if not data:
                    self._finish()
                return data
            data = await reader.read(min(self._left, PIECE))
            if not data:
                raise ReplicaError("the replica closed the connection before the end of its response")
            self._left -= len(data)
            if self._left == 0:
                if self._mode == "length":
                    self._finish()
                else:
                    await reader.readexactly(2)  # the CRLF that ends a chunk's data
            return data
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError) as e:
            self.abort()
            raise ReplicaError(f"the replica's response was cut: {type(e).__name__}") from None

    async def _next_chunk(self, reader: asyncio.StreamReader) -> bool:
        """Read a chunk's size line; False at the last chunk (its trailers read too)."""
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size < 0:
            raise ValueError("a negative chunk size")
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers: hop-by-hop here, not passed on
            return False
        self._left = size
        return True

    def _finish(self) -> None:
        self.complete = True
        connection, self._connection = self._connection, None
        if connection is not None:
            if self._reusable and self._mode != "close":
                self._pool._keep(connection)
            else:
                connection.close()

    def abort(self) -> None:
        """Close the connection (the body is not wanted, or it was cut): it is never reused."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class ReplicaPool:
    """Kept-alive connections to the replicas (by port), each carrying one request at a time."""

    def __init__(self) -> None:
        self._idle: dict[int, list[_Connection]] = {}
        self._swept = time.monotonic()

    async def send(
        self, port: int, head: bytes, body: AsyncIterator[bytes] | None, chunked: bool, head_only: bool
    ) -> ReplicaResponse:
        """Send a request -- ``head`` its request line and headers, ``body`` its body's pieces (framed
        as chunks when ``chunked``) -- and read the response's status and headers. ``head_only``: a HEAD
        request, whose response has no body whatever its headers say."""
        connection = self._take(port)
        reused = connection is not None
        while True:
            if connection is None:
                connection = await self._open(port)
            try:
                connection.writer.write(head)
                if body is not None:
                    await _write_body(connection.writer, body, chunked)
                return await self._read_head(connection, head_only)
            except (asyncio.IncompleteReadError, ConnectionError) as e:
                connection.close()
                # A kept-alive connection the replica closed as the request went out: it saw nothing.
                nothing_read = not isinstance(e, asyncio.IncompleteReadError) or not e.partial
                if reused and body is None and nothing_read:
                    connection, reused = None, False
                    continue
                raise ReplicaError(f"the replica closed the connection: {type(e).__name__}") from None
            except (asyncio.LimitOverrunError, ValueError, OSError) as e:
                connection.close()
                raise ReplicaError(f"the replica's answer is not HTTP/1.1: {type(e).__name__}: {e}") from None
            except BaseException:  # cancelled (the request timeout, the client gone): the answer is not read
                connection.close()
                raise

    async def _read_head(self, connection: _Connection, head_only: bool) -> ReplicaResponse:
        reader = connection.reader
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].split(b"\r\n")
            version, _, rest = lines[0].partition(b" ")
            status = int(rest[:3])
            if not version.startswith(b"HTTP/1.") or not 100 <= status <= 599:
                raise ValueError(f"status line {lines[0][:80]!r}")
            if status >= 200 or status == 101:
                break  # 1xx (100 Continue, 103 Early Hints) are informational: the answer follows
        headers = []
        length: int | None = None
        chunked = False
        keep_alive = version == b"HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            elif name == b"connection":
                keep_alive = keep_alive and b"close" not in value.lower()
            headers.append((name, value))
        if chunked and length is not None:  # RFC 9112 6.3: chunked wins; the length is not passed on
            headers = [(k, v) for k, v in headers if k != b"content-length"]
            length = None
        response = ReplicaResponse(self, connection, status, headers)
        response._reusable = keep_alive
        if head_only or status in NO_BODY_STATUS or status < 200:
            response._finish()
        elif chunked:
            response._mode = "chunked"
        elif length is not None:
            if length < 0:
                raise ValueError("a negative Content-Length")
            response._left = length
            if length == 0:
                response._finish()
        else:
            response._mode = "close"
        return response

    def _take(self, port: int) -> _Connection | None:
        idle = self._idle.get(port)
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
        idle = self._idle.setdefault(connection.port, [])
        if len(idle) < IDLE_PER_PORT:
            idle.append(connection)
        else:
            connection.close()
        if now - self._swept > IDLE_S:  # connections to replicas gone, or idle too long, are closed
            self._swept = now
            for port, connections in list(self._idle.items()):
                for stale in [c for c in connections if not c.usable(now)]:
                    stale.close()
                    connections.remove(stale)
                if not connections:
                    del self._idle[port]

    async def _open(self, port: int) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, limit=MAX_HEAD), CONNECT_S
            )
        except asyncio.TimeoutError:
            raise ReplicaError(f"the replica did not accept a connection within {CONNECT_S:g} s") from None
        except OSError as e:
            raise ReplicaError(f"cannot connect to the replica: {e.strerror or e}") from None
        return _Connection(reader, writer, port)

    def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()


async def _write_body(writer: asyncio.StreamWriter, body: AsyncIterator[bytes], chunked: bool) -> None:
    async for piece in body:
        if chunked:
            writer.write(b"%x\r\n%b\r\n" % (len(piece), piece))
        else:
            writer.write(piece)
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")
