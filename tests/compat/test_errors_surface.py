"""flyte.errors: every class of Flyte 2.12.1 with the same name, a subclass of the same bases, and
constructible as Flyte constructs it."""

from __future__ import annotations

import pickle

import pytest

import roost as flyte
from roost import errors

# Flyte 2.12.1's flyte/errors.py: class -> its direct bases (read once from the released wheel).
FLYTE_2_12_1 = {
    "BaseRuntimeError": ("RuntimeError",),
    "InitializationError": ("BaseRuntimeError",),
    "RuntimeSystemError": ("BaseRuntimeError",),
    "UnionRpcError": ("RuntimeSystemError",),
    "RuntimeUserError": ("BaseRuntimeError",),
    "RuntimeUnknownError": ("BaseRuntimeError",),
    "OOMError": ("RuntimeUserError",),
    "GPUFaultError": ("BaseRuntimeError",),
    "GPUFaultUserError": (
        "GPUFaultError",
        "RuntimeUserError",
    ),
    "GPUFaultSystemError": (
        "GPUFaultError",
        "RuntimeSystemError",
    ),
    "TaskInterruptedError": ("RuntimeUserError",),
    "PrimaryContainerNotFoundError": ("RuntimeUserError",),
    "TaskTimeoutError": ("RuntimeUserError",),
    "MaxQueuedTimeExceededError": ("TaskTimeoutError",),
    "MaxRuntimeExceededError": ("TaskTimeoutError",),
    "DeadlineExceededError": ("TaskTimeoutError",),
    "ConditionTimedoutError": ("RuntimeUserError",),
    "RetriesExhaustedError": ("RuntimeUserError",),
    "InvalidImageNameError": ("RuntimeUserError",),
    "ImagePullBackOffError": ("RuntimeUserError",),
    "CustomError": ("RuntimeUserError",),
    "NotInTaskContextError": ("RuntimeUserError",),
    "ActionNotFoundError": ("RuntimeError",),
    "RemoteTaskNotFoundError": ("RuntimeUserError",),
    "RemoteTaskUsageError": ("RuntimeUserError",),
    "LogsNotYetAvailableError": ("BaseRuntimeError",),
    "RuntimeDataValidationError": ("RuntimeUserError",),
    "DeploymentError": ("RuntimeUserError",),
    "ImageBuildError": ("RuntimeUserError",),
    "ModuleLoadError": ("RuntimeUserError",),
    "InlineIOMaxBytesBreached": ("RuntimeUserError",),
    "ActionAbortedError": ("RuntimeUserError",),
    "SlowDownError": ("RuntimeUserError",),
    "ResourceExhaustedError": ("SlowDownError",),
    "OnlyAsyncIOSupportedError": ("RuntimeUserError",),
    "ParameterMaterializationError": ("RuntimeUserError",),
    "RestrictedTypeError": ("RuntimeUserError",),
    "CodeBundleError": ("RuntimeUserError",),
    "SyncTaskCallInAsyncContextError": ("RuntimeUserError",),
    "TraceDoesNotAllowNestedTasksError": ("RuntimeUserError",),
    "InvalidPackageError": ("RuntimeUserError",),
    "NonRecoverableError": ("RuntimeUserError",),
    "ConditionAlreadyExistsError": ("RuntimeUserError",),
    "ConditionFailedError": ("RuntimeUserError",),
    "ConditionNotFoundError": ("RuntimeUserError",),
    "AppleSiliconError": ("RuntimeUserError",),
    "AppleSiliconNotAvailableError": ("AppleSiliconError",),
    "AppleSiliconHostExecFailedError": ("AppleSiliconError",),
    "AppleSiliconDaemonStartFailedError": ("AppleSiliconError",),
    "AppleSiliconDaemonOOMError": ("AppleSiliconError",),
    "AppleSiliconModelNotFoundError": ("AppleSiliconError",),
    "AppleSiliconBridgeUnreachableError": ("AppleSiliconError",),
}


@pytest.mark.parametrize("name", sorted(FLYTE_2_12_1))
def test_every_flyte_error_class_exists_with_its_bases(name):
    cls = getattr(flyte.errors, name)
    for base in FLYTE_2_12_1[name]:
        parent = RuntimeError if base == "RuntimeError" else getattr(errors, base)
        assert issubclass(cls, parent), (name, base)


MESSAGE_ONLY = [n for n, bases in FLYTE_2_12_1.items() if bases == ("RuntimeUserError",)] + [
    "MaxQueuedTimeExceededError",
    "MaxRuntimeExceededError",
    "DeadlineExceededError",
    "ResourceExhaustedError",
]
CODE_AND_MESSAGE = {"OOMError", "TaskInterruptedError", "PrimaryContainerNotFoundError", "RetriesExhaustedError"}
CODE_AND_MESSAGE |= {"InvalidImageNameError", "ImagePullBackOffError", "NotInTaskContextError", "CustomError"}
OTHER_SHAPES = {"RuntimeDataValidationError", "InvalidPackageError", "AppleSiliconError"}


@pytest.mark.parametrize("name", sorted(set(MESSAGE_ONLY) - CODE_AND_MESSAGE - OTHER_SHAPES))
def test_message_only_constructors(name):
    err = getattr(errors, name)("it broke")
    assert err.message == "it broke" and err.kind == "user" and isinstance(err.code, str) and err.code


def test_other_constructor_shapes():
    assert errors.TaskTimeoutError("slow", code="Mine").code == "Mine"
    assert errors.NonRecoverableError("stop").code == "NonRecoverableError"
    assert errors.RuntimeDataValidationError("x", ValueError("bad"), task_name="t").code == "DataValidationError"
    assert errors.InvalidPackageError("numpy==>1", "bad spec").package_name == "numpy==>1"
    for name in CODE_AND_MESSAGE:
        assert getattr(errors, name)("Code", "msg").code == "Code"
    assert errors.LogsNotYetAvailableError("later").kind == "system"


def test_gpu_fault_fields():
    assert "GpuXidError" in errors.GPU_FAULT_CODES
    err = errors.GPUFaultUserError("GpuXidError", "Xid 31", fault_kind="xid", fault_code=31, gpu_index=0)
    assert (err.kind, err.xid, err.sxid, err.gpu_index, err.node) == ("user", 31, None, 0, None)
    assert isinstance(err, errors.RuntimeUserError) and isinstance(err, errors.GPUFaultError)
    system = errors.GPUFaultSystemError("GpuFallenOffBus", "gone", fault_kind="sxid", fault_code=12)
    assert (system.kind, system.xid, system.sxid) == ("system", None, 12)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is errors.GPUFaultUserError and copy.xid == 31 and copy.message == "Xid 31"


def test_apple_silicon_errors():
    by_code = errors.APPLE_SILICON_ERRORS_BY_CODE
    assert len(by_code) == 6 and by_code["APPLE_SILICON_DAEMON_OOM"] is errors.AppleSiliconDaemonOOMError
    err = errors.AppleSiliconNotAvailableError("not on this machine", worker="w1")
    assert (err.code, err.message, err.worker, err.recoverable) == (
        "APPLE_SILICON_NOT_AVAILABLE",
        "not on this machine",
        "w1",
        False,
    )
    assert errors.AppleSiliconDaemonOOMError("oom").recoverable is True
    assert errors.AppleSiliconError("x").code == "APPLE_SILICON_ERROR"
