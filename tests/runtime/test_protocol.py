"""Frames between the controller and its workers: messages come out whole however the bytes arrive."""

from __future__ import annotations

import asyncio
import socket

from roost.runtime.workers.protocol import MessageProtocol, connect, encode


def feed(stream: bytes, chunk: int) -> list[dict]:
    received: list[dict] = []
    protocol = MessageProtocol()
    protocol.attach(received.append, lambda: None)
    for start in range(0, len(stream), chunk):
        protocol.data_received(stream[start : start + chunk])
    return received


def test_messages_come_out_whole_whatever_the_chunking():
    small = [{"op": "log", "id": "a1", "line": f"line {i}"} for i in range(50)]
    stream = b"".join(encode(m) for m in small)
    for chunk in (1, 3, 4, 5, 64, len(stream)):  # headers split anywhere, several frames per read
        assert feed(stream, chunk) == small, chunk


def test_a_large_frame_in_many_reads():
    # 5 MB in 1 KB reads: gathered, then parsed once (joining at every read would copy ~12 GB).
    big = {"op": "done", "id": "a1", "outputs": bytes(range(256)) * 20_000}
    stream = encode({"op": "log", "line": "x"}) + encode(big) + encode(big)
    assert feed(stream, 1024) == [{"op": "log", "line": "x"}, big, big]


def test_messages_before_attach_are_kept_and_the_end_is_reported():
    async def main() -> tuple[list[dict], list[str]]:
        ours, theirs = socket.socketpair()
        protocol = await connect(ours)
        theirs.sendall(encode({"op": "setup"}) + encode({"op": "run", "id": "a0"}))
        theirs.close()
        await asyncio.sleep(0.05)  # both frames and the end arrive before anyone listens
        received: list[dict] = []
        ended: list[str] = []
        protocol.attach(received.append, lambda: ended.append("closed"))
        return received, ended

    received, ended = asyncio.run(main())
    assert received == [{"op": "setup"}, {"op": "run", "id": "a0"}]
    assert ended == ["closed"]
