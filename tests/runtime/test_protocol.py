"""Frames between the controller and its workers: typed messages come out whole however the bytes
arrive, each kind round-trips through the codec, and a frame that is not a message is a clear
protocol error -- never a hang."""

from __future__ import annotations

import asyncio
import socket
import struct

import msgpack
import pytest

from roost.runtime import messages as m
from roost.runtime.frames import MessageProtocol, connect, encode


def feed(stream: bytes, chunk: int) -> list[m.Message]:
    received: list[m.Message] = []
    protocol = MessageProtocol()
    protocol.attach(received.append, lambda: None)
    for start in range(0, len(stream), chunk):
        protocol.data_received(stream[start : start + chunk])
    return received


def test_messages_come_out_whole_whatever_the_chunking():
    small = [m.LogLine("a1", 0, float(i), "stdout", f"line {i}") for i in range(50)]
    stream = b"".join(encode(message) for message in small)
    for chunk in (1, 3, 4, 5, 64, len(stream)):  # headers split anywhere, several frames per read
        assert feed(stream, chunk) == small, chunk


def test_a_large_frame_in_many_reads():
    # 5 MB in 1 KB reads: gathered, then parsed once (joining at every read would copy ~12 GB).
    big = m.ActionDone("a1", bytes(range(256)) * 20_000)
    first = m.LogLine("a1", 0, 1.0, "stdout", "x")
    stream = encode(first) + encode(big) + encode(big)
    assert feed(stream, 1024) == [first, big, big]


def test_messages_before_attach_are_kept_and_the_end_is_reported():
    setup = m.Setup({"A": "1"}, [], [], {})
    run = m.RunRequest("a0", m.TaskRef("mod", "t"), b"in", m.ActionContext("a0", 0, {}, "", ["r", "local"]))

    async def main() -> tuple[list[m.Message], list[str]]:
        ours, theirs = socket.socketpair()
        protocol = await connect(ours)
        theirs.sendall(encode(setup) + encode(run))
        theirs.close()
        await asyncio.sleep(0.05)  # both frames and the end arrive before anyone listens
        received: list[m.Message] = []
        ended: list[str] = []
        protocol.attach(received.append, lambda: ended.append("closed"))
        return received, ended

    received, ended = asyncio.run(main())
    assert received == [setup, run]
    assert ended == ["closed"]


# -- the codec ------------------------------------------------------------------------------------------
ERROR = m.WireError("ValueError", "user", "bad value", "Traceback ...", b"\x80pickled")
CONTEXT = m.ActionContext("a0-x", 2, {"team": "ml"}, "v1", ["r", "local", "/raw", "/base", False, 1.5, None])
SAMPLES: dict[type[m.Message], m.Message] = {
    m.WireError: ERROR,
    m.TaskRef: m.TaskRef(pickle=b"\x80task"),
    m.ActionContext: CONTEXT,
    m.SecretGrant: m.SecretGrant("api", "API_KEY", True, "s3cr3t", "/tmp/x"),
    m.StoreLocation: m.StoreLocation("/home/r", "file:///data"),
    m.Setup: m.Setup(
        {"A": "1"},
        ["OTHER"],
        [m.SecretGrant("api", None, True, "v", "/f")],
        {"cpus": [0, 1], "threads": 2},
        m.StoreLocation("/h", "s3://b"),
        ["/code"],
    ),
    m.RunRequest: m.RunRequest("a0", m.TaskRef("pkg.mod", "env.t"), b"\x00in", CONTEXT, {"a0-t1": ["helper", b"o"]}),
    m.CallRequest: m.CallRequest(7, "a0", "a0-c", m.TaskRef("m", "t"), b"i", "h", "g", {"k": "v"}, 1),
    m.CallReply: m.CallReply(7, error=ERROR),
    m.Shutdown: m.Shutdown(),
    m.LogLine: m.LogLine("a0", 1, 1.5, "stderr", "ünïcode line"),
    m.ActionDone: m.ActionDone("a0", b"\x01\x02"),
    m.ActionFailed: m.ActionFailed("a0", ERROR),
    m.TraceBegin: m.TraceBegin("a0", "a0-t1", "helper", "h", None, b"in", "hash"),
    m.TraceEnd: m.TraceEnd("a0", "a0-t1", None, ERROR),
    m.Fork: m.Fork(3, ["pkg.mod"], {"memory": 1 << 30, "cpu": None}),
    m.Ready: m.Ready(123, "/usr/bin/python3"),
    m.Forked: m.Forked(3, error="ImportError: no module"),
    m.Exited: m.Exited(124, -9, True),
    m.RayRun: m.RayRun(
        m.RunRequest("a1", m.TaskRef("m", "t"), b"", CONTEXT), m.Setup({}, [], [], {}), "host", "roost-broker-1"
    ),
    m.RayReply: m.RayReply(
        None,
        ERROR,
        [m.LogLine("a1", 0, 1.0, "stdout", "hi")],
        [m.TraceBegin("a1", "a1-t", "h", "h", "g", None, "x"), m.TraceEnd("a1", "a1-t", b"o", None)],
        "ray node abc",
    ),
    m.SubmitRun: m.SubmitRun(
        None, "sha256:ab", "pkg.mod", "env.t", b"\x00in", "h", {"env_vars": {"A": "1"}}, "v1", trigger="t.x/daily"
    ),
    m.RunAccepted: m.RunAccepted("r-1", "http://127.0.0.1:8686/runs/r-1"),
    m.RunRefused: m.RunRefused("r-1", ERROR, 409),
    m.RunEnded: m.RunEnded("r-1"),
    m.CallDeployed: m.CallDeployed("r-1", "a0", "a0-x", "lib.double", None, b"\x81\xa1x\x01", None, {}),
    m.DeployedCallEnded: m.DeployedCallEnded("r-1", "a0-x", error=m.WireError("E", "user", "boom")),
    m.BuildImages: m.BuildImages("b1", {"wf": ["wf.main"]}),
    m.ImagesBuilt: m.ImagesBuilt("b1", ["wf.main: up to date"], []),
    m.StartApp: m.StartApp("app-echo-r1", "app.py", "echo", 40123, {"who": "x"}, {"A": "1"}),
    m.RunMessages: m.RunMessages(
        "r-1", [m.CallRequest(1, "a0", "a0-c", m.TaskRef("m", "t"), b"i", "h", None, {}), m.ActionDone("a0", b"o")]
    ),
}


