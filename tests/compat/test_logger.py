"""flyte.logger: task code's logger; its lines are stored with the action that logged them."""

from __future__ import annotations

import logging

import roost as flyte

from . import compat_tasks as log_tasks


def lines_by_action(store, run_name: str) -> dict[str, list[str]]:
    actions = {a.action_id: a.task_name for a in store.list_actions(run_name)}
    found: dict[str, list[str]] = {}
    for record in store.list_logs(run_name):
        found.setdefault(actions[record.action_id], []).append(f"{record.stream}|{record.line}")
    return found


def test_logger_is_flytes_user_logger():
    assert isinstance(flyte.logger, logging.Logger) and flyte.logger.level == logging.INFO
    assert not flyte.logger.propagate
    assert isinstance(flyte.system_logger, logging.Logger) and flyte.system_logger.name == "roost"


def test_logger_lines_land_in_their_actions_log_inline_and_in_a_worker(store, capfd):
    run = flyte.run(log_tasks.inline, 4)
    assert run.outputs()[0] == 5
    logs = lines_by_action(store, run.name)
    assert logs["logs.inline"] == ["log|INFO roost.user: inline says 4", "log|WARNING roost.user: careful"]
    assert logs["logs_worker.in_worker"] == ["log|INFO roost.user: worker says 4"]
    placement = {a.task_name: a.isolation for a in store.list_actions(run.name)}
    assert placement == {"logs.inline": "inline", "logs_worker.in_worker": "process"}
    # Printed too, as Flyte prints it (on stderr).
    assert "inline says 4" in capfd.readouterr().err


def test_user_log_level_from_init(store):
    try:
        flyte.init(user_log_level=logging.DEBUG)
        run = flyte.with_runcontext(isolation="inline").run(log_tasks.in_worker, 1)
        logs = lines_by_action(store, run.name)["logs_worker.in_worker"]
        assert "log|DEBUG roost.user: hidden at the default level" in logs
    finally:
        flyte.logger.setLevel(logging.INFO)
