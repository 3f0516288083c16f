"""Every exception roost raises on purpose, in one place (``roost.errors`` is ``flyte.errors``).

Hierarchy::

    RuntimeError
    ├── BaseRuntimeError                 code, kind ("system" | "user" | "unknown"), worker
    │   ├── InitializationError          an API that needs init() was used without it
    │   ├── LogsNotYetAvailableError
    │   ├── RuntimeSystemError           the platform (roost itself) failed
    │   │   ├── UnionRpcError
    │   │   └── StoreError               (roost) the run store is corrupt, locked or unwritable
    │   ├── RuntimeUnknownError
    │   ├── GPUFaultError                ├── GPUFaultUserError, GPUFaultSystemError (codes: GPU_FAULT_CODES)
    │   └── RuntimeUserError             user code or user configuration failed
    │       ├── CustomError              wraps an arbitrary user exception (code = its class name)
    │       ├── OOMError, TaskInterruptedError, PrimaryContainerNotFoundError
    │       ├── TaskTimeoutError         ├── MaxRuntimeExceededError, MaxQueuedTimeExceededError,
    │       │                            │   DeadlineExceededError
    │       ├── RetriesExhaustedError, NonRecoverableError, ActionAbortedError
    │       ├── RuntimeDataValidationError, InlineIOMaxBytesBreached, RestrictedTypeError
    │       ├── DeploymentError, ImageBuildError, ModuleLoadError, CodeBundleError, InvalidPackageError
    │       ├── SyncTaskCallInAsyncContextError, TraceDoesNotAllowNestedTasksError, ...
    │       ├── AppleSiliconError        + one subclass per APPLE_SILICON_ERRORS_BY_CODE entry
    │       ├── WorkerCrashedError       (roost) the process running an action died
    │       └── SecretNotFoundError      (roost) a requested secret is in no store or environment
    └── ActionNotFoundError

Every ``BaseRuntimeError`` re-raises itself from arithmetic operators, so that ``sum(results)`` over
results of ``flyte.map(..., return_exceptions=True)`` surfaces the real failure instead of a
confusing ``TypeError: unsupported operand``.
"""

from __future__ import annotations

from typing import Any, Literal, NoReturn

ErrorKind = Literal["system", "user", "unknown"]


class BaseRuntimeError(RuntimeError):
    """Base of roost's runtime errors: a ``code`` naming what failed and the ``kind`` of failure."""

    def __init__(self, code: str, kind: ErrorKind, root_cause_message: str, worker: str | None = None):
        super().__init__(root_cause_message)
        self.code = code
        self.kind = kind
        self.worker = worker

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors travel between worker processes by pickle. The default reduce calls cls(*args), but
        # args is only (message,) while constructors differ per class (code+message, var+e, ...), so
        # rebuild without calling __init__. A combined class (see user_error_from) cannot be found by
        # name; it is rebuilt from the original exception class it was made for.
        original = _COMBINED_ORIGIN.get(type(self))
        return (_rebuild_error, (type(self) if original is None else None, original, self.args, self.__dict__))

    def _reraise(self, *_: Any) -> NoReturn:
        raise self

    __add__ = __radd__ = __sub__ = __rsub__ = _reraise
    __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _reraise
    __floordiv__ = __rfloordiv__ = _reraise


class InitializationError(BaseRuntimeError):
    """An API that needs ``roost.init()`` (or a client) was used without it."""

    def __init__(self, code: str, kind: ErrorKind = "user", root_cause_message: str = "", worker: str | None = None):
        super().__init__(code, kind, root_cause_message or code, worker)


class RuntimeSystemError(BaseRuntimeError):
    def __init__(self, code: str, message: str, worker: str | None = None):
        super().__init__(code, "system", message, worker)


class UnionRpcError(RuntimeSystemError):
    pass


class StoreError(RuntimeSystemError):
    """(roost) The run store could not be read or written: corrupt, locked, or on a full disk."""

    def __init__(self, message: str, worker: str | None = None):
        super().__init__("StoreError", message, worker)


class RuntimeUnknownError(BaseRuntimeError):
    def __init__(self, code: str, message: str, worker: str | None = None):
        super().__init__(code, "unknown", message, worker)


class RuntimeUserError(BaseRuntimeError):
    def __init__(self, code: str, message: str, worker: str | None = None):
        super().__init__(code, "user", message, worker)


class LogsNotYetAvailableError(BaseRuntimeError):
    def __init__(self, message: str):
        super().__init__("LogsNotYetAvailable", "system", message)


class _UserMessageError(RuntimeUserError):
    """A user-kind error built from a message alone; its code is its class name unless overridden."""

    default_code: str = ""

    def __init__(self, message: str, code: str | None = None, worker: str | None = None):
        super().__init__(code or self.default_code or type(self).__name__, message, worker)


