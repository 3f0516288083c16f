"""The console's run page for a big run: a real ``roost server`` over a store holding one run of
``--actions`` actions (default 100k: a root, 1000 children, 99 grandchildren each), opened in headless
Chromium (Playwright driving Debian's ``chromium``, or ``$ROOST_TEST_CHROMIUM``).

    python benchmarks/run_console.py [--repeat 5] [--actions 100000]

Rows, each the median of ``--repeat`` fresh browser pages (issue 18's target: first paint < 1 s):
- the HTML of ``/runs/NAME`` (server time and size);
- first contentful paint, as the browser reports it;
- the action tree shown (its first node in the page), from the start of navigation;
- an ``Action.url`` deep in the run (``?action=`` a grandchild): its detail panel shown, from the start
  of navigation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_servers import start_server

RUN = "big-1"


def seed(home: Path, actions: int) -> None:
    from roost.store.records import ActionPhase, ActionRecord, RunRecord
    from roost.store.run_store import RunStore

    store = RunStore(home / "roost.db")
    now = time.time() - 3600
    run = RunRecord(RUN, "bench.fan_out", ActionPhase.SUCCEEDED, "local", now, now, now + 600)
    store.put_run(run)
    done = ActionPhase.SUCCEEDED
    # What every started action records of its environment (names only), as a real run's do.
    env = (
        '{"environment":"bench","image":"ghcr.io/flyteorg/flyte:py3.11-v2.12.1","resources":{"cpu request":"1",'
        '"memory request":"512Mi"},"env_var_names":["GREETING"],"secrets":[{"key":"token","env_var":"TOKEN"}]}'
    )
    store.mark(ActionRecord(RUN, "a0", None, "bench.fan_out", "fan_out", None, 0, done, 1, now, now, now + 600))
    made, children = 1, max((actions - 1) // 100, 1)
    for c in range(children):
        if made >= actions:
            break
        child = f"c{c}"
        t = now + c * 0.5
        store.mark(
            ActionRecord(RUN, child, "a0", "bench.group", "group", None, c, done, 1, t, t, t + 0.4, environment=env)
        )
        made += 1
        for g in range(99):
            if made >= actions:
                break
            step = ActionRecord(RUN, f"{child}-{g}", child, "bench.step", "step", None, g, done, 1, t, t, t + 0.01)
            step.environment = env
            store.mark(step)
            made += 1
    store.flush()
    store.close()


def measure(url: str, repeat: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("ROOST_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    found: dict[str, list[float]] = {"html_s": [], "html_mb": [], "fcp_s": [], "tree_s": [], "action_s": []}
    for _ in range(repeat):
        started = time.perf_counter()
        request = urllib.request.Request(f"{url}/runs/{RUN}", headers={"Accept": "text/html"})
        with urllib.request.urlopen(request, timeout=120) as response:
            size = len(response.read())
        found["html_s"].append(time.perf_counter() - started)
        found["html_mb"].append(size / 2**20)
    with sync_playwright() as manager:
        browser = manager.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for _ in range(repeat):
            page = browser.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{url}/runs/{RUN}", wait_until="commit")
            page.wait_for_selector("#tree .node")
            timing = page.evaluate(
                """() => ({
                  fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
                  now: performance.now(),
                })"""
            )
            found["fcp_s"].append((timing["fcp"] or float("nan")) / 1000)
            found["tree_s"].append(timing["now"] / 1000)
            page.close()
        for _ in range(repeat):
            page = browser.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{url}/runs/{RUN}?action=c500-50", wait_until="commit")
            page.wait_for_selector("#detail h2:has-text('c500-50')")
            found["action_s"].append(page.evaluate("performance.now()") / 1000)
            page.close()
        browser.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--actions", type=int, default=100_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="roost-bench-console-"))
    server = None
    try:
        t0 = time.perf_counter()
        seed(home, args.actions)
        print(f"seeded {args.actions} actions in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        server, url = start_server(home)
        found = measure(url, args.repeat)
        print(f"run page of a run with {args.actions} actions (median of {args.repeat}):")
        print(f"  /runs/NAME HTML:        {statistics.median(found['html_s']):7.3f} s  "
              f"({statistics.median(found['html_mb']):.1f} MiB)")  # fmt: skip
        print(f"  first contentful paint: {statistics.median(found['fcp_s']):7.3f} s   (target < 1 s)")
        print(f"  action tree shown:      {statistics.median(found['tree_s']):7.3f} s")
        print(f"  ?action= deep, shown:   {statistics.median(found['action_s']):7.3f} s")
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
