"""roost.errors (SPEC §25, §26.5): hierarchy, codes, constructor shapes, operators, code mapping and
``user_error_from``."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import pytest

import roost as flyte
from roost import errors
from roost.errors import (
    BaseRuntimeError,
    CustomError,
    RuntimeSystemError,
    RuntimeUnknownError,
    RuntimeUserError,
    error_class_for,
    user_error_from,
)

# (class name, required ancestor, kind, constructor, expected code or None when the caller chooses it)
Case = tuple[str, str, str, Callable[[type], BaseException], "str | None"]


def code_msg(cls: type) -> BaseException:
    return cls("SomeCode", "something failed")


def msg(cls: type) -> BaseException:
    return cls("something failed")


CLASSES: list[Case] = [
    ("RuntimeSystemError", "BaseRuntimeError", "system", code_msg, "SomeCode"),
    ("UnionRpcError", "RuntimeSystemError", "system", code_msg, "SomeCode"),
    ("RuntimeUserError", "BaseRuntimeError", "user", code_msg, "SomeCode"),
    ("RuntimeUnknownError", "BaseRuntimeError", "unknown", code_msg, "SomeCode"),
    ("OOMError", "RuntimeUserError", "user", code_msg, "SomeCode"),
    ("GPUFaultUserError", "GPUFaultError", "user", code_msg, "SomeCode"),
    ("GPUFaultSystemError", "GPUFaultError", "system", code_msg, "SomeCode"),
    ("TaskInterruptedError", "RuntimeUserError", "user", code_msg, "SomeCode"),
    ("PrimaryContainerNotFoundError", "RuntimeUserError", "user", code_msg, "SomeCode"),
    ("TaskTimeoutError", "RuntimeUserError", "user", msg, "TaskTimeoutError"),
    ("MaxRuntimeExceededError", "TaskTimeoutError", "user", msg, "MaxRuntimeExceeded"),
    ("MaxQueuedTimeExceededError", "TaskTimeoutError", "user", msg, "MaxQueuedTimeExceeded"),
    ("DeadlineExceededError", "TaskTimeoutError", "user", msg, "DeadlineExceeded"),
    ("RetriesExhaustedError", "RuntimeUserError", "user", code_msg, "SomeCode"),
    ("InvalidImageNameError", "RuntimeUserError", "user", code_msg, "SomeCode"),
    ("ImagePullBackOffError", "RuntimeUserError", "user", code_msg, "SomeCode"),
    ("CustomError", "RuntimeUserError", "user", code_msg, "SomeCode"),
    ("NotInTaskContextError", "RuntimeUserError", "user", code_msg, "SomeCode"),
    ("RemoteTaskNotFoundError", "RuntimeUserError", "user", msg, None),
    ("RemoteTaskUsageError", "RuntimeUserError", "user", msg, None),
    ("LogsNotYetAvailableError", "BaseRuntimeError", "system", msg, None),
    ("DeploymentError", "RuntimeUserError", "user", msg, "DeploymentError"),
    ("ImageBuildError", "RuntimeUserError", "user", msg, "ImageBuildError"),
    ("ModuleLoadError", "RuntimeUserError", "user", msg, "ModuleLoadError"),
    ("CodeBundleError", "RuntimeUserError", "user", msg, "CodeBundleError"),
    ("InlineIOMaxBytesBreached", "RuntimeUserError", "user", msg, "InlineIOMaxBytesBreached"),
    ("ActionAbortedError", "RuntimeUserError", "user", msg, "ActionAbortedError"),
    ("SlowDownError", "RuntimeUserError", "user", msg, None),
    ("ResourceExhaustedError", "SlowDownError", "user", msg, None),
    ("OnlyAsyncIOSupportedError", "RuntimeUserError", "user", msg, "OnlyAsyncIOSupportedError"),
    ("ParameterMaterializationError", "RuntimeUserError", "user", msg, "ParameterMaterializationError"),
    ("RestrictedTypeError", "RuntimeUserError", "user", msg, "RestrictedTypeUsage"),
    ("SyncTaskCallInAsyncContextError", "RuntimeUserError", "user", msg, "SyncTaskCallInAsyncContextError"),
    ("TraceDoesNotAllowNestedTasksError", "RuntimeUserError", "user", msg, "TraceDoesNotAllowNestedTasksError"),
    ("NonRecoverableError", "RuntimeUserError", "user", msg, "NonRecoverableError"),
    ("ConditionTimedoutError", "RuntimeUserError", "user", msg, None),
    ("ConditionAlreadyExistsError", "RuntimeUserError", "user", msg, None),
    ("ConditionFailedError", "RuntimeUserError", "user", msg, None),
    ("ConditionNotFoundError", "RuntimeUserError", "user", msg, None),
    ("AppleSiliconError", "BaseRuntimeError", "user", msg, None),
    ("WorkerCrashedError", "RuntimeUserError", "user", msg, None),
]

SPECIAL: dict[str, Callable[[], BaseRuntimeError]] = {
    "InitializationError": lambda: errors.InitializationError("NoClient", "user", "call roost.init() first"),
    "GPUFaultError": lambda: errors.GPUFaultError("GpuXid", "system", "xid 79"),
    "RuntimeDataValidationError": lambda: errors.RuntimeDataValidationError("x", ValueError("bad"), "t"),
    "InvalidPackageError": lambda: errors.InvalidPackageError("numpyy", "not found"),
}


def all_instances() -> list[BaseRuntimeError]:
    made = [make(getattr(errors, name)) for name, _, _, make, _ in CLASSES]
    made += [factory() for factory in SPECIAL.values()]
    return made  # type: ignore[return-value]


# --- hierarchy, kinds, codes, constructors ------------------------------------------------------------


def test_errors_module_exported() -> None:
    assert flyte.errors is errors


def test_base_runtime_error() -> None:
    assert issubclass(BaseRuntimeError, RuntimeError)
    e = BaseRuntimeError("C", "system", "msg", worker="w1")
    assert (e.code, e.kind, e.worker, str(e), e.message) == ("C", "system", "w1", "msg", "msg")


@pytest.mark.parametrize(("name", "parent", "kind", "make", "code"), CLASSES, ids=[c[0] for c in CLASSES])
def test_class_parent_kind_code(name: str, parent: str, kind: str, make: Callable[[type], Any], code: Any) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, getattr(errors, parent))
    assert issubclass(cls, BaseRuntimeError)
    e = make(cls)
    assert e.kind == kind
    assert str(e) == "something failed"
    assert e.message == "something failed"
    assert isinstance(e.code, str) and e.code
    if code is not None:
        assert e.code == code


@pytest.mark.parametrize("cls", [RuntimeUserError, RuntimeSystemError, RuntimeUnknownError, CustomError])
def test_code_message_worker_shape(cls: type[BaseRuntimeError]) -> None:
    e = cls("Code", "message", "worker-3")  # type: ignore[call-arg]
    assert (e.code, str(e), e.worker) == ("Code", "message", "worker-3")
    e2 = cls(code="Code", message="message")  # type: ignore[call-arg]
    assert e2.worker is None


def test_timeout_error_takes_message_and_code() -> None:
    e = errors.TaskTimeoutError("too slow", code="Custom")
    assert (str(e), e.code) == ("too slow", "Custom")


def test_non_recoverable_error_shape() -> None:
    e = errors.NonRecoverableError("stop now")
    assert (str(e), e.code) == ("stop now", "NonRecoverableError")
    assert errors.NonRecoverableError("x", code="Mine").code == "Mine"


def test_initialization_error() -> None:
    e = SPECIAL["InitializationError"]()
    assert isinstance(e, BaseRuntimeError)
    assert not isinstance(e, RuntimeUserError)
    assert (e.code, e.kind, str(e)) == ("NoClient", "user", "call roost.init() first")


def test_gpu_fault_error_is_a_base_runtime_error() -> None:
    e = SPECIAL["GPUFaultError"]()
    assert (e.code, e.kind) == ("GpuXid", "system")
    assert isinstance(errors.GPUFaultUserError("G", "m"), RuntimeUserError)
    assert isinstance(errors.GPUFaultSystemError("G", "m"), RuntimeSystemError)


def test_logs_not_yet_available_is_system_kind() -> None:
    e = errors.LogsNotYetAvailableError("later")
    assert e.kind == "system"
    assert not isinstance(e, RuntimeUserError)


def test_runtime_data_validation_error() -> None:
    e = errors.RuntimeDataValidationError("x", ValueError("bad int"), task_name="train")
    assert isinstance(e, RuntimeUserError)
    assert e.code == "DataValidationError"
    assert (e.var, e.task_name) == ("x", "train")
    assert "'x'" in str(e) and "bad int" in str(e) and "train" in str(e)
    assert errors.RuntimeDataValidationError("y", "oops").code == "DataValidationError"


def test_invalid_package_error() -> None:
    cause = ValueError("no such package")
    e = errors.InvalidPackageError("numpyy", cause)
    assert isinstance(e, RuntimeUserError)
    assert (e.package_name, e.original_error) == ("numpyy", cause)
    assert "numpyy" in str(e)


def test_custom_error_from_exception() -> None:
    original = KeyError("missing")
    e = CustomError.from_exception(original)
    assert isinstance(e, CustomError)
    assert e.code == "KeyError"
    assert str(e) == str(original)
    assert e.__cause__ is original


def test_action_not_found_is_a_plain_runtime_error() -> None:
    assert issubclass(errors.ActionNotFoundError, RuntimeError)
    assert not issubclass(errors.ActionNotFoundError, BaseRuntimeError)


# --- arithmetic operators re-raise the error ----------------------------------------------------------

OPERATIONS: dict[str, Callable[[Any], Any]] = {
    "sum": lambda e: sum([1, e]),
    "e + 1": lambda e: e + 1,
    "1 + e": lambda e: 1 + e,
    "e - 1": lambda e: e - 1,
    "1 - e": lambda e: 1 - e,
    "e * 2": lambda e: e * 2,
    "2 * e": lambda e: 2 * e,
    "e / 2": lambda e: e / 2,
    "2 / e": lambda e: 2 / e,
    "e // 2": lambda e: e // 2,
    "2 // e": lambda e: 2 // e,
    "1.5 + e": lambda e: 1.5 + e,
}


@pytest.mark.parametrize("error", all_instances(), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_arithmetic_reraises_the_error_itself(error: BaseRuntimeError, op: str) -> None:
    with pytest.raises(type(error)) as info:
        OPERATIONS[op](error)
    assert info.value is error


def test_in_place_add_reraises() -> None:
    e = RuntimeUserError("ValueError", "bad")
    total = 0
    with pytest.raises(RuntimeUserError) as info:
        total += e  # type: ignore[operator]
    assert info.value is e


# --- error_class_for: mapping a failure code back to a class -------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind", "expected"),
    [
        ("MaxRuntimeExceeded", "user", "MaxRuntimeExceededError"),
        ("MaxQueuedTimeExceeded", "user", "MaxQueuedTimeExceededError"),
        ("DeadlineExceeded", "user", "DeadlineExceededError"),
        ("TaskTimeoutError", "user", "TaskTimeoutError"),
        ("GpuXidError", "user", "GPUFaultUserError"),
        ("GpuXidError", "system", "GPUFaultSystemError"),
        ("OOMKilled", "user", "OOMError"),
        ("OOMKilled", "system", "OOMError"),
        ("oom", "user", "OOMError"),
        ("RoomError", "user", "OOMError"),  # case-insensitive containment, as the SPEC notes
        ("BloomFilterError", "user", "OOMError"),
        ("Interrupted", "user", "TaskInterruptedError"),
        ("TaskInterruptedByPreemption", "system", "TaskInterruptedError"),
        ("interrupted", "user", "RuntimeUserError"),  # case-sensitive
        ("PrimaryContainerNotFound", "user", "PrimaryContainerNotFoundError"),
        ("RetriesExhausted", "user", "RetriesExhaustedError"),
        ("InvalidImageName", "user", "InvalidImageNameError"),
        ("ImagePullBackOff", "user", "ImagePullBackOffError"),
        ("Unknown", "user", "RuntimeUnknownError"),
        ("Whatever", "unknown", "RuntimeUnknownError"),
        ("ValueError", "user", "RuntimeUserError"),
        ("ZeroDivisionError", "user", "RuntimeUserError"),
        ("BadContext", "system", "RuntimeSystemError"),
    ],
)
def test_error_class_for(code: str, kind: str, expected: str) -> None:
    assert error_class_for(code, kind) is getattr(errors, expected)  # type: ignore[arg-type]


def test_mapped_classes_accept_code_and_message() -> None:
    # Whatever error_class_for returns must be constructible as cls(code, message) by the runtime.
    for code, kind in [("OOMKilled", "user"), ("GpuXid", "system"), ("Interrupted", "user"), ("X", "system")]:
        cls = error_class_for(code, kind)  # type: ignore[arg-type]
        e = cls(code, "m")  # type: ignore[call-arg]
        assert (e.code, str(e)) == (code, "m")
    e = error_class_for("MaxRuntimeExceeded", "user")("ran too long")  # type: ignore[call-arg]
    assert e.code == "MaxRuntimeExceeded"


# --- user_error_from ----------------------------------------------------------------------------------


class Boom(Exception):
    def __init__(self, reason: str, status: int) -> None:
        super().__init__(f"boom: {reason}")
        self.status = status


class Unsubclassable(Exception):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("final")


def test_user_error_from_keeps_code_message_and_original_class() -> None:
    e = user_error_from(ValueError("bad value"))
    assert isinstance(e, RuntimeUserError)
    assert isinstance(e, ValueError)
    assert (e.code, e.kind, str(e)) == ("ValueError", "user", "bad value")


def test_except_original_class_catches_it() -> None:
    with pytest.raises(ZeroDivisionError):
        raise user_error_from(ZeroDivisionError("division by zero"))
    with pytest.raises(RuntimeUserError):
        raise user_error_from(ZeroDivisionError("division by zero"))


def test_user_attributes_copied() -> None:
    e = user_error_from(Boom("disk", 507))
    assert isinstance(e, Boom)
    assert e.status == 507  # type: ignore[attr-defined]
    assert (e.code, str(e)) == ("Boom", "boom: disk")


def test_user_error_from_builtins_with_special_layout() -> None:
    os_err = user_error_from(FileNotFoundError(2, "No such file", "/x"))
    assert isinstance(os_err, FileNotFoundError)
    assert os_err.code == "FileNotFoundError"
    key_err = user_error_from(KeyError("k"))
    assert isinstance(key_err, KeyError)
    assert str(key_err) == "'k'"
    exit_err = user_error_from(StopIteration(3))
    assert isinstance(exit_err, StopIteration)


def test_user_error_from_unsubclassable_class() -> None:
    e = user_error_from(Unsubclassable("no"))
    assert type(e) is RuntimeUserError
    assert (e.code, str(e)) == ("Unsubclassable", "no")


def test_same_original_class_same_combined_class() -> None:
    assert type(user_error_from(ValueError("a"))) is type(user_error_from(ValueError("b")))


@pytest.mark.parametrize("error", all_instances(), ids=lambda e: type(e).__name__)
def test_runtime_errors_pass_through_unchanged(error: BaseRuntimeError) -> None:
    assert user_error_from(error) is error


def test_traceback_text_and_worker() -> None:
    e = user_error_from(ValueError("x"), traceback_text="Traceback ...", worker="w2")
    assert e.traceback_text == "Traceback ..."  # type: ignore[attr-defined]
    assert e.worker == "w2"


def test_combined_error_still_reraises_from_arithmetic() -> None:
    e = user_error_from(ValueError("bad"))
    with pytest.raises(ValueError) as info:
        sum([1, e])
    assert info.value is e


# --- errors cross process boundaries: pickle and copy ----------------------------------------------------


def assert_same_error(a: BaseException, b: BaseException) -> None:
    assert type(a) is type(b)
    assert str(a) == str(b)
    assert a.args == b.args
    assert vars(a) == vars(b)


@pytest.mark.parametrize("error", all_instances(), ids=lambda e: type(e).__name__)
def test_pickle_round_trip(error: BaseRuntimeError) -> None:
    assert_same_error(pickle.loads(pickle.dumps(error)), error)
    assert_same_error(copy.copy(error), error)


@pytest.mark.parametrize("original", [ValueError("bad"), Boom("disk", 507), KeyError("k"), FileNotFoundError(2, "nf")])
def test_pickle_round_trip_of_combined_errors(original: BaseException) -> None:
    e = user_error_from(original, traceback_text="tb", worker="w")
    back = pickle.loads(pickle.dumps(e))
    assert_same_error(back, e)
    assert isinstance(back, type(original))
    assert isinstance(back, RuntimeUserError)
    assert back.code == type(original).__name__