class OOMError(RuntimeUserError):
    pass


# The codes a platform gives a failure it attributed to a GPU or NVSwitch fault (Flyte's list).
GPU_FAULT_CODES: tuple[str, ...] = (
    "GpuXidError",
    "GpuFallenOffBus",
    "GpuEccUncorrectable",
    "GpuRowRemapPending",
    "GpuNvlinkError",
    "GpuGspError",
)


class GPUFaultError(BaseRuntimeError):
    """A GPU fault; the fault's facts, where the platform gave them, are attributes (each may be None).

    roost itself observes no GPU health daemon, so it raises these only for a failure recorded with a
    GPU fault code; the class exists so that programs catching it run unchanged.
    """

    def __init__(
        self,
        code: str,
        kind: ErrorKind,
        message: str,
        worker: str | None = None,
        *,
        fault_kind: str | None = None,
        fault_code: int | None = None,
        fault_name: str | None = None,
        severity: str | None = None,
        gpu_uuid: str | None = None,
        gpu_index: int | None = None,
        node: str | None = None,
        pci_bus_id: str | None = None,
        process: str | None = None,
    ):
        # Named rather than super(): the concrete classes also derive from RuntimeUserError /
        # RuntimeSystemError, whose initialisers take the kind as fixed.
        BaseRuntimeError.__init__(self, code, kind, message, worker)
        self.fault_kind = fault_kind
        self.fault_code = fault_code
        self.fault_name = fault_name
        self.severity = severity
        self.gpu_uuid = gpu_uuid
        self.gpu_index = gpu_index
        self.node = node
        self.pci_bus_id = pci_bus_id
        self.process = process

    @property
    def xid(self) -> int | None:
        """The NVIDIA Xid number (None for an NVSwitch SXid or an unknown number)."""
        return self.fault_code if self.fault_kind == "xid" else None

    @property
    def sxid(self) -> int | None:
        """The NVSwitch SXid number (None for a GPU Xid or an unknown number)."""
        return self.fault_code if self.fault_kind == "sxid" else None


class GPUFaultUserError(GPUFaultError, RuntimeUserError):
    def __init__(self, code: str, message: str, worker: str | None = None, **fault: Any):
        GPUFaultError.__init__(self, code, "user", message, worker, **fault)


class GPUFaultSystemError(GPUFaultError, RuntimeSystemError):
    def __init__(self, code: str, message: str, worker: str | None = None, **fault: Any):
        GPUFaultError.__init__(self, code, "system", message, worker, **fault)


class TaskInterruptedError(RuntimeUserError):
    pass


class PrimaryContainerNotFoundError(RuntimeUserError):
    pass


class TaskTimeoutError(_UserMessageError):
    """A bound of the task's ``Timeout`` fired."""

    default_code = "TaskTimeoutError"


class MaxRuntimeExceededError(TaskTimeoutError):
    default_code = "MaxRuntimeExceeded"


class MaxQueuedTimeExceededError(TaskTimeoutError):
    default_code = "MaxQueuedTimeExceeded"


class DeadlineExceededError(TaskTimeoutError):
    default_code = "DeadlineExceeded"


class RetriesExhaustedError(RuntimeUserError):
    pass


class InvalidImageNameError(RuntimeUserError):
    pass


class ImagePullBackOffError(RuntimeUserError):
    pass


class CustomError(RuntimeUserError):
    """A user exception, carried by class name (``code``) and message."""

    def __init__(self, code: str, message: str, worker: str | None = None):
        super().__init__(code, message, worker)

    @classmethod
    def from_exception(cls, e: BaseException) -> CustomError:
        new = cls(type(e).__name__, str(e))
        new.__cause__ = e
        return new


class NotInTaskContextError(RuntimeUserError):
    pass


class ActionNotFoundError(RuntimeError):
    pass


class RemoteTaskNotFoundError(_UserMessageError):
    pass


class RemoteTaskUsageError(_UserMessageError):
    pass


class RuntimeDataValidationError(RuntimeUserError):
    """A value could not be converted to or from the declared type of an input or output."""

    def __init__(self, var: str, e: BaseException | str, task_name: str = ""):
        where = f" of task {task_name}" if task_name else ""
        super().__init__("DataValidationError", f"Failed to convert '{var}'{where}: {e}")
        self.var = var
        self.task_name = task_name


class DeploymentError(_UserMessageError):
    pass


class ImageBuildError(_UserMessageError):
    pass


class ModuleLoadError(_UserMessageError):
    pass


class CodeBundleError(_UserMessageError):
    pass


class InlineIOMaxBytesBreached(_UserMessageError):
    pass


