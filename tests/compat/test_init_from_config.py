"""init_from_config and friends: Flyte's config file read as Flyte reads it; local unless it names an endpoint."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import roost as flyte
from roost.errors import InitializationError
from roost.runtime.runs import flyte_config, settings

ROOST = Path(sys.executable).parent / "roost"


@pytest.fixture(autouse=True)
def isolated_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory and home of the test's own, so no real config file is found by accident."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    for var in ("FLYTECTL_CONFIG", "UCTL_CONFIG", "FLYTE_ADMIN_ENDPOINT", "FLYTE_TASK_PROJECT", "FLYTE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    flyte_config.use_config_file(None)
    monkeypatch.setattr(settings, "_current", settings.InitSettings())  # as before any init()
    return work


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_no_config_file_runs_locally_and_says_why_at_debug(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.DEBUG, logger="roost"):
        flyte.init_from_config()
    assert settings.is_initialized()
    assert any("no Flyte config file found" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)


def test_config_without_endpoint_honours_task_section(isolated_search: Path):
    write(isolated_search / ".flyte" / "config.yaml", "task:\n  project: flytesnacks\n  domain: development\n")
    flyte.init_from_config()
    assert (flyte.current_project(), flyte.current_domain()) == ("flytesnacks", "development")


def test_arguments_win_over_the_file(isolated_search: Path):
    write(isolated_search / "config.yaml", "task:\n  project: from-file\n  domain: dev\n")
    flyte.init_from_config(project="mine")
    assert (flyte.current_project(), flyte.current_domain()) == ("mine", "dev")


def test_search_order_and_environment(isolated_search: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home_cfg = write(tmp_path / "user" / ".flyte" / "config.yaml", "task: {project: home}\n")
    assert flyte_config.resolve_config_path() == home_cfg
    env_cfg = write(tmp_path / "elsewhere.yaml", "task: {project: env}\n")
    monkeypatch.setenv("FLYTECTL_CONFIG", str(env_cfg))
    assert flyte_config.resolve_config_path() == env_cfg
    # A .flyte/config.yaml at the git root, found from a sub-folder.
    (isolated_search / ".git").mkdir()
    sub = isolated_search / "pkg" / "sub"
    sub.mkdir(parents=True)
    root_cfg = write(isolated_search / ".flyte" / "config.yaml", "task: {project: root}\n")
    monkeypatch.chdir(sub)
    assert flyte_config.resolve_config_path() == root_cfg
    write(sub / "config.yaml", "task: {project: here}\n")
    assert flyte_config.resolve_config_path() == Path("config.yaml")
    monkeypatch.setenv("FLYTE_TASK_PROJECT", "overridden")
    assert flyte.config.auto().task.project == "overridden"


def test_explicit_path_relative_to_root_dir(tmp_path: Path):
    write(tmp_path / "proj" / "cfg.yaml", "task: {domain: staging}\nimage:\n  image_refs: {gpu: 'ghcr.io/x/gpu:1'}\n")
    flyte.init_from_config("cfg.yaml", root_dir=tmp_path / "proj", images=("cpu=ghcr.io/x/cpu:2", "plain:3"))
    assert flyte.current_domain() == "staging"
    assert settings.current().images == {"gpu": "ghcr.io/x/gpu:1", "cpu": "ghcr.io/x/cpu:2", "default": "plain:3"}


def test_missing_or_broken_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(InitializationError, match="does not exist"):
        flyte.init_from_config(tmp_path / "nope.yaml")
    bad = write(tmp_path / "bad.yaml", "task: [unclosed\n")
    with pytest.raises(InitializationError, match="not valid YAML") as info:
        flyte.init_from_config(bad)
    assert "\n" not in info.value.message
    with pytest.raises(InitializationError, match="must be a YAML mapping"):
        flyte.init_from_config(write(tmp_path / "list.yaml", "- a\n- b\n"))
    assert not settings.is_initialized()


def test_an_endpoint_names_a_roost_server(isolated_search: Path):
    from . import compat_tasks

    write(isolated_search / "config.yaml", "admin:\n  endpoint: dns:///127.0.0.1:9\n  insecure: true\n")
    try:
        flyte.init_from_config()
        assert settings.current().endpoint == "dns:///127.0.0.1:9" and settings.current().insecure
        # Nothing is sent at init; the first run says the server cannot be reached, in one line.
        with pytest.raises(flyte.errors.RuntimeUserError) as info:
            flyte.run(compat_tasks.inline, 1)
        assert "cannot reach the roost server at http://127.0.0.1:9" in info.value.message
        assert "\n" not in info.value.message
    finally:
        flyte.init()


def test_config_object_and_aio():
    import asyncio

    flyte.init_from_config(flyte.config.Config(task=flyte.config.TaskConfig(project="obj")))
    assert flyte.current_project() == "obj"
    asyncio.run(flyte.init_from_config.aio(domain="d2"))
    assert flyte.current_domain() == "d2"


def test_a_runs_project_reaches_its_actions_in_worker_processes(isolated_search: Path, store):
    from . import compat_tasks

    write(isolated_search / "config.yaml", "task: {project: proj-a, domain: staging}\n")
    flyte.init_from_config()
    run = flyte.run(compat_tasks.where_am_i)
    assert tuple(run.outputs()) == ("proj-a", "staging", "proj-a")
    assert {a.isolation for a in store.list_actions(run.name)} == {"process"}
    # with_runcontext(project=...) wins for its runs.
    run = flyte.with_runcontext(project="other").run(compat_tasks.where_am_i)
    assert tuple(run.outputs()) == ("other", "staging", "other")


def test_current_project_without_one_is_an_initialization_error():
    with pytest.raises(InitializationError, match="Project has not been initialized"):
        flyte.current_project()


def test_api_key_never_echoed():
    key = base64.b64encode(b"dns:///acme.cloud:client:s3cr3t-value:org").decode()
    with pytest.raises(InitializationError) as info:
        flyte.init_from_api_key(api_key=key)
    assert "dns:///acme.cloud" in info.value.message
    assert "s3cr3t" not in info.value.message and key not in info.value.message
    with pytest.raises(InitializationError, match="FLYTE_API_KEY"):
        flyte.init_from_api_key()


def test_passthrough_and_in_cluster(isolated_search: Path, monkeypatch: pytest.MonkeyPatch):
    assert flyte.init_passthrough(project="p") == {"endpoint": None, "insecure": False}
    assert flyte.current_project() == "p"
    with pytest.raises(InitializationError, match="cannot reach a Flyte control plane"):
        flyte.init_passthrough(endpoint="dns:///x")
    with pytest.raises(InitializationError, match=r"host\.docker\.internal:8090"):
        flyte.init_in_cluster()
    cfg = write(isolated_search / "pod.yaml", "task: {project: pod}\n")
    monkeypatch.setenv("FLYTECTL_CONFIG", str(cfg))
    assert flyte.init_in_cluster()["headless"] is True
    assert flyte.current_project() == "pod"


def test_init_with_a_malformed_endpoint_is_refused_at_once():
    with pytest.raises(ValueError, match="roost server address"):
        flyte.init(endpoint="ftp://x")
    with pytest.raises(ValueError, match="api_key needs the endpoint"):
        flyte.init(api_key="roost_abc")
    assert settings.current().endpoint is None


PROGRAM = """
import roost as flyte

env = flyte.TaskEnvironment(name="cfg")


@env.task
def hello() -> str:
    return "hi from " + PROJECT


flyte.init_from_config()
PROJECT = flyte.current_project()
"""


def test_cli_global_config_option(tmp_path: Path, isolated_search: Path):
    program = write(isolated_search / "prog.py", PROGRAM)
    good = write(tmp_path / "good.yaml", "task: {project: via-cli}\n")
    done = subprocess.run([str(ROOST), "-c", str(good), "run", str(program), "hello"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "hi from via-cli" in done.stdout
    # A config naming an endpoint sends the run to that roost server, as `flyte -c FILE run` does.
    remote = write(
        tmp_path / "remote.yaml", "admin: {endpoint: 'dns:///127.0.0.1:9', insecure: true}\ntask: {project: p}\n"
    )
    done = subprocess.run(
        [str(ROOST), "--config", str(remote), "run", str(program), "hello"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "cannot reach the roost server at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run(
        [str(ROOST), "-c", str(tmp_path / "missing.yaml"), "get", "runs"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "does not exist" in done.stderr and done.stderr.count("\n") == 1
