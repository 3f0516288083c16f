"""Handles on recorded runs and actions (``flyte.remote``): ``Run.get``, ``Action.listall``,
``ActionDetails`` and the rest read the run store of ROOST_HOME -- or, after ``init(endpoint=...)``,
the roost server's API, which answers the same reads (docs/server.md). ``App`` is an app the server
runs (docs/apps.md)."""

from roost.runtime.runs.action_details import AbortInfo, ActionDetails, ActionInputs, ActionOutputs
from roost.runtime.runs.condition_answers import Condition
from roost.runtime.runs.deployed_tasks import LazyEntity, Task, TaskDetails
from roost.runtime.runs.deployed_triggers import Trigger, TriggerDetails
from roost.runtime.runs.handles import Action, Run, RunDetails
from roost.runtime.runs.served_apps import App
from roost.runtime.runs.transitions import PhaseTransitionInfo

__all__ = [
    "AbortInfo",
    "Action",
    "ActionDetails",
    "ActionInputs",
    "ActionOutputs",
    "App",
    "Condition",
    "LazyEntity",
    "PhaseTransitionInfo",
    "Run",
    "RunDetails",
    "Task",
    "TaskDetails",
    "Trigger",
    "TriggerDetails",
]