class ActionAbortedError(_UserMessageError):
    pass


class SlowDownError(_UserMessageError):
    pass


class ResourceExhaustedError(SlowDownError):
    """Throttling by a resource quota; a kind of SlowDownError (Flyte 2 makes it both)."""


class OnlyAsyncIOSupportedError(_UserMessageError):
    pass


class ParameterMaterializationError(_UserMessageError):
    pass


class RestrictedTypeError(_UserMessageError):
    default_code = "RestrictedTypeUsage"


class SyncTaskCallInAsyncContextError(_UserMessageError):
    pass


class TraceDoesNotAllowNestedTasksError(_UserMessageError):
    pass


class InvalidPackageError(RuntimeUserError):
    def __init__(self, package_name: str, original_error: BaseException | str):
        super().__init__("InvalidPackage", f"Invalid package {package_name!r}: {original_error}")
        self.package_name = package_name
        self.original_error = original_error


class NonRecoverableError(_UserMessageError):
    """Raise it from a task to fail at once, whatever retries remain."""

    default_code = "NonRecoverableError"


class ConditionTimedoutError(_UserMessageError):
    pass


class ConditionAlreadyExistsError(_UserMessageError):
    pass


class ConditionFailedError(_UserMessageError):
    pass


class ConditionNotFoundError(_UserMessageError):
    pass


class AppleSiliconError(RuntimeUserError):
    """The Apple Silicon accelerator (``Resources(gpu="AppleSilicon")``) failed; the subclass says why.

    ``code_name`` is the failure's code; ``recoverable`` whether a retry can help.
    """

    code_name = "APPLE_SILICON_ERROR"
    recoverable = True

    def __init__(self, message: str, worker: str | None = None):
        super().__init__(self.code_name, message, worker)


class AppleSiliconNotAvailableError(AppleSiliconError):
    code_name = "APPLE_SILICON_NOT_AVAILABLE"
    recoverable = False


class AppleSiliconHostExecFailedError(AppleSiliconError):
    code_name = "APPLE_SILICON_HOST_EXEC_FAILED"
    recoverable = False


class AppleSiliconDaemonStartFailedError(AppleSiliconError):
    code_name = "APPLE_SILICON_DAEMON_START_FAILED"
    recoverable = False


class AppleSiliconDaemonOOMError(AppleSiliconError):
    code_name = "APPLE_SILICON_DAEMON_OOM"


class AppleSiliconModelNotFoundError(AppleSiliconError):
    code_name = "APPLE_SILICON_MODEL_NOT_FOUND"
    recoverable = False


class AppleSiliconBridgeUnreachableError(AppleSiliconError):
    code_name = "APPLE_SILICON_BRIDGE_UNREACHABLE"


APPLE_SILICON_ERRORS_BY_CODE: dict[str, type[AppleSiliconError]] = {
    cls.code_name: cls
    for cls in (
        AppleSiliconNotAvailableError,
        AppleSiliconHostExecFailedError,
        AppleSiliconDaemonStartFailedError,
        AppleSiliconDaemonOOMError,
        AppleSiliconModelNotFoundError,
        AppleSiliconBridgeUnreachableError,
    )
}


class WorkerCrashedError(_UserMessageError):
    """(roost) The process that ran an action exited before reporting a result."""


class SecretNotFoundError(_UserMessageError):
    """(roost) A secret an action asks for is neither in the secret store nor in the environment.

    ``key`` and ``group`` name the secret; the message says how to create it and never holds a value.
    """

    default_code = "SecretNotFound"

    def __init__(
        self,
        message: str,
        code: str | None = None,
        worker: str | None = None,
        *,
        key: str = "",
        group: str | None = None,
    ):
        super().__init__(message, code, worker)
        self.key = key
        self.group = group


_EXACT_CODES: dict[str, type[BaseRuntimeError]] = {
    "MaxRuntimeExceeded": MaxRuntimeExceededError,
    "MaxQueuedTimeExceeded": MaxQueuedTimeExceededError,
    "DeadlineExceeded": DeadlineExceededError,
    "TaskTimeoutError": TaskTimeoutError,
    "PrimaryContainerNotFound": PrimaryContainerNotFoundError,
    "RetriesExhausted": RetriesExhaustedError,
    "InvalidImageName": InvalidImageNameError,
    "ImagePullBackOff": ImagePullBackOffError,
}


def error_class_for(code: str, kind: ErrorKind) -> type[BaseRuntimeError]:
    """The class a failure with this code and kind surfaces as in the caller (Flyte 2's mapping)."""
    if code in _EXACT_CODES:
        return _EXACT_CODES[code]
    if code.startswith("Gpu") or code.startswith("GPU"):
        return GPUFaultSystemError if kind == "system" else GPUFaultUserError
    if "oom" in code.lower():
        return OOMError
    if "Interrupted" in code:
        return TaskInterruptedError
    if code == "Unknown" or kind == "unknown":
        return RuntimeUnknownError
    if kind == "system":
        return RuntimeSystemError
    return RuntimeUserError


