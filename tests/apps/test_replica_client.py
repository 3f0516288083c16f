"""The proxy's HTTP/1.1 client (roost.server.replica_client) against a real TCP server on 127.0.0.1 that
answers with the bytes each test gives: every framing a replica may use (Content-Length, chunked with
extensions and trailers, until close, 1xx first, no body), kept-alive connections reused only when the
answer allows it, a kept-alive connection the replica closed as a request went out, and answers cut or
malformed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from roost.server.replica_client import ReplicaError, ReplicaPool, ReplicaResponse

# (connection, request on it, request) -> the answer; None: close unanswered; ending with CLOSE: close after
Script = Callable[[int, int, bytes], bytes | None]
CLOSE = b"<close>"


class Replica:
    """A server that reads each request (head, and a Content-Length or chunked body) and writes what
    ``script`` says; what it received, per connection, is kept."""

    def __init__(self, script: Script):
        self.script = script
        self.received: list[list[bytes]] = []

    async def __aenter__(self) -> Replica:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests: list[bytes] = []
        self.received.append(requests)
        connection = len(self.received) - 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = b""
                lowered = head.lower()
                if b"content-length:" in lowered:
                    length = int(lowered.split(b"content-length:")[1].split(b"\r\n")[0])
                    body = await reader.readexactly(length)
                elif b"transfer-encoding: chunked" in lowered:
                    while (line := await reader.readuntil(b"\r\n")) != b"0\r\n":
                        body += line + await reader.readexactly(int(line, 16) + 2)
                    body += line + await reader.readuntil(b"\r\n")
                requests.append(head + body)
                answer = self.script(connection, len(requests) - 1, head + body)
                if answer is None:
                    break
                writer.write(answer.removesuffix(CLOSE))
                await writer.drain()
                if answer.endswith(CLOSE):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


HOST = [(b"host", b"replica")]


async def get(pool: ReplicaPool, port: int, path: bytes = b"/", method: bytes = b"GET") -> ReplicaResponse:
    return await pool.send(port, method, path, HOST, None)


async def body_of(response: ReplicaResponse) -> bytes:
    pieces = []
    while not response.complete:
        pieces.append(await response.read())
    return b"".join(pieces)


def run(test: Callable[[], object]) -> None:
    asyncio.run(test())  # type: ignore[arg-type]


OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


def test_chunked_answers_with_extensions_and_trailers_then_the_connection_is_reused():
    chunked = (  # with a Content-Length too, which chunked overrides (RFC 9112 6.3)
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\nContent-Length: 99\r\n\r\n"
        b"4;ext=1\r\nabcd\r\n2\r\nef\r\n0\r\nT: 1\r\n\r\n"  # a chunk extension, a trailer
    )

    async def test() -> None:
        async with Replica(lambda c, n, r: chunked if n == 0 else OK) as replica:
            pool = ReplicaPool()
            response = await get(pool, replica.port)
            assert response.status == 200 and (b"x-a", b"b") in response.headers
            assert b"content-length" not in dict(response.headers)
            assert await body_of(response) == b"abcdef"
            again = await get(pool, replica.port, b"/2")
            assert await body_of(again) == b"ok"
            assert len(replica.received) == 1 and len(replica.received[0]) == 2  # one connection, two requests
            pool.close()

    run(test)


def test_informational_answers_are_skipped_and_no_body_answers_have_none():
    answers = [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\nnew",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n",  # to a HEAD: the length of what a GET gets
        OK,
    ]

    async def test() -> None:
        async with Replica(lambda c, n, r: answers[n]) as replica:
            pool = ReplicaPool()
            response = await get(pool, replica.port)
            assert response.status == 201 and await body_of(response) == b"new"
            response = await get(pool, replica.port)
            assert response.status == 204 and response.complete
            response = await get(pool, replica.port, method=b"HEAD")
            assert response.status == 200 and response.complete and await response.read() == b""
            assert await body_of(await get(pool, replica.port)) == b"ok"
            assert len(replica.received) == 1  # each answer ended where it ended: one connection throughout
            pool.close()

    run(test)


def test_answers_that_end_with_the_connection_are_not_reused():
    answers = [  # per connection
        b"HTTP/1.0 200 OK\r\n\r\nuntil the end" + CLOSE,
        b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nok" + CLOSE,
        OK,
    ]

    async def test() -> None:
        async with Replica(lambda c, n, r: answers[c]) as replica:
            pool = ReplicaPool()
            assert await body_of(await get(pool, replica.port)) == b"until the end"
            assert await body_of(await get(pool, replica.port)) == b"ok"
            assert await body_of(await get(pool, replica.port)) == b"ok"
            assert [len(r) for r in replica.received] == [1, 1, 1]  # neither of the first two was kept
            pool.close()

    run(test)


def test_a_kept_alive_connection_closed_as_a_request_went_out_is_replaced():
    def script(connection: int, n: int, request: bytes) -> bytes | None:
        return OK if n == 0 else None  # the second request on a connection: closed unanswered

    async def test() -> None:
        async with Replica(script) as replica:
            pool = ReplicaPool()
            assert await body_of(await get(pool, replica.port)) == b"ok"
            # Kept alive, then closed by the replica on the next request: sent again on a new connection.
            assert await body_of(await get(pool, replica.port)) == b"ok"
            assert [len(r) for r in replica.received] == [2, 1]
            # With a body it is not sent again (part of it may have been handled): the caller hears why.
            with pytest.raises(ReplicaError, match="closed the connection"):
                await pool.send(replica.port, b"POST", b"/", [*HOST, (b"content-length", b"1")], _one(b"x"))
            pool.close()

    run(test)


def test_chunked_request_bodies_are_framed_as_chunks():
    async def test() -> None:
        async with Replica(lambda c, n, r: OK) as replica:
            pool = ReplicaPool()
            headers = [*HOST, (b"transfer-encoding", b"chunked")]
            response = await pool.send(replica.port, b"POST", b"/", headers, _pieces(b"abc", b"de"))
            assert await body_of(response) == b"ok"
            request = b"POST / HTTP/1.1\r\nhost: replica\r\ntransfer-encoding: chunked\r\n\r\n"
            assert replica.received[0][0] == request + b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            pool.close()

    run(test)


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"SPDY/3 200 OK\r\n\r\n", "not HTTP/1.1"),
        (b"HTTP/1.1 2xx OK\r\n\r\n", "not HTTP/1.1"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: ten\r\n\r\n", "not HTTP/1.1"),
        (b"HTTP/1.1 200 OK\r\ncontent-le" + CLOSE, "closed the connection mid-answer"),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + CLOSE, "closed the connection mid-answer"),
    ],
)
def test_malformed_answers_are_replica_errors(answer: bytes, says: str):
    async def test() -> None:
        async with Replica(lambda c, n, r: answer) as replica:
            with pytest.raises(ReplicaError, match=says):
                await get(ReplicaPool(), replica.port)

    run(test)


def test_a_body_cut_short_is_a_replica_error():
    cut = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this" + CLOSE

    async def test() -> None:
        async with Replica(lambda c, n, r: cut) as replica:
            response = await get(ReplicaPool(), replica.port)
            assert await response.read() == b"only this" and not response.complete
            with pytest.raises(ReplicaError, match="before the end of its response"):
                await response.read()

    run(test)


def test_a_replica_that_is_not_listening_is_a_replica_error():
    async def test() -> None:
        async with Replica(lambda c, n, r: OK) as replica:
            port = replica.port
        await asyncio.sleep(0.05)
        with pytest.raises(ReplicaError, match="cannot connect"):
            await get(ReplicaPool(), port)

    run(test)


async def _one(piece: bytes) -> AsyncIterator[bytes]:
    yield piece


async def _pieces(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece
