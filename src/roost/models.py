"""Run and action data types (``flyte.models``)."""

from roost.runtime.action_details import ActionInputs, ActionOutputs
from roost.runtime.context import ActionID, CheckpointPaths, GroupData, RawDataPath, TaskContext
from roost.store.records import ActionPhase

__all__ = [
    "ActionID",
    "ActionInputs",
    "ActionOutputs",
    "ActionPhase",
    "CheckpointPaths",
    "GroupData",
    "RawDataPath",
    "TaskContext",
]
