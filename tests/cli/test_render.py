"""The pieces the commands are drawn from, without a process: type labels, durations, the tree."""

from __future__ import annotations

import enum
import io
from typing import Literal, Optional

from rich.console import Console

from roost.cli import render
from roost.cli.inputs import type_label
from roost.store.records import ActionPhase, ActionRecord


class Color(enum.Enum):
    RED = 1


def test_type_labels_read_like_annotations():
    assert type_label(int) == "int"
    assert type_label(list[int]) == "list[int]"
    assert type_label(dict[str, float]) == "dict[str, float]"
    assert type_label(Optional[Color]) == "Optional[Color]"
    assert type_label(int | str) == "int | str"
    assert type_label(Literal["a", "b"]) == "Literal['a', 'b']"


def test_durations():
    assert render.format_duration(None) == "-"
    assert render.format_duration(0.0123) == "12ms"
    assert render.format_duration(4.25) == "4.2s"
    assert render.format_duration(125) == "2m05s"
    assert render.format_duration(7300) == "2h01m"


def _action(action_id: str, parent: str | None, seq: int, phase: ActionPhase, group: str | None = None) -> ActionRecord:
    return ActionRecord(
        run_name="r",
        action_id=action_id,
        parent_id=parent,
        task_name="env.t",
        short_name="t",
        group_name=group,
        seq=seq,
        phase=phase,
        attempts=1,
        started_at=0.0,
        ended_at=1.0,
    )


def _draw(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=200).print(renderable)
    return out.getvalue()


def test_tree_groups_children_and_caps_what_it_draws():
    actions = [_action("a0", None, 0, ActionPhase.RUNNING)]
    actions += [_action(f"c{i:03d}xxxxxxx", "a0", i + 1, ActionPhase.SUCCEEDED, "batch") for i in range(50)]
    actions.append(_action("failedxxxxx", "a0", 99, ActionPhase.FAILED))
    full = _draw(render.action_tree(actions, "run r"))
    assert full.count("group batch") == 1
    assert full.count("SUCCEEDED") == 50
    capped = _draw(render.action_tree(actions, "run r", limit=5))
    assert "failedxx" in capped  # unfinished and failed children are drawn first
    assert "46 more" in capped and "succeeded" in capped


def test_user_traceback_drops_roost_frames():
    roost_file = render._ROOST_DIR + "runtime/engine/run_controller.py"
    text = (
        "Traceback (most recent call last):\n"
        '  File "/x/syncify.py", line 1, in f\n'
        "RuntimeError: no running event loop\n\n"
        "During handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        f'  File "{roost_file}", line 193, in execute\n'
        "    value = await self._pipeline(action)\n"
        '  File "/home/me/prog.py", line 20, in boom\n'
        "    raise ValueError(x)\n"
        "ValueError: 3\n"
    )
    assert render.user_traceback(text) == [
        "Traceback (most recent call last):",
        '  File "/home/me/prog.py", line 20, in boom',
        "    raise ValueError(x)",
        "ValueError: 3",
    ]