def test_every_message_kind_has_a_sample():
    assert set(SAMPLES) == set(m.MESSAGES)


@pytest.mark.parametrize("kind", m.MESSAGES, ids=lambda cls: cls.__name__)
def test_each_message_round_trips_through_the_codec(kind):
    message = SAMPLES[kind]
    back = m.decode(m.encode(message))
    assert type(back) is kind and back == message
    assert shape(back) == shape(message)  # nested messages typed too


def shape(value):
    """A value with every message in it, however deep, spelled out as (class, fields...)."""
    if isinstance(value, m.Message):
        return (type(value), *(shape(getattr(value, name)) for name in value.field_names))
    if isinstance(value, (list, tuple)):
        return [shape(v) for v in value]
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return value


def test_a_message_takes_its_fields_by_position_or_name_with_their_defaults():
    setup = m.Setup({"A": "1"}, [], [], {})
    assert setup.store is None and setup.code_paths == [] and setup.code_paths is not m.Setup({}, [], [], {}).code_paths
    assert m.CallReply(call=3, error=m.WireError("E", "user", "x")).outputs is None
    with pytest.raises(TypeError):
        m.Setup({"A": "1"})  # fields without defaults are required
    with pytest.raises(AttributeError):
        setup.other = 1  # slots: no field but the declared ones
    changed = m.replace(setup, limits={"memory": 1})
    assert changed.limits == {"memory": 1} and changed.env == {"A": "1"} and setup.limits == {}
    with pytest.raises(TypeError, match="no field nope"):
        m.replace(setup, nope=1)


def test_a_message_class_is_declared_as_a_dataclass_would_be():
    with pytest.raises(TypeError, match="mutable default"):

        @m.message
        class Shared(m.Message):
            items: list = []

    with pytest.raises(TypeError, match="without a default follows"):

        @m.message
        class Misordered(m.Message):
            a: int = 0
            b: int


def test_a_secret_value_does_not_show_in_a_repr():
    setup = SAMPLES[m.Setup]
    assert "s3cr3t" not in repr(SAMPLES[m.SecretGrant]) and "'v'" not in repr(setup)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xc1", "not a message"),
        (msgpack.packb({"op": "run"}), "non-empty array"),
        (msgpack.packb([]), "non-empty array"),
        (msgpack.packb([999, "x"]), "unknown message kind 999"),
        (msgpack.packb(["run", "x"]), "unknown message kind 'run'"),
        (msgpack.packb([m.ActionDone.kind, "a0"]), "ActionDone takes 2 to 2 fields, got 1"),
        (msgpack.packb([m.ActionFailed.kind, "a0", [999]]), "unknown message kind 999"),
        (msgpack.packb([m.Setup.kind, {}, [], "not-a-list", {}]), "must be an array of messages"),
    ],
)
def test_a_malformed_body_is_a_protocol_error(body, says):
    with pytest.raises(m.ProtocolError, match=says):
        m.decode(body)


def test_a_malformed_frame_closes_the_connection_with_the_error_and_never_hangs():
    good = m.LogLine("a0", 0, 1.0, "stdout", "before")
    bad = msgpack.packb([999])

    async def main() -> tuple[list[m.Message], MessageProtocol]:
        ours, theirs = socket.socketpair()
        protocol = await connect(ours)
        received: list[m.Message] = []
        closed = asyncio.get_running_loop().create_future()
        protocol.attach(received.append, lambda: closed.done() or closed.set_result(None))
        theirs.sendall(encode(good) + struct.pack(">I", len(bad)) + bad + encode(good))
        await asyncio.wait_for(closed, 5)  # closed by this end, without the peer doing anything
        theirs.close()
        return received, protocol

    received, protocol = asyncio.run(main())
    assert received == [good]  # what came after the bad frame is not trusted
    assert isinstance(protocol.error, m.ProtocolError) and "unknown message kind 999" in str(protocol.error)
