"""The web console in a real headless Chromium, over a real server process: the runs list and its
filters, a run's tree updating while the run goes, an action's logs and report, the timeline, aborting
a run from its page, and a report's script kept away from the console's cookie and API.

Screenshots of each page are written to the ``artifacts`` folder ($ROOST_CONSOLE_ARTIFACTS keeps them).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.conftest import start_server, stop_server

from .conftest import roost_cli, run_tasks, seed_big_run, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def key(seeded_server: Any) -> str:
    made = roost_cli(seeded_server.home, "server", "create-key", "console-tester")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    yield opened
    context.close()
    assert not errors, errors


def sign_in(page: Any, url: str, key: str, then: str = "/") -> None:
    page.goto(f"{url}/login?next={then}")
    page.fill("#key", key)
    page.click("form.login button")
    page.wait_for_url(f"{url}{then}")


def api(url: str, path: str) -> Any:
    request = urllib.request.Request(url + path, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def run_phase(url: str, name: str) -> str | None:
    try:
        return api(url, f"/api/v1/runs/{name}")["phase"]  # type: ignore[no-any-return]
    except OSError:
        return None


def runs_listed(page: Any) -> list[str]:
    return page.locator("#runs-body tr[data-run]").evaluate_all("rows => rows.map(r => r.dataset.run)")


def test_runs_list_newest_first_with_filters(seeded_server: Any, page: Any, artifacts: Path) -> None:
    url = seeded_server.url
    page.goto(url + "/")
    assert runs_listed(page) == ["report-1", "beta-1", "alpha-2", "alpha-1", "typed-1"]
    assert "failed" in page.locator("tr[data-run=beta-1] .phase").inner_text()
    page.screenshot(path=artifacts / "runs.png", full_page=True)

    page.select_option("#filter-phase", "failed")  # applies at once
    page.wait_for_url("**phase=failed**")
    assert runs_listed(page) == ["beta-1"]

    page.goto(url + "/")
    page.fill("#filter-name", "alpha")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**name=alpha**")
    assert runs_listed(page) == ["alpha-2", "alpha-1"]

    page.goto(url + "/?task=console.reporter")
    assert runs_listed(page) == ["report-1"]
    page.screenshot(path=artifacts / "runs-filtered.png", full_page=True)

    page.click("a[href='/runs/report-1']")
    page.wait_for_url("**/runs/report-1")
    assert page.locator("#run-name").inner_text() == "report-1"


def test_run_tree_updates_live_while_the_run_goes(
    seeded_server: Any, page: Any, artifacts: Path, tmp_path: Path
) -> None:
    url, gate = seeded_server.url, tmp_path / "gate"
    running = run_tasks(seeded_server.home, "gate", "live-1", str(gate))
    try:
        wait_until(lambda: run_phase(url, "live-1") == "running", what="run live-1 starting")
        page.goto(url + "/")
        page.wait_for_selector("tr[data-run=live-1]")  # the list is live too: or here from the first paint

        page.goto(url + "/runs/live-1")
        waiting = page.locator(".node:has(.name:text-is('wait_for'))")
        waiting.wait_for()
        assert waiting.get_attribute("data-phase") == "running"
        assert page.locator(".node:has(.name:text-is('step'))").count() == 1
        assert not page.locator("#abort").is_hidden()
        page.screenshot(path=artifacts / "run-live-running.png", full_page=True)

        gate.touch()  # the run goes on: the page sees it without being reloaded
        page.locator("#run-phase .phase-succeeded").wait_for()
        assert page.locator(".node:has(.name:text-is('step'))").count() == 2
        assert page.locator(".node[data-phase=succeeded]").count() == 4
        assert page.locator("#abort").is_hidden()
        page.screenshot(path=artifacts / "run-live-succeeded.png", full_page=True)
        assert running.wait(30) == 0
    finally:
        if running.poll() is None:
            running.kill()


def test_action_details_logs_report_and_timeline(seeded_server: Any, page: Any, artifacts: Path) -> None:
    url = seeded_server.url
    page.goto(url + "/runs/alpha-2")
    page.locator(".node:has(.name:text-is('step'))").first.click()
    page.locator("#logs span").first.wait_for()
    logs = page.locator("#logs").inner_text()
    assert "step 0 done" in logs and "a second line of step 0" in logs
    page.fill("#log-search", "second")
    assert page.locator("#logs").inner_text().strip() == "a second line of step 0"
    assert page.locator("#logs mark").first.inner_text() == "second"
    assert page.locator(".values").last.locator("pre").inner_text() == "0"  # its output, o0: step(0) -> 0
    page.screenshot(path=artifacts / "action-logs.png", full_page=True)

    page.locator(".node[data-action=a0]").click()  # the root: inputs and a JSON output
    page.locator(".values").first.wait_for()
    outputs = page.locator(".values").last.inner_text()
    assert '"total": 30' in outputs and '"count": 3' in outputs

    page.click("#timeline-tab")
    assert page.locator("#timeline .row").count() == 4
    page.screenshot(path=artifacts / "timeline.png", full_page=True)

    page.goto(url + "/runs/beta-1#a0")
    page.locator("pre.traceback").wait_for()
    assert "ValueError" in page.locator(".error-box").inner_text()
    assert "broken on purpose with x=7" in page.locator("#run-error").inner_text()
    page.screenshot(path=artifacts / "run-failed.png", full_page=True)

    page.goto(url + "/runs/report-1#a0")
    report = page.frame_locator("iframe#report")
    report.locator("h1").wait_for()
    assert report.locator("h1").inner_text() == "Report from a task"
    page.screenshot(path=artifacts / "report.png", full_page=True)


def test_a_reports_script_reaches_neither_the_cookie_nor_the_api(
    seeded_server: Any, page: Any, key: str, artifacts: Path
) -> None:
    url = seeded_server.url
    sign_in(page, url, key, "/runs/report-1")
    cookie = next(c for c in page.context.cookies() if c["name"] == "roost_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "roost_key" not in page.evaluate("document.cookie")  # not even the console's own script sees it
    assert "console-tester" in page.locator(".who").inner_text()

    page.locator(".node[data-action=a0]").click()
    probe = page.frame_locator("iframe#report").locator("#probe")
    wait_until(lambda: "fetch:" in probe.inner_text(), what="the report's script finishing")
    found = probe.inner_text()
    assert "cookie:blocked" in found and "parent:blocked" in found and "storage:blocked" in found, found
    assert "fetch:blocked" in found, found
    assert key not in found
    assert page.locator("iframe#report").get_attribute("sandbox") == "allow-scripts"
    page.screenshot(path=artifacts / "report-sandboxed.png", full_page=True)


def test_abort_a_running_run_from_its_page(
    seeded_server: Any, page: Any, key: str, artifacts: Path, tmp_path: Path
) -> None:
    url = seeded_server.url
    running = run_tasks(seeded_server.home, "gate", "stuck-1", str(tmp_path / "never"))
    try:
        wait_until(lambda: run_phase(url, "stuck-1") == "running", what="run stuck-1 starting")
        sign_in(page, url, key, "/runs/stuck-1")
        page.locator(".node:has(.name:text-is('wait_for'))[data-phase=running]").wait_for()
        asked: list[str] = []

        def confirm(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.on("dialog", confirm)
        page.click("#abort")
        page.locator("#run-phase .phase-aborted").wait_for()
        assert asked and "Abort run stuck-1?" in asked[0]
        assert page.locator(".node[data-action=a0]").get_attribute("data-phase") == "aborted"
        page.screenshot(path=artifacts / "run-aborted.png", full_page=True)
        assert running.wait(30) != 0
        # Who aborted it is recorded: the name of the key the page was signed in with.
        page.locator(".node[data-action=a0]").click()
        page.locator("#detail dd:has-text('aborted by console-tester')").wait_for()
    finally:
        if running.poll() is None:
            running.kill()


def test_answer_a_pending_condition_from_the_run_page(seeded_server: Any, page: Any, key: str, artifacts: Path) -> None:
    url = seeded_server.url
    running = run_tasks(seeded_server.home, "approval", "approve-1")
    try:
        wait_until(lambda: run_phase(url, "approve-1") == "running", what="run approve-1 starting")
        sign_in(page, url, key, "/runs/approve-1")
        waiting = page.locator(".node:has(.name:text-is('approve'))")
        waiting.wait_for()
        assert waiting.get_attribute("data-phase") == "paused"
        assert "waiting for an answer" in waiting.locator(".tag.waiting").inner_text()
        page.locator("#waiting a[data-condition]").click()  # the run's head names what it waits for

        # The prompt's markdown is rendered; the HTML in it is text: nothing of it runs or loads.
        prompt = page.locator("#condition-prompt")
        prompt.locator("h2").wait_for()
        assert prompt.locator("h2").inner_text() == "Ship?"
        assert prompt.locator("strong").inner_text() == "Really" and prompt.locator("code").inner_text() == "v2"
        assert prompt.locator("li").count() == 2 and prompt.locator("em").inner_text() == "updated"
        assert prompt.locator("img, script").count() == 0 and "<img" in prompt.inner_text()
        assert page.title() != "pwned"
        page.screenshot(path=artifacts / "condition-pending.png", full_page=True)

        asked: list[str] = []

        def answer_dialog(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.on("dialog", answer_dialog)
        page.click("#condition-yes")
        page.locator("#condition-state").wait_for()
        assert asked and "approve" in asked[0] and "true" in asked[0]
        assert "by console-tester" in page.locator("#condition-state").inner_text()

        # The next condition takes a whole number: a bad one is refused with the server's message.
        replicas = page.locator(".node:has(.name:text-is('replicas'))[data-phase=paused]")
        replicas.wait_for()
        replicas.click()
        page.fill("#condition-value", "1.5")
        page.click("#condition-answer")
        problem = page.locator("#condition-error")
        wait_until(lambda: problem.inner_text(), what="the refusal shown")
        assert "takes an int" in problem.inner_text() and "whole number" in problem.inner_text()
        page.screenshot(path=artifacts / "condition-refused.png", full_page=True)
        page.fill("#condition-value", "3")
        page.click("#condition-answer")

        page.locator("#run-phase .phase-succeeded").wait_for()
        assert running.wait(30) == 0
        conditions = {c["name"]: c for c in api(url, "/api/v1/conditions?run=approve-1")}
        assert conditions["approve"]["value"] is True and conditions["approve"]["signalled_by"] == "console-tester"
        assert conditions["replicas"]["value"] == 3
        page.locator(".node[data-action=a0]").click()
        page.locator(".values").last.locator("pre:has-text('shipped v2 x3')").wait_for()
        page.screenshot(path=artifacts / "condition-answered.png", full_page=True)
    finally:
        if running.poll() is None:
            running.kill()


def test_tasks_and_triggers_pages_activate_and_deactivate(
    seeded_server: Any, page: Any, key: str, artifacts: Path
) -> None:
    from .test_console_actions_http import deploy_nightly

    url = seeded_server.url
    deploy_nightly(seeded_server)
    sign_in(page, url, key, "/")
    page.click("header nav a[href='/tasks']")
    page.wait_for_url("**/tasks")
    assert page.locator("#tasks tr[data-task='pkg.nightly'] td").nth(1).inner_text() == "v1"
    page.screenshot(path=artifacts / "tasks.png", full_page=True)

    page.click("header nav a[href='/triggers']")
    page.wait_for_url("**/triggers")
    row = page.locator("#triggers tr[data-trigger='yearly <b>']")
    assert row.get_attribute("data-active") == "true" and "cron 0 0 1 1 *" in row.inner_text()
    asked: list[str] = []

    def confirm(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    row.locator("button.toggle-active").click()
    page.locator("#triggers tr[data-trigger='yearly <b>'][data-active=false]").wait_for()
    assert asked == ["Deactivate trigger yearly <b> of pkg.nightly?"]
    assert api(url, "/api/v1/triggers/pkg.nightly/yearly%20%3Cb%3E")["active"] is False
    page.screenshot(path=artifacts / "triggers.png", full_page=True)
    page.locator("#triggers tr[data-trigger='yearly <b>'] button.toggle-active").click()
    page.locator("#triggers tr[data-trigger='yearly <b>'][data-active=true]").wait_for()
    assert api(url, "/api/v1/triggers/pkg.nightly/yearly%20%3Cb%3E")["active"] is True


def test_a_big_run_opens_node_by_node(browser: Any, page: Any, tmp_path: Path, artifacts: Path) -> None:
    from roost.store.run_store import RunStore

    store = RunStore(tmp_path / "home" / "roost.db")
    seed_big_run(store, time.time() - 60)
    store.flush()
    store.close()
    server = start_server(tmp_path / "home")
    try:
        page.goto(server.url + "/runs/big-run")
        page.locator("#window-note").wait_for()
        assert "3031 actions" in page.locator("#window-note").inner_text()
        assert page.locator(".node[data-action='c7']").count() == 1
        assert page.locator(".node[data-action='c7-g0']").count() == 0  # not loaded until opened
        page.locator(".node[data-action='c7'] .toggle").click()
        page.locator(".node[data-action='c7-g99']").wait_for()
        page.screenshot(path=artifacts / "big-run.png")
        # An Action.url deep in a big run: its branch is loaded and opened, the action selected.
        page.goto(server.url + "/runs/big-run?action=c12-g50")
        page.locator(".node.selected[data-action='c12-g50']").wait_for()
        page.locator("#detail h2:has-text('c12-g50')").wait_for()
    finally:
        stop_server(server)


def test_an_actions_values_by_type_its_checkpoints_and_environment(
    seeded_server: Any, page: Any, artifacts: Path
) -> None:
    from .console_tasks import SECRET_VALUE

    url = seeded_server.url
    page.goto(url + "/runs/typed-1?action=a0")  # selected from the address, as Action.url opens it
    page.locator(".node.selected[data-action=a0]").wait_for()
    page.locator("#environment").wait_for()
    inputs, outputs = page.locator(".values").first, page.locator(".values").last
    assert inputs.locator("tr[data-name=n][data-kind=scalar] pre").inner_text() == "25"
    point = inputs.locator("tr[data-name=point][data-kind=json]")
    assert point.locator(".type").inner_text() == "Point" and '"label": "p"' in point.locator("pre").inner_text()

    # A DataFrame: its column names and first rows (pandas, and flyte.io.DataFrame).
    frame = outputs.locator("tr[data-name=o2][data-kind=dataframe]")
    assert frame.locator("table.preview th").all_inner_texts() == ["id", "name"]
    assert frame.locator("table.preview tbody tr").count() == 10
    assert frame.locator("table.preview tbody tr").nth(3).locator("td").all_inner_texts() == ["3", "row-3"]
    assert "10 of 25 rows, 2 columns" in frame.inner_text()
    wrapped = outputs.locator("tr[data-name=o4][data-kind=dataframe] table.preview")
    assert wrapped.locator("th").all_inner_texts() == ["k", "v"]
    settings = outputs.locator("tr[data-name=o3][data-kind=json]")
    assert settings.locator(".type").inner_text() == "Settings" and '"depth": 3' in settings.inner_text()

    # A File and the files of a Dir download through the console.
    with page.expect_download() as got:
        outputs.locator("tr[data-name=o0] a.file-link").click()
    assert got.value.suggested_filename == "table.csv"
    assert Path(got.value.path()).read_text() == "x,y\n1,2\n"
    members = outputs.locator("tr[data-name=o1] a.file-link")
    assert any(text.endswith("/sub/b.txt") for text in members.all_inner_texts())
    with page.expect_download() as got:
        members.filter(has_text="sub/b.txt").click()
    assert Path(got.value.path()).read_text() == "contents of b"

    # What it ran with: names only.
    env = page.locator("#environment").inner_text()
    assert "GREETING" in env and "console_token as $CONSOLE_TOKEN" in env
    assert "cpu request 1" in env and "memory request 512Mi" in env and "typed" in env
    assert "attempt 1: 1 file, 17 B" in page.locator("#checkpoints").inner_text()
    page.screenshot(path=artifacts / "action-typed-values.png", full_page=True)
    page.locator("#checkpoints").scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "action-environment-checkpoints.png", full_page=True)
    shown = page.content() + json.dumps(api(url, "/console/api/runs/typed-1/actions/a0"))
    assert SECRET_VALUE not in shown and "hello-value-hidden" not in shown


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),  # no ref
        ("?ref=/etc/passwd", 404),  # a path the action's values do not name
        ("?ref={dir}&member=../../roost.db", 404),  # out of the Dir
        ("?ref={dir}&member=/etc/passwd", 404),
        ("?ref={file}&member=x", 404),  # a File has no members
    ],
)
def test_only_files_the_store_references_download(seeded_server: Any, query: str, status: int) -> None:
    import urllib.error
    import urllib.parse

    outputs = {v["name"]: v for v in api(seeded_server.url, "/console/api/runs/typed-1/actions/a0")["outputs"]}
    refs = {"dir": outputs["o1"]["links"][0]["ref"], "file": outputs["o0"]["links"][0]["ref"]}
    path = "/console/api/runs/typed-1/actions/a0/files" + query.format(
        **{k: urllib.parse.quote(v) for k, v in refs.items()}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(seeded_server.url, path)
    assert refused.value.code == status
    assert "Traceback" not in refused.value.read().decode()


def test_an_action_url_opens_its_run_page_with_it_selected(seeded_server: Any, page: Any) -> None:
    import os
    import subprocess
    import sys

    url = seeded_server.url
    step = next(a["id"] for a in api(url, "/console/api/runs/alpha-2")["actions"] if a["parent"] == "a0")
    program = (
        f"import roost as flyte; flyte.init(); print(flyte.remote.Action.get(run_name='alpha-2', name={step!r}).url)"
    )
    env = {**os.environ, "ROOST_HOME": str(seeded_server.home)}
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    action_url = done.stdout.strip()
    assert action_url == f"{url}/runs/alpha-2?action={step}"
    page.goto(action_url)
    page.locator(f".node.selected[data-action='{step}']").wait_for()
    page.locator(f"#detail h2:has-text('{step}')").wait_for()
    assert page.locator("#detail .values").last.locator("pre").inner_text() in ("0", "10", "20")
    # Selecting another action keeps the address shareable.
    page.locator(".node[data-action=a0]").click()
    page.wait_for_url("**/runs/alpha-2?action=a0")


def test_the_runs_list_follows_the_store_live_with_its_filters(
    seeded_server: Any, page: Any, artifacts: Path, tmp_path: Path
) -> None:
    url, gate = seeded_server.url, tmp_path / "gate"
    page.goto(url + "/?name=stream")
    page.locator("#runs-body tr.empty").wait_for()
    page.locator("#live[data-stream=open]").wait_for()  # server-sent events, not a timer
    running = run_tasks(seeded_server.home, "gate", "stream-1", str(gate))
    try:
        page.locator("tr[data-run=stream-1] .phase-running").wait_for(timeout=30_000)
        assert runs_listed(page) == ["stream-1"]  # the filter holds for what arrives live
        page.screenshot(path=artifacts / "runs-live-running.png", full_page=True)
        gate.touch()
        page.locator("tr[data-run=stream-1] .phase-succeeded").wait_for(timeout=30_000)
        assert running.wait(30) == 0
        assert runs_listed(page) == ["stream-1"]
        page.screenshot(path=artifacts / "runs-live-succeeded.png", full_page=True)
    finally:
        if running.poll() is None:
            running.kill()


def test_rerun_a_local_run_from_its_page(seeded_server: Any, page: Any, artifacts: Path) -> None:
    from roost.store.records import ActionPhase, RunRecord
    from roost.store.run_store import RunStore

    url = seeded_server.url
    store = RunStore(seeded_server.home / "roost.db")  # local runs whose code the server cannot find
    ended = time.time() - 30
    store.put_run(RunRecord("dotted-1", "pkg.flow", ActionPhase.SUCCEEDED, "local", ended, ended, ended,
                            task_module="pkg.flows"))  # fmt: skip
    store.put_run(RunRecord("moved-1", "pkg.flow", ActionPhase.SUCCEEDED, "local", ended, ended, ended,
                            task_module=str(seeded_server.home / "gone.py")))  # fmt: skip
    store.flush()
    store.close()
    for name, why in (("dotted-1", "imported by name"), ("moved-1", "not on this machine any more")):
        page.goto(f"{url}/runs/{name}")
        assert page.locator("#rerun").is_disabled() and why in page.locator("#rerun").get_attribute("title")
        assert why in page.locator("#rerun-why").inner_text()
    page.screenshot(path=artifacts / "rerun-refused.png", full_page=True)

    page.goto(url + "/runs/alpha-1")  # console_tasks.py, run as a script here: rerun on the server
    assert not page.locator("#rerun").is_disabled()
    asked: list[str] = []

    def confirm(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    page.click("#rerun")
    page.wait_for_url("**/runs/alpha-1-r1")
    page.locator("#run-phase .phase-succeeded").wait_for(timeout=60_000)
    assert asked and "Rerun alpha-1?" in asked[0]
    assert "rerun of alpha-1" in page.locator("dl.facts").first.inner_text()
    page.locator(".node[data-action=a0]").click()
    outputs = page.locator(".values").last
    outputs.locator("pre:has-text('\"total\": 10')").wait_for()  # fan_out(2) as before: 0 + 10
    page.screenshot(path=artifacts / "rerun-local.png", full_page=True)
