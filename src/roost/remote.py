"""Handles on recorded runs and actions (``flyte.remote``): roost's runs are all local and recorded, so
``Run.get``, ``Action.listall``, ``ActionDetails`` and the rest read the run store of ROOST_HOME."""

from roost.runtime.runs.action_details import AbortInfo, ActionDetails, ActionInputs, ActionOutputs
from roost.runtime.runs.handles import Action, Run, RunDetails
from roost.runtime.runs.transitions import PhaseTransitionInfo

__all__ = [
    "AbortInfo",
    "Action",
    "ActionDetails",
    "ActionInputs",
    "ActionOutputs",
    "PhaseTransitionInfo",
    "Run",
    "RunDetails",
]
