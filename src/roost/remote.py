"""Handles on recorded runs and actions (``flyte.remote``): roost's runs are all local and recorded."""

from roost.runtime.handles import Action, ActionDetails, Run, RunDetails

__all__ = ["Action", "ActionDetails", "Run", "RunDetails"]