# One combined class per original exception class, made on first use, and the way back for pickling.
_COMBINED: dict[type, type[RuntimeUserError]] = {}
_COMBINED_ORIGIN: dict[type, type[BaseException]] = {}


def _user_base(original: type[BaseException]) -> type[RuntimeUserError]:
    """The roost class a user exception maps to by its name (``RoomError`` -> ``OOMError``, as Flyte 2 does)."""
    base = error_class_for(original.__name__, "user")
    return base if issubclass(base, RuntimeUserError) else RuntimeUserError


def _combined_class(original: type[BaseException]) -> type[RuntimeUserError] | None:
    if not issubclass(original, Exception):
        # An error that were also a SystemExit or KeyboardInterrupt would end the event loop or the
        # process that receives it, instead of failing one action.
        return None
    if original in _COMBINED:
        return _COMBINED[original]
    base = _user_base(original)
    try:
        combined = type(
            f"{base.__name__}[{original.__name__}]",
            (base, original),
            {"__module__": __name__, "__init__": RuntimeUserError.__init__, "__str__": BaseException.__str__},
        )
    except TypeError:
        # Some classes cannot be combined (a final class, or an incompatible C layout such as OSError).
        combined = None
    else:
        _COMBINED_ORIGIN[combined] = original
    _COMBINED[original] = combined  # type: ignore[assignment]
    return combined


def _rebuild_error(
    cls: type[BaseRuntimeError] | None,
    original: type[BaseException] | None,
    args: tuple[Any, ...],
    state: dict[str, Any],
) -> BaseRuntimeError:
    """Unpickle a runtime error without calling its constructor (see BaseRuntimeError.__reduce__)."""
    allocate: type[BaseException]
    if original is not None:
        combined = _combined_class(original)
        cls, allocate = (combined, original) if combined is not None else (RuntimeUserError, RuntimeUserError)
    else:
        assert cls is not None
        allocate = cls
    # __new__ of the original class knows its C layout (OSError and friends), as in user_error_from.
    err = allocate.__new__(cls)  # type: ignore[arg-type, call-overload]
    err.args = args
    err.__dict__.update(state)
    return err  # type: ignore[no-any-return]


def escaped_task(exc: BaseException) -> bool:
    """True for what task code raised that is no ``Exception`` and not the runtime's own cancellation
    (``SystemExit``, ``KeyboardInterrupt``, a ``BaseException`` subclass): it must fail that action as
    an error does, not unwind the controller's event loop. Ctrl-C of the launching process reaches its
    main thread, never a task's, so it is not one of these."""
    # GeneratorExit is how Python closes a coroutine: machinery too.
    import asyncio  # here, not at the top: importing roost's declarations must stay cheap

    return not isinstance(exc, (Exception, asyncio.CancelledError, GeneratorExit))


def user_error_from(
    exc: BaseException, traceback_text: str | None = None, worker: str | None = None
) -> BaseRuntimeError:
    """The error a task's caller sees for an exception raised in the task.

    roost's runtime errors pass through unchanged. Anything else becomes a ``RuntimeUserError`` (or
    the subclass its class name maps to, such as ``OOMError``) whose ``code`` is the original class
    name, as on the platform -- and, where that class can be
    subclassed, the error is *also* an instance of it, so ``except ValueError`` in a parent still
    catches a child's ``ValueError``. The original traceback text travels in ``traceback_text``.
    """
    if isinstance(exc, BaseRuntimeError):
        return exc
    cls = type(exc)
    message = str(exc)
    if not issubclass(cls, Exception):
        # sys.exit() in a task says "3", not what happened.
        message = f"the task raised {cls.__name__}" + (f": {message}" if message else "")
    combined = _combined_class(cls)
    base = _user_base(cls)
    err: RuntimeUserError = base.__new__(base)
    if combined is not None:
        try:
            # The original class's constructor may need arguments we do not have; allocate through its
            # __new__ (which knows the C layout) and initialise as a roost error.
            err = cls.__new__(combined)
        except TypeError:
            pass
        else:
            err.__dict__.update(getattr(exc, "__dict__", {}))
    BaseRuntimeError.__init__(err, cls.__name__, "user", message, worker)
    err.traceback_text = traceback_text  # type: ignore[attr-defined]
    err.original_type = f"{cls.__module__}.{cls.__qualname__}"  # type: ignore[attr-defined]
    return err
