"""The messages that cross a process or node boundary, and their one codec (msgpack).

Everything the controller, its worker processes, the worker template and Ray workers say to each
other is one of the types below -- the same types whatever carries them (a socket frame here, a Ray
task's argument or reply there, an HTTP body later). They say what happens, never how it travels.

    controller -> worker     Setup, RunRequest, CallReply, Shutdown
    worker -> controller     LogLine, CallRequest, ActionDone, ActionFailed, TraceBegin, TraceEnd
    controller -> template   Fork
    template -> controller   Ready, Forked, Exited
    controller -> Ray        RayRun (a RunRequest with its Setup), replied to with RayReply
    client -> server         SubmitRun (the body of POST /api/v1/runs), answered with RunAccepted
    server -> bundle host    SubmitRun, answered with RunAccepted or RunRefused; RunEnded when it ends;
                             StartApp (an app's replica), answered the same way
    hybrid client <-> host   RunMessages: the worker messages of a root action that runs in the
                             client (RunRequest, CallReply, Shutdown one way; CallRequest, LogLine,
                             TraceBegin/End, ActionDone / ActionFailed the other), through the server

A frame's body is a msgpack array: the message's kind number, then its fields in order; a message
nested in another (an error, a secret, a task reference) is such an array in its field. A body
that is not such an array -- bad msgpack, an unknown kind, a wrong number of fields -- is a
``ProtocolError``, never a hang.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

import msgpack

M = TypeVar("M", bound="Message")


class ProtocolError(Exception):
    """A frame that is not one of the messages: the connection it came on cannot be trusted further."""


class Message:
    """Base of every message; ``kind`` is its number on the wire (set by ``_register``).

    A message class declares its fields as annotations, with defaults as a dataclass would
    (``dataclasses.field(default_factory=...)`` too); ``@message`` makes them slots and ``_register``
    writes every class's ``__init__`` in one go. Equality and repr are written once here, from the
    fields the codec reads. (``@dataclass`` would generate and compile each class's methods one class
    at a time: milliseconds of every process's start.)
    """

    __slots__ = ()
    kind: ClassVar[int] = -1
    field_names: ClassVar[tuple[str, ...]] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        values = _GETTERS[self.kind]
        return values(self) == values(other)  # type: ignore[no-any-return]

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass that compares its fields

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(_NAMES[self.kind], _GETTERS[self.kind](self)))
        return f"{type(self).__name__}({shown})"


_REQUIRED = object()  # a field without a default
_FACTORY = object()  # the default of a field whose default is made per message
# class -> its fields: (name, annotation, default or _REQUIRED, default factory or None)
_DECLARED: dict[type[Message], tuple[tuple[str, str, Any, Any], ...]] = {}


def message(cls: type[M]) -> type[M]:
    """A message class: its annotated fields become its slots, in order; its ``__init__`` takes them by
    position or name, as a dataclass's would (made by ``_register``)."""
    if cls.__bases__ != (Message,):
        raise TypeError(f"{cls.__name__}: a message derives from Message alone")
    # The class's own annotations, as strings (this module postpones them); inspect is not imported for it.
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    declared = []
    for name, annotation in annotations.items():
        default, factory = cls.__dict__.get(name, _REQUIRED), None
        if isinstance(default, dataclasses.Field):
            default, factory = _FACTORY, default.default_factory
        elif type(default) in (list, dict, set):  # one object shared by every message: refused, as @dataclass does
            raise TypeError(f"{cls.__name__}.{name}: a mutable default needs dataclasses.field(default_factory=...)")
        if default is _REQUIRED and declared and declared[-1][2] is not _REQUIRED:
            raise TypeError(f"{cls.__name__}.{name}: a field without a default follows one with a default")
        declared.append((name, str(annotation), default, factory))
    namespace = {k: v for k, v in cls.__dict__.items() if k not in annotations and k not in ("__dict__", "__weakref__")}
    namespace["__slots__"] = tuple(annotations)
    namespace["field_names"] = tuple(annotations)
    made = type(cls.__name__, (Message,), namespace)
    _DECLARED[made] = tuple(declared)
    return made  # type: ignore[return-value]


def _write_inits(classes: tuple[type[Message], ...]) -> None:
    """Every message's ``__init__``, compiled together: one ``exec`` for all of them."""
    source: list[str] = []
    scope: dict[str, Any] = {"_FACTORY": _FACTORY}
    for number, cls in enumerate(classes):
        declared = _DECLARED[cls]
        if not declared:
            continue
        params, body = [], []
        for index, (name, _, default, factory) in enumerate(declared):
            if default is _REQUIRED:
                params.append(name)
            else:
                scope[f"_d{number}_{index}"] = default
                params.append(f"{name}=_d{number}_{index}")
            if factory is not None:
                scope[f"_f{number}_{index}"] = factory
                body.append(f"    self.{name} = _f{number}_{index}() if {name} is _FACTORY else {name}")
            else:
                body.append(f"    self.{name} = {name}")
        source.append(f"def _init{number}(self, {', '.join(params)}):\n" + "\n".join(body))
    exec(compile("\n".join(source), __name__ + " (message __init__s)", "exec"), scope)
    for number, cls in enumerate(classes):
        init = scope.get(f"_init{number}")
        if init is not None:
            init.__qualname__ = f"{cls.__name__}.__init__"
            cls.__init__ = init  # type: ignore[misc]


def replace(message: M, **changes: Any) -> M:
    """A copy of ``message`` with ``changes`` to its fields."""
    unknown = set(changes) - set(message.field_names)
    if unknown:
        raise TypeError(f"{type(message).__name__} has no field {', '.join(sorted(unknown))}")
    return type(message)(**{name: changes.get(name, getattr(message, name)) for name in message.field_names})


# -- values carried inside messages ----------------------------------------------------------------------
@message
class WireError(Message):
    """An error raised on the other side: what can be shown, and the exception itself when it pickles."""

    code: str
    kind_name: str  # "user" / "system" (BaseRuntimeError.kind)
    message: str
    traceback: str | None = None
    pickle: bytes | None = None


@message
class TaskRef(Message):
    """A task as the other side finds it: by module and name, or (a task no module defines under its
    name: an override, a task made in a function) pickled."""

    module: str | None = None
    name: str | None = None
    pickle: bytes | None = None
    # ``role``, for a call of no task of the caller's code: "deployed" -- a task deployed on the server
    # (``flyte.remote.Task.get``) by ``name`` and ``version`` (None: the newest), its inputs plain values;
    # "condition" / "condition_wait" -- registering / waiting on the condition ``name`` (``new_condition``).
    version: str | None = None
    role: str | None = None


@message
class ActionContext(Message):
    """What a worker needs to rebuild an action's ``ctx()``; ``run`` is ``RunFacts.to_wire()`` (an
    array of the run's facts, its name first)."""

    id: str
    attempt: int
    custom: dict[str, str]
    version: str
    run: list[Any]


@message
class SecretGrant(Message):
    """A secret an action was granted, resolved when it starts. Only ever sent over private channels:
    never stored, logged or shown."""

    key: str
    env: str | None
    mount: bool
    value: str
    fallback_dir: str
    group: str | None = None

    def __repr__(self) -> str:  # a message printed while debugging must not show the value
        return f"SecretGrant(key={self.key!r}, group={self.group!r}, env={self.env!r}, mount={self.mount!r}, value=***)"


@message
class StoreLocation(Message):
    """The run's store as a worker opens it: ROOST_HOME and the blob store's URL."""

    home: str
    raw_data_url: str


# -- controller <-> worker -------------------------------------------------------------------------------
@message
class Setup(Message):
    """What a worker applies to its process before it runs any action: variables (set, and those of
    secrets it was not granted removed), secrets, limits, the run's store; Ray workers also add the
    driver's folders of user code to their path."""

    env: dict[str, str]
    unset: list[str]
    secrets: list[SecretGrant]
    limits: dict[str, Any]
    store: StoreLocation | None = None
    code_paths: list[str] = dataclasses.field(default_factory=list)


@message
class RunRequest(Message):
    """Run one attempt of an action: its task, its packed inputs, its context; ``replay`` holds the
    traced calls a recovered run already finished (action id -> [helper name, packed outputs])."""

    id: str
    task: TaskRef
    inputs: bytes
    context: ActionContext
    replay: dict[str, Any] | None = None


@message
class CallRequest(Message):
    """A task called by an action's code: a child action of ``parent`` for the controller to run.
    ``call`` numbers it in its caller; ``attempt`` is the caller's (a reply to an ended attempt is
    refused)."""

    call: Any
    parent: str
    action_id: str
    task: TaskRef
    inputs: bytes
    hash: str
    group: str | None
    custom: dict[str, str]
    attempt: int = 0


@message
class CallReply(Message):
    """How a child action ended: its packed outputs, or its error."""

    call: Any
    outputs: bytes | None = None
    error: WireError | None = None


@message
class Shutdown(Message):
    """Exit once nothing runs (controller -> worker or template)."""


@message
class LogLine(Message):
    """A line of an action's output (stdout, stderr or a logging record)."""

    id: str
    attempt: int
    ts: float
    stream: str
    line: str


@message
class ActionDone(Message):
    id: str
    outputs: bytes


@message
class ActionFailed(Message):
    id: str
    error: WireError


@message
class TraceBegin(Message):
    """A ``@flyte.trace`` call starting in an action's code (recorded as a child of ``parent``)."""

    parent: str
    action_id: str
    name: str
    short_name: str
    group: str | None
    inputs: bytes | None
    hash: str


@message
class TraceEnd(Message):
    """A traced call ending: its packed outputs (None for a generator, or on error), or its error."""

    parent: str
    action_id: str
    outputs: bytes | None
    error: WireError | None


# -- controller <-> template -----------------------------------------------------------------------------
@message
class Fork(Message):
    """Import these modules (once), then fork a worker; ``limits`` ({"memory": bytes, "cpu":
    millicores}) become its cgroup where one can be made."""

    id: int
    preload: list[str]
    limits: dict[str, int | None] | None


@message
class Ready(Message):
    pid: int
    python: str


@message
class Forked(Message):
    """The worker of request ``id`` (its socket travels beside this message), or why there is none."""

    id: int
    pid: int | None = None
    cgroup: dict[str, str] | None = None
    error: str | None = None


@message
class Exited(Message):
    """A worker ended: its exit code, or -signal; ``oom``: the kernel killed it at its memory limit."""

    pid: int
    status: int
    oom: bool = False


# -- controller <-> Ray ------------------------------------------------------------------------------------
@message
class RayRun(Message):
    """One attempt in a Ray task or on a replica actor: the request, what to apply around it, the
    driver's host (a file:// store is only visible there) and the name of the run's call broker."""

    request: RunRequest
    setup: Setup
    driver_host: str
    broker: str


@message
class RayReply(Message):
    """How an attempt in Ray ended, with what it said meanwhile: its output lines, its traced calls,
    where it ran."""

    outputs: bytes | None
    error: WireError | None
    logs: list[LogLine]
    traces: list[TraceBegin | TraceEnd]
    node: str


# -- client -> server -> bundle host ----------------------------------------------------------------------
@message
class SubmitRun(Message):
    """A run of ``task`` (in ``module``: a dotted name, or a script's path inside the bundle) from the
    code bundle ``bundle`` (its digest; None: code the server can import already), with its packed
    inputs. ``options`` are the with_runcontext settings the controller applies (``RunOptions``
    fields); ``name`` is the run's name (given by the client, else chosen by the server)."""

    name: str | None
    bundle: str | None
    module: str
    task: str
    inputs: bytes
    inputs_hash: str
    options: dict[str, Any]
    version: str | None = None
    resume: bool = False  # server -> host: the run exists, its host died; resume it (never from a client)
    # A client without the task's code (a deployed task, called by name) sends its inputs as plain
    # values (msgpack of name -> value) for the host to convert to the declared types; ``inputs`` is empty.
    values: bytes | None = None
    # server -> host: the trigger that fired this run ("TASK/TRIGGER"), recorded on it (never a client's)
    trigger: str | None = None
    # server -> host, a rerun (never a client's): the run it reruns, whether the actions that succeeded
    # there are reused (recover), and who asked (an API key's name, or "local"), recorded on the run.
    rerun_of: str | None = None
    recover: bool = False
    started_by: str | None = None


@message
class RunAccepted(Message):
    """The run is recorded under ``name`` and started; ``url`` is its page on the server."""

    name: str
    url: str = ""


@message
class RunRefused(Message):
    """The run could not start (its module failed to import, no such task, the name is taken)."""

    name: str
    error: WireError
    status: int = 400


@message
class RunEnded(Message):
    """A bundle host's run ended (the store has how): the server wakes the clients waiting on it."""

    name: str


@message
class RunMessages(Message):
    """Worker messages of the root action of a hybrid run (``mode="hybrid"`` on a server), which runs
    in the client: the client is that action's worker, reached through the server's API."""

    run: str
    messages: list[
        RunRequest | CallRequest | CallReply | LogLine | TraceBegin | TraceEnd | ActionDone | ActionFailed | Shutdown
    ]


# -- the codec ---------------------------------------------------------------------------------------------
# -- a deployed task called by a run's action: bundle host -> server -> the bundle host of its code ------
@message
class CallDeployed(Message):
    """Run the deployed ``task`` (``version``; None: the newest) as the child ``action_id`` of
    ``parent`` in ``run``, with plain input ``values``. The server fills ``bundle`` and ``module``
    (and ``version``) from its registry before it hands the call to the host of that bundle."""

    run: str
    parent: str
    action_id: str
    task: str
    version: str | None
    values: bytes
    group: str | None
    custom: dict[str, str]
    bundle: str | None = None
    module: str = ""


@message
class DeployedCallEnded(Message):
    """How a deployed task's action ended: its packed outputs, or its error."""

    run: str
    action_id: str
    outputs: bytes | None = None
    error: WireError | None = None


# -- a deployment's images, built before its tasks are registered: server -> bundle host -> server ------
@message
class BuildImages(Message):
    """Build the images of these tasks (module -> task names) as their runs will use them."""

    build: str
    modules: dict[str, list[str]]


@message
class ImagesBuilt(Message):
    """What ``BuildImages`` did, one line per image (``failed`` names those that did not build)."""

    build: str
    lines: list[str]
    failed: list[str]


# -- a replica of a server-managed app: server -> bundle host ---------------------------------------------
@message
class StartApp(Message):
    """Serve a replica of the app ``app`` that ``module`` (of the host's bundle) declares, as the run
    ``run``, on ``port`` (the server's choice, not the declared one). ``parameters`` are the values
    given when the app was served, as text: the host resolves the rest (run outputs, other apps'
    endpoints) from its store. Answered with ``RunAccepted(run)`` once the run is recorded, or
    ``RunRefused``; ``RunEnded(run)`` when the replica stops."""

    run: str
    module: str
    app: str
    port: int
    parameters: dict[str, str]
    env_vars: dict[str, str]


MESSAGES: tuple[type[Message], ...] = (
    WireError,
    TaskRef,
    ActionContext,
    SecretGrant,
    StoreLocation,
    Setup,
    RunRequest,
    CallRequest,
    CallReply,
    Shutdown,
    LogLine,
    ActionDone,
    ActionFailed,
    TraceBegin,
    TraceEnd,
    Fork,
    Ready,
    Forked,
    Exited,
    RayRun,
    RayReply,
    SubmitRun,
    RunAccepted,
    RunRefused,
    RunMessages,
    RunEnded,
    CallDeployed,
    DeployedCallEnded,
    BuildImages,
    ImagesBuilt,
    StartApp,
)
_GETTERS: dict[int, Any] = {}  # kind -> a function giving the fields' values as a tuple
_NAMES: dict[int, tuple[str, ...]] = {}  # kind -> the fields' names
# kind -> the class, its fields required and in all, and where in the message's array the fields
# holding messages are: (index, whether a list of them)
_SHAPES: dict[int, tuple[type[Message], int, int, tuple[tuple[int, bool], ...]]] = {}
# class -> a function giving the message's array as a tuple, its kind first, in one C call
_ARRAYS: dict[type[Message], Callable[[Any], tuple[Any, ...]]] = {}


def _getter(names: list[str]) -> Any:
    """A function giving a message's field values as a tuple (for two or more fields, attrgetter's own)."""
    if len(names) >= 2:
        return attrgetter(*names)
    return lambda message: tuple(getattr(message, name) for name in names)


def _register() -> None:
    _write_inits(MESSAGES)
    names = {cls.__name__ for cls in MESSAGES}
    for kind, cls in enumerate(MESSAGES):
        cls.kind = kind
        declared = _DECLARED[cls]
        required = sum(1 for _, _, default, _ in declared if default is _REQUIRED)
        _GETTERS[kind] = _getter(list(cls.field_names))
        _NAMES[kind] = cls.field_names
        nested = []
        for position, (_, annotation, _, _) in enumerate(declared, start=1):  # the array's first item is the kind
            words = set(annotation.replace("[", " ").replace("]", " ").replace("|", " ").split())
            if words & names:
                nested.append((position, annotation.startswith("list[")))
        _SHAPES[kind] = (cls, required, len(declared), tuple(nested))
        _ARRAYS[cls] = attrgetter("kind", *cls.field_names) if declared else _kind_only


def _kind_only(message: Message) -> tuple[int]:
    return (message.kind,)


_register()


# A message travels as an array: its kind, then its fields; a field that holds messages holds such
# arrays (which message a field holds is known from its type, so nothing else marks them).
def _as_array(value: Any) -> tuple[Any, ...]:
    """The packer's hook for what msgpack cannot pack itself: a message becomes its array, and the
    packer goes on into it (nested messages come back here) -- no tree of lists is built first."""
    to_array = _ARRAYS.get(type(value))
    if to_array is None:
        raise TypeError(f"can not serialize {type(value).__name__!r} object")
    return to_array(value)


def _build(items: Any) -> Message:
    if type(items) is list and items:
        kind = items[0]
        shape = _SHAPES.get(kind) if type(kind) is int else None
        if shape is not None:
            cls, required, most, nested = shape
            count = len(items) - 1
            if required <= count <= most:
                for index, many in nested:
                    if index <= count:
                        value = items[index]
                        if value is not None:
                            if not many:
                                items[index] = _build(value)
                            elif type(value) is list:
                                items[index] = [_build(v) for v in value]
                            else:
                                raise ProtocolError(f"{cls.__name__}: field {index - 1} must be an array of messages")
                return cls(*items[1:])
    raise _malformed(items)


def _malformed(items: Any) -> ProtocolError:
    """Why ``items`` is not a message (the slow path of ``_build``, taken only by a bad frame)."""
    if not isinstance(items, list) or not items:
        return ProtocolError(f"a message is a non-empty array, got {type(items).__name__}")
    kind = items[0]
    shape = _SHAPES.get(kind) if type(kind) is int else None
    if shape is None:
        return ProtocolError(f"unknown message kind {kind!r}")
    cls, required, most, _ = shape
    return ProtocolError(f"{cls.__name__} takes {required} to {most} fields, got {len(items) - 1}")


class _Packer(threading.local):
    """This thread's msgpack packer. Making one per message (``msgpack.packb``) costs about as much
    as packing a small message; one packer may not be shared by threads (it packs into its buffer)."""

    def __init__(self) -> None:
        self.pack: Callable[[Any], bytes] = msgpack.Packer(use_bin_type=True, default=_as_array).pack


_PACKER = _Packer()


def encode(message: Message) -> bytes:
    """A message as the body of a frame."""
    return _PACKER.pack(message)


def decode(body: bytes | memoryview) -> Message:
    """The message a frame's body holds; ``ProtocolError`` for anything else."""
    try:
        items = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except Exception as e:
        raise ProtocolError(f"not a message ({type(e).__name__}: {e})") from None
    return _build(items)
