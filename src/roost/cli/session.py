"""Watching a run the CLI started: the run executes on a thread of its own while the main thread
draws its action tree from the store and stays free to receive Ctrl-C.

The run is driven through the public runner API; the only channel back from the main thread to
the run is the store's abort request, the same one ``roost abort`` uses from another process, so a
Ctrl-C ends a run exactly as an abort does (every action cancelled, the run recorded ABORTED).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

from roost.cli import render
from roost.cli.state import store, writer
from roost.runtime.runs import condition_answers
from roost.runtime.runs.handles import Run
from roost.store.records import ConditionRecord, RunRecord

POLL_S = 0.2
# Reading and drawing a very large tree takes the GIL from the run it watches; never spend more than
# about a fifth of the time on it.
POLL_COST_FACTOR = 4.0
# The live tree draws at most this many children per action (the unfinished and failed ones first).
LIVE_CHILDREN = 20


@dataclass
class Outcome:
    """How the run thread ended: the handle it returned, or what it raised; and whether the user
    pressed Ctrl-C."""

    run: Run | None
    error: BaseException | None
    interrupted: bool


class RunSession:
    def __init__(self, run_name: str, task_name: str, start: Callable[[], Run], console: Console, live: bool):
        self.run_name = run_name
        self.task_name = task_name
        self._start = start
        self._console = console
        self._live = live
        self._box: dict[str, Any] = {}
        # The main thread waits on this, not on Thread.join: a join interrupted by Ctrl-C can leave
        # the thread reported dead while it still runs (CPython 3.11).
        self._done = threading.Event()
        # Conditions of the run answered at this terminal (or offered, and left to others).
        self._asks = sys.stdin.isatty() and console.is_terminal
        self._offered: set[str] = set()

    def _target(self) -> None:
        try:
            self._box["run"] = self._start()
        except BaseException as e:  # handed to the main thread, which decides the exit code
            self._box["error"] = e
        finally:
            self._done.set()

    def drive(self) -> Outcome:
        thread = threading.Thread(target=self._target, name="roost-cli-run", daemon=True)
        interrupted = abort_sent = False
        live = (
            Live(
                Text("starting…", style="dim"),
                console=self._console,
                auto_refresh=False,
                redirect_stdout=True,
                redirect_stderr=True,
            )
            if self._live
            else nullcontext()
        )
        if not self._live:
            # Before the run starts, so that the name comes before anything the run prints.
            click.echo(f"Starting run {self.run_name} (task {self.task_name})")
        with live:
            thread.start()
            interval = POLL_S
            while not self._done.is_set():
                try:
                    if interrupted and not abort_sent:
                        # False until the run's row exists: keep asking until the run can hear it.
                        abort_sent = writer().request_abort(self.run_name)
                    self._done.wait(interval)
                    if self._asks and not interrupted:
                        self._ask_pending(live)
                    began = time.perf_counter()
                    self._refresh(live)
                    interval = max(POLL_S, (time.perf_counter() - began) * POLL_COST_FACTOR)
                except KeyboardInterrupt:
                    if interrupted:
                        self._leave_now()
                    interrupted = True
                    click.echo(f"Aborting run {self.run_name}… (Ctrl-C again to leave without waiting)", err=True)
            self._refresh(live, final=True)
        return Outcome(self._box.get("run"), self._box.get("error"), interrupted)

    def _ask_pending(self, live: Live | nullcontext[None]) -> None:
        """Offer to answer, here, a condition the run waits on (its other actions go on meanwhile);
        an empty answer leaves it to ``roost signal`` or whoever else may answer."""
        for condition in store().list_conditions(self.run_name, pending=True):
            if condition.action_id in self._offered:
                continue
            self._offered.add(condition.action_id)
            if isinstance(live, Live):
                live.stop()
            try:
                answer_at_terminal(self._console, self.run_name, condition)
            finally:
                if isinstance(live, Live):
                    live.start()

    def _leave_now(self) -> None:
        """A second Ctrl-C: exit without waiting for the run to wind down. Threads running sync task
        code cannot be stopped, and interpreter shutdown would wait for them, so leave at once."""
        click.echo(f"Left run {self.run_name} while it was still ending.", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)

    def _refresh(self, live: Live | nullcontext[None], final: bool = False) -> None:
        if isinstance(live, Live):
            live.update(self._view(store().get_run(self.run_name), final), refresh=True)

    def _view(self, record: RunRecord | None, final: bool) -> RenderableType:
        if record is None:
            # Nothing was recorded (the run was refused before it started): leave no trace on screen.
            return Text("") if final else Text("starting…", style="dim")
        actions = store().list_actions(self.run_name)
        title = Text.assemble(
            ("run ", "bold"),
            (record.name, "bold"),
            "  ",
            render.phase_text(record.phase),
            "  ",
            render.format_duration(render.elapsed(record.started_at, record.ended_at, record.phase)),
        )
        parts: list[RenderableType] = [
            render.action_tree(actions, title, detailed=False, limit=LIVE_CHILDREN),
            render.phase_counts(actions),
        ]
        if not record.phase.is_terminal:
            parts.append(Text("Ctrl-C aborts the run", style="dim"))
        return Group(*parts)


def answer_at_terminal(console: Console, run_name: str, condition: ConditionRecord) -> None:
    """Show the condition's prompt (rendered markdown when it says so) and ask for a value of its type
    until one reads; Enter alone leaves it unanswered."""
    console.print()
    console.rule(f"run {run_name} asks: {condition.name} ({condition.data_type})")
    console.print(Markdown(condition.prompt) if condition.prompt_type == "markdown" else condition.prompt)
    while True:
        text = click.prompt("answer (Enter: leave it to `roost signal`)", default="", show_default=False)
        if not text.strip():
            console.print(f"left for later: roost signal {run_name} {condition.name} VALUE", style="dim")
            return
        try:
            condition_answers.answer(writer(), run_name, condition.action_id, text, by="terminal")
            return
        except condition_answers.AlreadyAnswered as e:
            console.print(str(e), style="yellow")
            return
        except ValueError as e:
            console.print(str(e), style="red")
