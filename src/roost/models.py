"""Run, action and task data types (``flyte.models``)."""

from roost.core.serialization import CodeBundle, PathRewrite, SerializationContext, generate_random_name
from roost.interface import NativeInterface
from roost.runtime.runs.action_details import ActionInputs, ActionOutputs
from roost.runtime.task_api.task_context import ActionID, CheckpointPaths, GroupData, RawDataPath, TaskContext
from roost.store.records import ActionPhase
from roost.types.task_io import MAX_INLINE_IO_BYTES

__all__ = [
    "MAX_INLINE_IO_BYTES",
    "ActionID",
    "ActionInputs",
    "ActionOutputs",
    "ActionPhase",
    "CheckpointPaths",
    "CodeBundle",
    "GroupData",
    "NativeInterface",
    "PathRewrite",
    "RawDataPath",
    "SerializationContext",
    "TaskContext",
    "generate_random_name",
]
