"""Secret values in what tasks print and raise, file secrets for a non-root user, Flyte's grouped file
layout, and plaintext left behind by a killed controller -- all with real processes."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

import roost
from roost.store.secret_store import SecretStore

TOKEN = "tok-7f3a9c/very+secret=value"
SHORT = "ab1"  # shorter than masking.MIN_LENGTH: not masked (see docs/secrets.md)
SOURCE = str(Path(roost.__file__).resolve().parent.parent)
# The user nobody, able to read (not write) what root owns: this Python lives under /root (0700).
NOBODY = [
    "setpriv",
    "--reuid=nobody",
    "--regid=nogroup",
    "--clear-groups",
    "--inh-caps=+dac_read_search",
    "--ambient-caps=+dac_read_search",
]

LEAKY = textwrap.dedent(
    """
    import base64, logging, os, sys, urllib.parse
    import roost as flyte

    env = flyte.TaskEnvironment(name="leaky", secrets=[flyte.Secret("api-token", group="svc"),
                                                       flyte.Secret("short", as_env_var="SHORT")])

    @env.task
    def leak() -> int:
        token = os.environ["SVC_API_TOKEN"]
        print("plain", token, "and split", end=" ")
        print(token[:5], end="")
        print(token[5:])
        print("b64", base64.b64encode(token.encode()).decode())
        print("url", urllib.parse.quote(token, safe=""))
        sys.stderr.write("stderr " + token + "\\n")
        logging.getLogger("leaky").warning("logged %s", token)
        flyte.logger.info("user logger %s", token)
        print("short", os.environ["SHORT"])
        raise ValueError(f"bad token {token}")

    if __name__ == "__main__":
        try:
            flyte.with_runcontext(name="leaky").run(leak)
        except Exception as e:
            print("ERROR", e, getattr(e, "traceback_text", ""))
    """
)


def _env(home: Path, **extra: str) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "ROOST_HOME": str(home), "PYTHONPATH": SOURCE + (os.pathsep + path if path else ""), **extra}


def _forms(value: str) -> list[str]:
    raw = value.encode()
    return [value, base64.b64encode(raw).decode(), urllib.parse.quote(value, safe="")]


def _everything_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_printed_logged_and_raised_secrets_are_masked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = SecretStore(home=home, backend="file")
    store.set("api-token", TOKEN, group="svc")
    store.set("short", SHORT)
    (tmp_path / "leaky.py").write_text(LEAKY)
    launched = subprocess.run(
        [sys.executable, "leaky.py"], cwd=tmp_path, env=_env(home), capture_output=True, text=True, timeout=120
    )
    shown = launched.stdout + launched.stderr
    assert "ERROR" in launched.stdout and "bad token ***" in launched.stdout, shown[-2000:]
    cli = [sys.executable, "-m", "roost.cli.main"]
    for args in (["get", "logs", "leaky"], ["get", "run", "leaky"], ["get", "run", "leaky", "--json"]):
        result = subprocess.run([*cli, *args], env=_env(home), capture_output=True, text=True, timeout=60)
        shown += result.stdout + result.stderr
    logs = subprocess.run([*cli, "get", "logs", "leaky"], env=_env(home), capture_output=True, text=True).stdout
    for line in ("plain *** and split ***", "b64 ***", "url ***", "stderr ***", "logged ***", "user logger ***"):
        assert line in logs, logs
    database = b"".join(p.read_bytes() for p in home.glob("roost.db*"))
    for form in _forms(TOKEN):
        assert form not in shown, form
        assert form.encode() not in database, form
    assert f"short {SHORT}" in logs  # documented: too short to mask


GROUPED = textwrap.dedent(
    """
    import json, os
    from pathlib import Path
    import roost as flyte

    env = flyte.TaskEnvironment(name="files", secrets=[
        flyte.Secret("DB-Pass", group="pg", mount="/etc/flyte/secrets"),
        flyte.Secret("cert", mount="/etc/flyte/secrets"),
    ])

    def read(path):
        p = Path(path)
        return p.read_text() if p.exists() else None

    @env.task
    def look() -> str:
        import time
        if os.environ.get("MARK"):
            Path(os.environ["MARK"]).touch()
        time.sleep(float(os.environ.get("HOLD", "0")))
        return json.dumps({
            "key": read("/etc/flyte/secrets/DB-Pass"),
            "grouped": read("/etc/flyte/secrets/pg/db-pass"),
            "cert": read("/etc/flyte/secrets/cert"),
            "told": os.environ.get("ROOST_SECRETS_DIR"),
            "uid": os.getuid(),
        })

    if __name__ == "__main__":
        import sys
        print("RESULT", flyte.with_runcontext(name=sys.argv[1]).run(look).outputs()[0], flush=True)
    """
)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the user nobody may write (pytest's own temporary folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="roost-secrets-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _stored(home: Path, owner: str | None = None) -> None:
    store = SecretStore(home=home, backend="file")
    store.set("DB-Pass", "pg-pass-4242", group="pg")
    store.set("cert", "cert-body-4242")
    if owner is not None:
        shutil.chown(home, owner)
        for path in home.rglob("*"):
            shutil.chown(path, owner)


def _result(stdout: str) -> dict[str, object]:
    line = next(line for line in stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]


def test_grouped_file_secrets_use_flytes_layout_too(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _stored(home)
    (tmp_path / "grouped.py").write_text(GROUPED)
    done = subprocess.run(
        [sys.executable, "grouped.py", "grouped"], cwd=tmp_path, env=_env(home), capture_output=True, text=True
    )
    result = _result(done.stdout)
    told = Path(str(result["told"]))
    assert result["grouped"] == "pg-pass-4242" or (told / "pg" / "db-pass").exists(), done.stderr[-2000:]
    assert result["key"] == "pg-pass-4242" or (told / "DB-Pass").exists()


@pytest.fixture
def nobody() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a program as the user nobody")
    probe = subprocess.run([*NOBODY, sys.executable, "-c", "import roost"], capture_output=True, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"the user nobody cannot run this Python: {probe.stderr.decode()[-200:]}")


def _unprivileged_namespaces() -> bool:
    probe = subprocess.run([*NOBODY, "unshare", "--user", "--mount", "true"], capture_output=True)
    return probe.returncode == 0


def test_file_secrets_work_for_a_non_root_user(nobody, shared_dir: Path) -> None:
    home = shared_dir / "home"
    _stored(home, owner="nobody")
    (shared_dir / "grouped.py").write_text(GROUPED)
    done = subprocess.run(
        [*NOBODY, sys.executable, "grouped.py", "as-nobody"],
        cwd=shared_dir,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = _result(done.stdout)
    assert result["uid"] == 65534
    told = Path(str(result["told"]))
    # Wherever the files are, the task is told: ROOST_SECRETS_DIR.
    assert (result["cert"] == "cert-body-4242") or told.name != "secrets"
    if _unprivileged_namespaces():
        # Out of the box: the path a task reads on a cluster, in the user's own namespace.
        assert told == Path("/etc/flyte/secrets")
        assert result["cert"] == "cert-body-4242" and result["grouped"] == "pg-pass-4242"
        assert result["key"] == "pg-pass-4242"
    assert not Path("/etc/flyte/secrets/cert").exists()  # nothing on the host
    mounts = home / "secret-mounts"
    assert not mounts.exists() or b"cert-body-4242" not in _everything_under(mounts)


def test_no_plaintext_outlives_a_killed_controller(nobody, shared_dir: Path) -> None:
    home = shared_dir / "home"
    _stored(home, owner="nobody")
    (shared_dir / "grouped.py").write_text(GROUPED)
    # A secret folder of a process of this host that died without cleaning up (a kill -9 earlier).
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = home / "secret-mounts" / f"{dead.pid}@{socket.gethostname()}" / "old-a0-0"
    stale.mkdir(parents=True)
    (stale / "cert").write_text("cert-body-4242")
    shutil.chown(stale.parent.parent, "nobody")
    for path in stale.parent.parent.rglob("*"):
        shutil.chown(path, "nobody")
    holding = subprocess.Popen(
        [*NOBODY, sys.executable, "grouped.py", "held"],
        cwd=shared_dir,
        env=_env(home, HOLD="30", MARK=str(shared_dir / "started")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (shared_dir / "started").exists():
            time.sleep(0.1)
        os.killpg(holding.pid, signal.SIGKILL)  # the controller and its worker
    finally:
        holding.wait()
    # The next roost process on this host removes what dead processes left.
    after = subprocess.run(
        [*NOBODY, sys.executable, "grouped.py", "next"], cwd=shared_dir, env=_env(home), capture_output=True, text=True
    )
    assert after.returncode == 0, after.stderr[-2000:]
    assert not stale.exists()
    leftovers = _everything_under(home / "secret-mounts") if (home / "secret-mounts").exists() else b""
    assert b"cert-body-4242" not in leftovers and b"pg-pass-4242" not in leftovers
