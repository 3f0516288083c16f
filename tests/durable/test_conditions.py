"""Conditions: a task pauses until someone answers -- by `roost signal` from another process or by
flyte.remote.Condition; typed answers, bad values refused, timeouts, failures; an answer given while
the run's process is dead is delivered when the run is recovered; the webhook is posted with its
callback; a waiting action lends its run slot, so other actions go on."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import roost as flyte
from durable.run_helpers import recover
from roost.models import ActionPhase

PROGRAM = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    import roost as flyte

    env = flyte.TaskEnvironment(name="approvals")
    in_worker = flyte.TaskEnvironment(name="approvals_proc", env_vars={"WHERE": "worker"})
    MARKS = Path(os.environ["MARKS"])

    @in_worker.task
    async def how_many() -> int:
        asked = await flyte.new_condition.aio("count", prompt="How **many**?", prompt_type="markdown", data_type=int)
        return await asked.wait.aio()

    @env.task
    async def sibling() -> str:
        (MARKS / "sibling").write_text("ran")
        return "sibling done"

    @env.task
    async def holder() -> bool:
        hold = await flyte.new_condition.aio("hold", prompt="Go on?")
        (MARKS / "waiting").write_text("yes")
        return await hold.wait.aio()

    @env.task
    async def approve(kind: str) -> str:
        if kind == "slots":
            held, side = await asyncio.gather(holder(), sibling())
            return f"{held} {side}"
        if kind == "timeout":
            late = await flyte.new_condition.aio("late", prompt="Too late?", timeout=0.5)
            try:
                await late.wait.aio()
            except flyte.errors.ConditionTimedoutError as e:
                return f"timed out: {e}"
        if kind == "fail":
            doomed = await flyte.new_condition.aio("doomed", data_type=str)
            try:
                await doomed.wait.aio()
            except flyte.errors.ConditionFailedError as e:
                return f"failed: {e}"
        hook = None
        if os.environ.get("HOOK"):
            payload = {"answer_at": "{callback_uri}", "nested": ["{callback_uri}"]}
            hook = flyte.ConditionWebhook(os.environ["HOOK"], payload)
        ok = await flyte.new_condition.aio("ok", prompt="Deploy?", data_type=bool, webhook=hook)
        approved = await ok.wait.aio()
        count = await how_many()
        ratio = await flyte.new_condition.aio("ratio", data_type=float)
        return f"{approved} {count} {await ratio.wait.aio()}"

    if __name__ == "__main__":
        concurrency = 2 if sys.argv[2] == "slots" else None
        flyte.with_runcontext(name=sys.argv[1], max_action_concurrency=concurrency).run(approve, kind=sys.argv[2])
    """
)


def roost(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROOST_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "roost.cli.main", *args], env=env, capture_output=True, text=True, timeout=60
    )


