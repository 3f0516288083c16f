"""An approval step before a deploy: the run waits, holding nothing others need, until someone answers
(docs/durable.md).

    python examples/approval.py          # answers its own question from another process, to show how
    roost run examples/approval.py release --version 1.4   # at a terminal: asks you there

While it waits, answer from anywhere that reaches the store:

    roost get conditions --pending
    roost signal RUN approve yes         # or: --fail "not today"
"""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import roost as flyte

ROOST = str(Path(sys.executable).with_name("roost"))

env = flyte.TaskEnvironment(name="example_release")


@env.task
async def deploy(version: str) -> str:
    return f"deployed {version}"


@env.task
async def release(version: str = "1.4") -> str:
    canary_started = await flyte.durable.now.aio()  # the same instant if the run is recovered
    approval = await flyte.new_condition.aio(
        "approve",
        prompt=f"## Release {version}?\n\nThe canary has run since {canary_started:%H:%M} UTC.",
        prompt_type="markdown",
        data_type=bool,
        timeout=3600,
    )
    if not await approval.wait.aio():
        return f"{version} not released"
    return await deploy(version)


def approve_when_asked(run_name: str) -> None:
    """What a person (or a chat bot, through the webhook) would do: answer once the run asks."""
    for _ in range(600):
        listed = subprocess.run(
            [ROOST, "get", "conditions", "--run", run_name, "--pending"], capture_output=True, text=True
        )
        if "approve" in listed.stdout:
            print(listed.stdout.strip())
            answered = subprocess.run([ROOST, "signal", run_name, "approve", "yes"], capture_output=True, text=True)
            print(answered.stdout.strip() or answered.stderr.strip())
            return
        time.sleep(0.1)


if __name__ == "__main__":
    name = f"release-{os.getpid()}"
    approver = threading.Thread(target=approve_when_asked, args=(name,), daemon=True)
    approver.start()
    run = flyte.with_runcontext(name=name).run(release, version="1.4")
    approver.join(timeout=30)
    print(run.outputs()[0])
