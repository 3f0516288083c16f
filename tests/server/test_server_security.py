"""What a roost server does with requests it must refuse: malformed API bodies, code bundles that
would write outside their folder, callers without (or with a wrong, or revoked) API key, and a
public address without keys. Real server processes on 127.0.0.1 (and on this machine's network
address where it has one), real HTTP."""

from __future__ import annotations

import base64
import gzip
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import msgpack
import pytest

from roost.runtime import messages
from roost.runtime.code_bundles import digest_of

from .conftest import Server, run_client, start_server, stop_server

API = "/api/v1"
ANY_DIGEST = "sha256:" + "0" * 64


# -- helpers -----------------------------------------------------------------------------------------


def call(
    url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """``(status, body)`` of one request to the server at ``url``."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def error_of(status: int, data: bytes, expected: int) -> str:
    """The one-line reason of an error reply with status ``expected``."""
    assert status == expected, (status, data)
    reason = json.loads(data)["error"]
    assert isinstance(reason, str) and reason and "\n" not in reason, data
    return reason


def assert_no_traceback(server: Server) -> None:
    assert "Traceback" not in server.output()


def submission(**fields: object) -> bytes:
    base: dict[str, object] = {
        "name": None,
        "bundle": None,
        "module": "tasks",
        "task": "add",
        "inputs": b"",
        "inputs_hash": "",
        "options": {},
        "version": None,
    }
    base.update(fields)
    return messages.encode(messages.SubmitRun(**base))  # type: ignore[arg-type]


def roost(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``roost ARGS`` with ROOST_HOME=home."""
    return subprocess.run(
        [sys.executable, "-m", "roost.cli.main", *args],
        env={**os.environ, "ROOST_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def create_key(home: Path, name: str, *args: str) -> str:
    done = roost(home, "server", "create-key", name, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


# -- malformed API requests ----------------------------------------------------------------------------

BAD_SUBMISSIONS = {
    "garbage bytes": (b"\x00\xff\x13garbage", "not a run submission"),
    "empty body": (b"", "not a run submission"),
    "another message kind": (messages.encode(messages.Shutdown()), "Shutdown, not a SubmitRun"),
    "a message kind that does not exist": (msgpack.packb(["NoSuchMessage", 1]), "unknown message kind"),
    "inputs as text": (submission(inputs="1, 2"), "inputs must be bytes"),
    "options as a list": (submission(options=["a"]), "options must be a map"),
    "module as a number": (submission(module=123), "module must be"),
    "task missing": (submission(task=None), "task must be"),
    "name as a number": (submission(name=7), "name must be text"),
    "bundle not a digest": (submission(bundle="latest"), "64 hex digits"),
    "run name with ..": (submission(name="../x"), "invalid run name"),
    "run name with a space": (submission(name="A B"), "invalid run name"),
    "module out of the bundle": (submission(module="../../etc/passwd"), "not a path inside the bundle"),
    "module an absolute path": (submission(module="/abs/path.py"), "not a path inside the bundle"),
    "module with a NUL": (submission(module="tasks\x00.py"), "not a path inside the bundle"),
    "env_vars not text": (submission(options={"env_vars": {"A": 1}}), "env_vars must be"),
    "max_action_concurrency not a number": (
        submission(options={"max_action_concurrency": "4"}),
        "max_action_concurrency must be",
    ),
    "max_action_concurrency of 1": (submission(options={"max_action_concurrency": 1}), "at least 2"),
    "custom_context a list": (submission(options={"custom_context": [1]}), "custom_context must be"),
    "overwrite_cache as text": (submission(options={"overwrite_cache": "yes"}), "true or false"),
    "project as a number": (submission(options={"project": 5}), "project must be text"),
}


@pytest.mark.parametrize("case", list(BAD_SUBMISSIONS))
def test_a_malformed_submission_is_a_400_in_one_line(server: Server, case: str):
    body, expected = BAD_SUBMISSIONS[case]
    reason = error_of(*call(server.url, "POST", f"{API}/runs", body), 400)
    assert expected in reason
    assert_no_traceback(server)


def test_a_submission_of_an_unknown_bundle_is_a_409(server: Server):
    reason = error_of(*call(server.url, "POST", f"{API}/runs", submission(bundle=ANY_DIGEST)), 409)
    assert ANY_DIGEST in reason and "upload it first" in reason
    assert_no_traceback(server)


def test_a_body_over_the_limit_is_a_413_before_it_is_read(server: Server):
    parsed = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.putrequest("POST", f"{API}/runs")
        conn.putheader("Content-Length", str(10**9))  # declared; a few bytes follow
        conn.endheaders()
        conn.send(b"\x00" * 16)
        response = conn.getresponse()
        reason = error_of(response.status, response.read(), 413)
    finally:
        conn.close()
    assert "1000000000 bytes" in reason
    # A bundle over its own (larger) limit the same way.
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.putrequest("PUT", f"{API}/bundles/{ANY_DIGEST}")
        conn.putheader("Content-Length", str(10**10))
        conn.endheaders()
        response = conn.getresponse()
        error_of(response.status, response.read(), 413)
    finally:
        conn.close()
    assert_no_traceback(server)


BAD_READS = {
    f"{API}/runs?limit=abc": (400, "limit must be a whole number"),
    f"{API}/runs?limit=0": (400, "limit must be between"),
    f"{API}/runs?limit=99999999999999999999999999": (400, "limit must be between"),
    f"{API}/runs?phase=nope": (400, "phase must be one of"),
    f"{API}/runs/some-run/actions?phase=nope": (400, "phase must be one of"),
    f"{API}/runs/some-run/logs?attempt=first": (400, "attempt must be a whole number"),
    f"{API}/runs/A%20B": (400, "invalid run name"),
    f"{API}/runs/..%2Fx": (404, "Not Found"),  # "../x" is two segments: no route has it
    f"{API}/runs/no-such-run": (404, "no run named 'no-such-run'"),
    f"{API}/runs/no-such-run/actions/a0": (404, "has no action 'a0'"),
    "/runs/no-such-run": (404, "no run named 'no-such-run'"),
}


@pytest.mark.parametrize("path", list(BAD_READS))
def test_a_bad_read_is_a_4xx_in_one_line(server: Server, path: str):
    status, expected = BAD_READS[path]
    assert expected in error_of(*call(server.url, "GET", path), status)
    assert_no_traceback(server)


def test_aborts_of_what_does_not_exist_are_404_and_bad_abort_bodies_400(server: Server):
    reason = error_of(*call(server.url, "POST", f"{API}/runs/no-such-run/abort", msgpack.packb({})), 404)
    assert "no-such-run" in reason
    action = f"{API}/runs/no-such-run/actions/a0/abort"
    as_json = {"Content-Type": "application/json"}
    assert error_of(*call(server.url, "POST", action, msgpack.packb([1, 2])), 400) == "the body must be a map"
    assert error_of(*call(server.url, "POST", action, b'"stop"', as_json), 400) == "the body must be a map"
    assert "neither msgpack nor JSON" in error_of(*call(server.url, "POST", action, b"{nope", as_json), 400)
    assert error_of(*call(server.url, "POST", action, b'{"reason": 5}', as_json), 400) == "reason must be text"
    # A well-formed request for an action that is not there is refused, not kept.
    assert "has no action 'a0'" in error_of(*call(server.url, "POST", action, b'{"reason": "x"}', as_json), 404)
    assert_no_traceback(server)


def test_an_error_is_msgpack_for_a_client_that_asks_for_it(server: Server):
    status, data = call(server.url, "GET", f"{API}/runs/no-such-run", headers={"Accept": "application/msgpack"})
    assert status == 404 and msgpack.unpackb(data) == {"error": "no run named 'no-such-run'"}


# -- code bundles ----------------------------------------------------------------------------------------


def targz(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for info, content in members:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def regular(name: str, content: bytes = b"VALUE = 1\n") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info, content


def special(name: str, kind: bytes, link: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info, None


BAD_BUNDLES = {
    "a member out of the bundle": (lambda: targz(regular("ok.py"), regular("../evil.py")), "leads out"),
    "a member out through a folder": (lambda: targz(regular("pkg/../../evil.py")), "leads out"),
    "an absolute member": (lambda: targz(regular("/tmp/evil.py")), "absolute path"),
    "a symlink to /etc/passwd": (lambda: targz(special("passwd", tarfile.SYMTYPE, "/etc/passwd")), "symbolic link"),
    "a hard link": (lambda: targz(regular("a.py"), special("b.py", tarfile.LNKTYPE, "a.py")), "hard link"),
    "a fifo": (lambda: targz(special("pipe", tarfile.FIFOTYPE)), "device or FIFO"),
    "a character device": (lambda: targz(special("null", tarfile.CHRTYPE)), "device or FIFO"),
    "not gzip": (lambda: b"just some bytes", "not a gzip'd tar"),
    "a truncated gzip": (lambda: targz(regular("a.py"))[:-12], "truncated"),
}


def leftovers(server: Server, digest: str) -> list[str]:
    """What a refused bundle might have left: its folder, or a temporary folder of an unpacking."""
    folder = server.home / "server" / "bundles"
    if not folder.exists():
        return []
    hex_digest = digest.split(":", 1)[1]
    return [p.name for p in folder.iterdir() if p.name == hex_digest or p.name.startswith(".")]


@pytest.mark.parametrize("case", list(BAD_BUNDLES))
def test_a_bundle_that_could_escape_its_folder_is_refused_and_leaves_nothing(server: Server, case: str):
    make, expected = BAD_BUNDLES[case]
    data = make()
    digest = digest_of(data)  # the right digest: what refuses it is the check of its content
    path = f"{API}/bundles/{digest}"
    reason = error_of(*call(server.url, "PUT", path, data, {"Content-Type": "application/gzip"}), 400)
    assert expected in reason
    assert call(server.url, "HEAD", path)[0] == 404
    assert leftovers(server, digest) == []
    assert_no_traceback(server)


def a_good_bundle() -> bytes:
    return targz(regular("tasks.py", f"# {uuid.uuid4()}\nVALUE = 1\n".encode()))


def test_a_bundle_whose_content_has_another_digest_is_refused(server: Server):
    data = a_good_bundle()
    claimed = "sha256:" + "1" * 64
    reason = error_of(*call(server.url, "PUT", f"{API}/bundles/{claimed}", data), 400)
    assert digest_of(data) in reason and claimed in reason
    assert leftovers(server, claimed) == [] and leftovers(server, digest_of(data)) == []
    assert call(server.url, "HEAD", f"{API}/bundles/{claimed}")[0] == 404


BAD_DIGESTS = ["sha256:abc", "sha256:" + "A" * 64, "md5:" + "0" * 64, "sha256:" + "0" * 65, "sha256:" + "0" * 63 + "g"]


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_a_digest_that_is_not_sha256_and_64_hex_digits_is_a_400(server: Server, digest: str):
    reason = error_of(*call(server.url, "PUT", f"{API}/bundles/{digest}", a_good_bundle()), 400)
    assert "64 hex digits" in reason
    assert call(server.url, "HEAD", f"{API}/bundles/{digest}")[0] == 400
    assert_no_traceback(server)


def test_a_good_bundle_is_stored_once(server: Server):
    data = a_good_bundle()
    digest = digest_of(data)
    path = f"{API}/bundles/{urllib.parse.quote(digest, safe='')}"  # as the client sends it
    assert call(server.url, "HEAD", path)[0] == 404
    status, body = call(server.url, "PUT", path, data)
    assert status == 201 and json.loads(body) == {"digest": digest, "stored": True}
    assert call(server.url, "HEAD", path)[0] == 200
    status, body = call(server.url, "PUT", path, data)
    assert status == 200 and json.loads(body) == {"digest": digest, "stored": False}
    assert leftovers(server, digest) == [digest.split(":", 1)[1]]  # its folder, no temporary one
    folder = server.home / "server" / "bundles" / digest.split(":", 1)[1]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        sent = tar.extractfile("tasks.py")
        assert sent is not None and (folder / "tasks.py").read_bytes() == sent.read()


@pytest.mark.timeout(120)
def test_unpacking_a_big_bundle_does_not_stall_other_requests(server: Server):
    big = 100 * 2**20  # two such files of zeros: under 300 KiB sent, seconds of checking and writing
    zeros = [regular(f"zeros{i}.bin", b"\0" * big) for i in range(2)]
    data = targz(*zeros, regular("id.py", str(uuid.uuid4()).encode()))
    served: list[float] = []
    done = threading.Event()

    def health() -> None:
        while not done.is_set():
            assert call(server.url, "GET", "/health")[0] == 200
            served.append(time.monotonic())
            time.sleep(0.02)

    checker = threading.Thread(target=health)
    checker.start()
    try:
        time.sleep(0.2)
        started = time.monotonic()
        assert call(server.url, "PUT", f"{API}/bundles/{digest_of(data)}", data)[0] == 201
        ended = time.monotonic()
    finally:
        done.set()
        checker.join()
    assert len([t for t in served if started < t < ended]) >= 3, (ended - started, served)


# -- API keys --------------------------------------------------------------------------------------------

TASKS = """
import roost as flyte

env = flyte.TaskEnvironment(name="keyed_tasks")


@env.task
def add(a: int, b: int) -> int:
    return a + b
"""


@pytest.fixture
def keyed(tmp_path: Path):
    """A server of its own whose home has the API key "ci": ``(server, key)``."""
    home = tmp_path / "keyed-home"
    key = create_key(home, "ci")
    running = start_server(home)
    yield running, key
    stop_server(running)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.timeout(120)
def test_api_keys_on_loopback(keyed: tuple[Server, str]):
    server, key = keyed
    assert key.startswith("roost_") and "\n" not in key
    runs = f"{API}/runs"
    assert call(server.url, "GET", runs, headers=bearer(key))[0] == 200
    assert call(server.url, "GET", runs, headers={"X-Api-Key": key})[0] == 200
    assert call(server.url, "GET", runs)[0] == 200  # no key from this machine: served
    # A wrong key is refused even from loopback: whoever sends one expects it to be checked.
    for wrong in (key + "x", "roost_" + "A" * 43, "not-a-key"):
        reason = error_of(*call(server.url, "GET", runs, headers=bearer(wrong)), 401)
        assert "not valid" in reason and wrong not in reason
    assert call(server.url, "GET", "/health", headers=bearer("wrong"))[0] == 200
    status, data = call(server.url, "GET", runs, headers={**bearer("wrong"), "Accept": "application/msgpack"})
    assert status == 401 and "not valid" in msgpack.unpackb(data)["error"]

    revoked = roost(server.home, "server", "revoke-key", "ci")
    assert revoked.returncode == 0, revoked.stderr
    deadline = time.monotonic() + 2
    while call(server.url, "GET", runs, headers=bearer(key))[0] != 401:
        assert time.monotonic() < deadline, "the revoked key is still accepted"
        time.sleep(0.05)
    assert call(server.url, "GET", runs)[0] == 200

    listed = roost(server.home, "server", "list-keys")
    assert key not in listed.stdout + listed.stderr
    assert key not in server.output()
    stop_server(server)  # the key file is checkpointed and closed: every byte of the home is final
    assert files_holding(server.home, key) == []
    assert files_holding(server.home, key[len("roost_") :]) == []


@pytest.mark.timeout(120)
def test_a_key_in_flyte_form_runs_a_task_on_its_server(keyed: tuple[Server, str], project: Path):
    server, _ = keyed
    flyte_key = create_key(server.home, "ff", "--flyte-form")
    endpoint, name, secret, org = base64.b64decode(flyte_key, validate=True).decode().rsplit(":", 3)
    assert (endpoint, name, org) == (server.url, "ff", "roost") and secret.startswith("roost_")

    (project / "tasks.py").write_text(TASKS)
    program = """
        import sys
        import roost as flyte
        from tasks import add

        flyte.init_from_api_key(sys.argv[1])
        run = flyte.run(add, a=2, b=3)
        run.wait(quiet=True)
        print("RUN", run.name, run.phase, run.outputs()[0])
        """
    done = run_client(project, program, flyte_key)
    run_name, phase, output = done.stdout.split("RUN ", 1)[1].split()
    assert (phase, output) == ("succeeded", "5")
    status, body = call(server.url, "GET", f"{API}/runs/{run_name}", headers=bearer(secret))
    assert status == 200 and json.loads(body)["mode"] == "remote"
    listed = roost(server.home, "server", "list-keys").stdout.splitlines()
    assert [line.split()[-1] for line in listed if line.startswith("ff ")] != ["-"]  # last used: by the client

    # The same form with a secret the server never issued: refused.
    forged = base64.b64encode(f"{server.url}:ff:roost_{'B' * 43}:roost".encode()).decode()
    refused = run_client(project, program, forged, check=False)
    assert refused.returncode != 0 and "HTTP 401" in refused.stderr
    listing = """
        import sys
        import roost as flyte

        flyte.init_from_api_key(sys.argv[1])
        try:
            flyte.remote.Run.listall(limit=1)
        except Exception as e:
            print("ERR", e)
        """
    told = run_client(project, listing, forged).stdout
    assert "the API key is not valid" in told and "HTTP 401" in told  # the server's reason, read as msgpack
    assert "B" * 43 not in refused.stderr + told

    assert secret not in server.output()
    stop_server(server)
    for home in (server.home, project.parent / "client-home"):
        if home.exists():
            assert files_holding(home, secret) == [] and files_holding(home, flyte_key) == []


# -- public addresses ------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_public_address_without_keys_is_refused_at_start(tmp_path: Path):
    home = tmp_path / "no-keys-home"
    done = roost(home, "server", "start", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "create-key" in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (home / "server" / "server.json").exists()


def network_address() -> str | None:
    """This machine's address on its network (no packet is sent), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.timeout(120)
def test_a_public_address_asks_other_machines_for_a_key(tmp_path: Path):
    address = network_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    home = tmp_path / "public-home"
    key = create_key(home, "ci")
    server = start_server(home, "--host", "0.0.0.0")
    try:
        port = urllib.parse.urlsplit(server.url).port
        public = f"http://{address}:{port}"
        reason = error_of(*call(public, "GET", f"{API}/runs"), 401)
        assert "API key is required" in reason
        assert call(public, "GET", f"{API}/runs", headers=bearer(key))[0] == 200
        assert call(public, "GET", f"{API}/runs", headers=bearer(key + "x"))[0] == 401
        assert call(public, "POST", f"{API}/runs", submission(bundle=ANY_DIGEST))[0] == 401
        assert call(public, "PUT", f"{API}/bundles/{ANY_DIGEST}", b"x")[0] == 401
        status, body = call(public, "GET", "/health")
        assert status == 200 and "roost" in json.loads(body)
        assert call(server.url, "GET", f"{API}/runs")[0] == 200  # loopback needs no key still
        assert key not in server.output()
    finally:
        stop_server(server)


def ipv6_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.timeout(120)
def test_on_every_ipv6_address_ipv4_loopback_is_still_this_machine(tmp_path: Path):
    if not ipv6_works():
        pytest.skip("no IPv6 on this machine")
    home = tmp_path / "dual-stack-home"
    key = create_key(home, "ci")
    server = start_server(home, "--host", "::")
    try:
        port = urllib.parse.urlsplit(server.url).port
        assert server.url == f"http://[::1]:{port}"  # a URL to reach it by, not "[::]"
        # An IPv4 client reaches a server on "::" as ::ffff:127.0.0.1: loopback all the same.
        assert call(f"http://127.0.0.1:{port}", "GET", f"{API}/runs")[0] == 200
        assert call(server.url, "GET", f"{API}/runs")[0] == 200
        address = network_address()
        if address is not None:
            assert call(f"http://{address}:{port}", "GET", f"{API}/runs")[0] == 401
            assert call(f"http://{address}:{port}", "GET", f"{API}/runs", headers=bearer(key))[0] == 200
    finally:
        stop_server(server)
