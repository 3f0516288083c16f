"""Token authentication: roost connects to a head that uses it the way Ray documents for its
clients, whatever the machine's ~/.ray holds, and a refused token is one clear line.

The session's head (conftest.ray_head) uses token authentication with a token of its own; each test
here runs the real `roost run --ray` in a subprocess with a HOME and RAY_AUTH_* variables of its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

TASKS = Path(__file__).resolve().parent / "ray_tasks.py"
AUTH_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def roost_run(address: str, tmp_path: Path, home: Path, **auth: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARIABLES and k != "RAY_ADDRESS"}
    env.update(auth, HOME=str(home), ROOST_HOME=str(tmp_path / "roost-home"))
    command = [sys.executable, "-m", "roost.cli.main", "run", "--ray", address, "--no-live"]
    return subprocess.run(
        [*command, str(TASKS), "fan_out", "--n", "3"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def a_home(tmp_path: Path, token: str | None = None) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    if token is not None:
        (home / ".ray").mkdir()
        (home / ".ray" / "auth_token").write_text(token)
    return home


def assert_ran(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[0, 1, 4]"


def assert_refused_in_one_line(result: subprocess.CompletedProcess[str], token: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "gcs_client" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Ray token authentication" in lines[0] and "(docs/ray.md)" in lines[0]  # not cut short
    assert token not in result.stderr + result.stdout  # the right token is never shown
    return lines[0]


def test_a_stale_token_in_home_does_not_break_the_suites_cluster(ray_head, ray_token, tmp_path):
    # What made CI fail on machines where a Ray cluster had run: ~/.ray/auth_token of another cluster.
    home = a_home(tmp_path, token="stale-token-of-a-cluster-long-gone")
    result = roost_run(
        ray_head, tmp_path, home, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=os.environ["RAY_AUTH_TOKEN_PATH"]
    )
    assert_ran(result)


def test_the_token_in_the_default_file_is_used_without_any_variable(ray_head, ray_token, tmp_path):
    assert_ran(roost_run(ray_head, tmp_path, a_home(tmp_path, token=ray_token)))


def test_the_token_in_RAY_AUTH_TOKEN_is_used(ray_head, ray_token, tmp_path):
    assert_ran(roost_run(ray_head, tmp_path, a_home(tmp_path), RAY_AUTH_TOKEN=ray_token))


def test_a_wrong_token_fails_in_one_line(ray_head, ray_token, tmp_path):
    result = roost_run(ray_head, tmp_path, a_home(tmp_path), RAY_AUTH_TOKEN="not-the-token")
    line = assert_refused_in_one_line(result, ray_token)
    assert "refused the token from RAY_AUTH_TOKEN" in line
    assert "not-the-token" not in line


@pytest.mark.parametrize(
    ("auth", "says"),
    [({}, "none was found"), ({"RAY_AUTH_MODE": "disabled"}, "RAY_AUTH_MODE=disabled here")],
    ids=["no-token", "auth-disabled"],
)
def test_no_token_fails_in_one_line(ray_head, ray_token, tmp_path, auth, says):
    line = assert_refused_in_one_line(roost_run(ray_head, tmp_path, a_home(tmp_path), **auth), ray_token)
    assert says in line


def test_an_unreadable_token_file_is_one_line_not_an_abort(ray_head, ray_token, tmp_path):
    missing = tmp_path / "no-such-token"
    result = roost_run(ray_head, tmp_path, a_home(tmp_path), RAY_AUTH_TOKEN_PATH=str(missing))
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "RAY_AUTH_TOKEN_PATH" in lines[0] and str(missing) in lines[0], result.stderr


def test_an_address_where_nothing_answers_fails_at_once_in_one_line(ray_token, tmp_path):
    # ray.init would wait 40 s for a GCS that is not there, printing a warning every few seconds.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    result = roost_run(dead, tmp_path, a_home(tmp_path))
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"cannot connect to the Ray cluster at '{dead}': nothing answers there" in lines[0]