def start(tmp_path: Path, home: Path, name: str, kind: str, **env: str) -> tuple[subprocess.Popen[str], Path]:
    marks = tmp_path / f"marks-{name}"
    marks.mkdir()
    script = tmp_path / "approvals.py"
    script.write_text(PROGRAM)
    proc = subprocess.Popen(
        [sys.executable, str(script), name, kind],
        env={**os.environ, "ROOST_HOME": str(home), "MARKS": str(marks), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return proc, marks


def wait_for(check, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def pending(home: Path, run: str) -> list[dict]:
    listed = roost(home, "get", "conditions", "--run", run, "--pending", "--json")
    return json.loads(listed.stdout) if listed.stdout.strip() else []


def test_conditions_answered_from_other_processes_typed_and_checked(tmp_path: Path, roost_home: Path, store):
    proc, _ = start(tmp_path, roost_home, "approve-1", "normal")
    try:
        (first,) = wait_for(lambda: pending(roost_home, "approve-1"), "the first condition")
        assert (first["name"], first["data_type"], first["prompt"]) == ("ok", "bool", "Deploy?")
        action = store.get_action("approve-1", first["action_id"])
        assert action.phase is ActionPhase.PAUSED and action.parent_id == "a0" and action.isolation == "condition"
        bad = roost(roost_home, "signal", "approve-1", "ok", "maybe")
        assert bad.returncode == 1 and "takes a bool: expected true or false" in bad.stderr
        assert bad.stderr.count("\n") == 1
        missing = roost(roost_home, "signal", "approve-1", "okay", "yes")
        assert missing.returncode == 1 and "has no condition 'okay'; it has ok" in missing.stderr
        done = roost(roost_home, "signal", "approve-1", "ok", "yes")
        assert done.returncode == 0 and "answered True" in done.stdout
        again = roost(roost_home, "signal", "approve-1", "ok", "no")
        assert again.returncode == 1 and "signalled already" in again.stderr

        # The next one waits in a worker process: answered through the Python API.
        wait_for(lambda: [c for c in pending(roost_home, "approve-1") if c["name"] == "count"], "count")
        condition = flyte.remote.Condition.get("count", run_name="approve-1")
        assert condition.expected_type is int and condition.phase == "paused" and "**many**" in condition.prompt
        with pytest.raises(ValueError, match="whole number"):
            condition.signal(2.5)
        condition.signal(7)
        assert condition.state == "signalled" and condition.value == 7

        wait_for(lambda: [c for c in pending(roost_home, "approve-1") if c["name"] == "ratio"], "ratio")
        assert roost(roost_home, "signal", "approve-1", "ratio", "0.25").returncode == 0
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    run = flyte.remote.Run.get("approve-1")
    assert run.outputs()[0] == "True 7 0.25"
    answered = {c.name: c for c in flyte.remote.Condition.listall(run_name="approve-1")}
    assert {n: (c.state, c.value, c.signalled_by) for n, c in answered.items()} == {
        "ok": ("signalled", True, "local"),
        "count": ("signalled", 7, "local"),
        "ratio": ("signalled", 0.25, "local"),
    }
    shown = roost(roost_home, "get", "run", "approve-1")
    assert "condition (waits for an answer" in shown.stdout and shown.stdout.count("SUCCEEDED") == 6


@pytest.mark.parametrize("kind", ["timeout", "fail"])
def test_a_condition_times_out_or_is_failed(tmp_path: Path, roost_home: Path, store, kind: str):
    proc, _ = start(tmp_path, roost_home, f"approve-{kind}", kind)
    try:
        if kind == "fail":
            wait_for(lambda: pending(roost_home, "approve-fail"), "the condition")
            failed = roost(roost_home, "signal", "approve-fail", "doomed", "--fail", "budget refused")
            assert failed.returncode == 0 and "failed (budget refused)" in failed.stdout
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    said = flyte.remote.Run.get(f"approve-{kind}").outputs()[0]
    (first,) = [a for a in store.list_actions(f"approve-{kind}") if a.isolation == "condition"]
    if kind == "timeout":
        assert said.startswith("timed out: condition 'late' was not answered within its timeout")
        assert first.phase is ActionPhase.TIMED_OUT and first.error.code == "ConditionTimedoutError"
    else:
        assert said == "failed: condition 'doomed' was failed: budget refused"
        assert first.phase is ActionPhase.FAILED and "budget refused" in first.error.message


def test_an_answer_given_while_the_run_is_down_is_delivered_on_recover(
    tmp_path: Path, roost_home: Path, store, monkeypatch: pytest.MonkeyPatch
):
    proc, marks = start(tmp_path, roost_home, "approve-down", "normal")
    try:
        wait_for(lambda: pending(roost_home, "approve-down"), "the condition")
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # Nobody waits any more: the answers are kept in the store.
    assert roost(roost_home, "signal", "approve-down", "ok", "false").returncode == 0
    answering = threading.Thread(target=_answer_when_asked, args=(roost_home,), daemon=True)
    answering.start()
    run = flyte.remote.Run.get(recover(tmp_path, roost_home, "approvals", "approve-down", MARKS=str(marks)))
    assert run.outputs()[0] == "False 3 1.5"
    conditions = {c.name: c for c in store.list_conditions(run.name)}
    assert conditions["ok"].state == "signalled" and conditions["ok"].value == "false"  # not asked again


def _answer_when_asked(home: Path) -> None:
    for name, value in (("count", "3"), ("ratio", "1.5")):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = [c for c in _all_pending(home) if c["name"] == name]
            if runs:
                roost(home, "signal", runs[0]["run_name"], name, value)
                break
            time.sleep(0.1)


def _all_pending(home: Path) -> list[dict]:
    listed = roost(home, "get", "conditions", "--pending", "--json")
    return json.loads(listed.stdout) if listed.stdout.strip() else []


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_webhook_is_posted_with_its_callback(tmp_path: Path, roost_home: Path, store):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    proc, _ = start(tmp_path, roost_home, "approve-hook", "normal", HOOK=hook)
    try:
        wait_for(lambda: _Hook.received, "the webhook")
        (posted,) = _Hook.received
        assert posted == {
            "answer_at": "roost signal approve-hook ok VALUE",
            "nested": ["roost signal approve-hook ok VALUE"],
        }
        (ok,) = pending(roost_home, "approve-hook")
        logged = [line.line for line in store.list_logs("approve-hook", ok["action_id"])]
        assert any(f"webhook {hook} answered 204" in line for line in logged), logged
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        server.shutdown()


def test_a_waiting_action_lends_its_run_slot(tmp_path: Path, roost_home: Path, store):
    # max_action_concurrency=2: the root holds one slot, `holder` the other -- and lends it while it
    # waits for its condition, so `sibling` runs before anyone answers.
    proc, marks = start(tmp_path, roost_home, "approve-slots", "slots")
    try:
        wait_for(lambda: (marks / "sibling").exists(), "the sibling to run while the condition waits", 30)
        assert pending(roost_home, "approve-slots"), "the condition was answered by nobody"
        assert roost(roost_home, "signal", "approve-slots", "hold", "true").returncode == 0
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert store.get_run("approve-slots").phase is ActionPhase.SUCCEEDED


GATE = """
import roost as flyte

env = flyte.TaskEnvironment(name="tty_gate")


@env.task
async def gate(x: int) -> int:
    prompt = "## Ship it?\\n\\n**x** is big"
    ok = await flyte.new_condition.aio("go", prompt=prompt, prompt_type="markdown", data_type=bool)
    return x * 2 if await ok.wait.aio() else x
"""


def test_roost_run_at_a_terminal_asks_for_the_answer(tmp_path: Path, roost_home: Path):
    import pty
    import select

    (tmp_path / "gate.py").write_text(GATE)
    master, slave = pty.openpty()
    env = {**os.environ, "ROOST_HOME": str(roost_home), "COLUMNS": "100"}
    command = [sys.executable, "-m", "roost.cli.main", "run", "gate.py", "gate", "--x", "21"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen, answered = b"", []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
            if seen.count(b"answer (Enter") > len(answered):
                reply = b"maybe\r" if not answered else b"yes\r"  # a bad value is refused, then asked again
                answered.append(reply)
                os.write(master, reply)
        with contextlib.suppress(OSError):
            while select.select([master], [], [], 0.5)[0]:
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                seen += chunk
        assert proc.wait(timeout=30) == 0, seen.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))  # without the colours
    assert "Ship it?" in text and "asks: go (bool)" in text
    assert "expected true or false, got" in text and text.rstrip().endswith("42")
    assert len(answered) == 2
