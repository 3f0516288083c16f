"""The template process: imports roost and the user's modules once, then forks a worker per request.

Started by the controller as ``python -m roost.runtime.worker.template FD`` (with the interpreter
of the environment's image), it talks over one SOCK_SEQPACKET control socket:

    controller -> template   Fork(id, preload, limits)      import these modules (once), then fork
    template -> controller   Ready(pid, python)
                             Forked(id, pid, cgroup) + the worker's socket (SCM_RIGHTS),
                             or Forked(id, error=...) when a module failed to import
                             Exited(pid, status, oom)       status: exit code, or -signal

``limits`` ({"memory": bytes, "cpu": millicores}, either may be None; None when the controller does
not want cgroups) become the worker's own cgroup (cgroups.py), made here because the template is the
worker's parent: it moves the new worker in before it replies, so no work reaches the worker
outside it, and it removes the folder once it has reaped the worker -- after reading whether the
kernel killed it for its memory (``oom``). ``cgroup`` says which limits its cgroup enforces
({"memory": "v1", "cpu": "v1"}; empty when none: the controller falls back to its watchdog).

The template stays single-threaded, so forking it is safe (forking the controller, which runs
threads, is not). It lives in its own session, so a Ctrl-C in the terminal reaches the controller
only; when the controller goes away the template kills its workers, removes their cgroups and exits.
"""

from __future__ import annotations

import gc
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from typing import Any, NoReturn

from roost.runtime import messages
from roost.runtime.host import cgroups
from roost.runtime.messages import Exited, Fork, Forked, Message, ProtocolError, Ready, Shutdown

_MAX_MESSAGE = 1 << 20
# Worker cgroups that still hold a process the worker left behind: their removal is retried.
_LEFTOVER_RETRY = 1.0


def _send(control: socket.socket, message: Message, fds: list[int] | None = None) -> None:
    data = messages.encode(message)
    if fds:
        socket.send_fds(control, [data], fds)
    else:
        control.send(data)


def _reap(
    control: socket.socket, children: dict[int, cgroups.WorkerCgroup | None], leftovers: list[cgroups.WorkerCgroup]
) -> None:
    if leftovers:
        _retry_removals(leftovers)
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        cgroup = children.pop(pid, None)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        # The kernel's OOM killer sends SIGKILL; a count in the cgroup alone could be a subprocess's.
        oom = cgroup is not None and code == -signal.SIGKILL and cgroup.oom_killed()
        if cgroup is not None and not cgroup.remove():
            leftovers.append(cgroup)
        _send(control, Exited(pid, code, oom))


def _retry_removals(leftovers: list[cgroups.WorkerCgroup]) -> None:
    leftovers[:] = [cgroup for cgroup in leftovers if not cgroup.remove()]


def _worker_cgroup(pid: int, limits: dict[str, Any] | None) -> cgroups.WorkerCgroup | None:
    if not limits or (limits.get("memory") is None and limits.get("cpu") is None):
        return None
    name = cgroups.worker_name(os.getpid(), pid)
    try:
        return cgroups.WorkerCgroup.create(name, pid, limits.get("memory"), limits.get("cpu"))
    except Exception:  # an unexpected cgroup layout must not take the template down: use the fallback
        return None


def _exit(children: dict[int, cgroups.WorkerCgroup | None], leftovers: list[cgroups.WorkerCgroup]) -> NoReturn:
    """Kill the workers, then remove their cgroups (each is empty once its worker is reaped)."""
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 2.0
    while any(cgroup is not None for cgroup in children.values()) and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.01)
            continue
        cgroup = children.pop(pid, None)
        if cgroup is not None and not cgroup.remove():
            leftovers.append(cgroup)
    _retry_removals(leftovers)  # what stays is swept by the next template (best effort)
    os._exit(0)


_loaded: set[str] = set()


def _preload(modules: list[str]) -> str | None:
    from roost._loading import load_module
    from roost.runtime.wire import remember_tasks

    try:
        for module in modules:
            if module not in _loaded:
                remember_tasks(module, load_module(module))
                _loaded.add(module)
                gc.collect()  # what the import left behind is freed, not frozen with the rest (below)
    except BaseException:
        return traceback.format_exc(limit=8)
    return None


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    # Whatever is imported and initialised here once is shared, copy-on-write, by every forked
    # worker: the worker code, the type engine with its transformers, the event loop machinery.
    from roost.runtime.worker import process_worker as worker
    from roost.types.engine import TypeEngine

    TypeEngine._ensure_builtins()
    worker.warm_up()
    gc.collect()  # the garbage of starting up is freed before the first fork freezes what is left

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the selector below
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    children: dict[int, cgroups.WorkerCgroup | None] = {}
    leftovers: list[cgroups.WorkerCgroup] = []
    try:
        _serve(control, selector, (wake_r, wake_w), worker, children, leftovers)
    except (BrokenPipeError, ConnectionResetError):  # the controller went away while we answered
        _exit(children, leftovers)


def _serve(
    control: socket.socket,
    selector: selectors.BaseSelector,
    wake: tuple[int, int],
    worker: Any,
    children: dict[int, cgroups.WorkerCgroup | None],
    leftovers: list[cgroups.WorkerCgroup],
) -> None:
    """Answer the controller's requests and report the workers' exits, until the controller goes."""
    wake_r, wake_w = wake
    _send(control, Ready(os.getpid(), sys.executable))
    while True:
        events = selector.select(_LEFTOVER_RETRY if leftovers else None)
        if not events and leftovers:
            _retry_removals(leftovers)
        for key, _ in events:
            if key.fileobj == wake_r:
                os.read(wake_r, 4096)
                try:
                    _reap(control, children, leftovers)
                except OSError:  # the controller is gone (it closed the socket while workers exited)
                    _exit(children, leftovers)
                continue
            data = control.recv(_MAX_MESSAGE)
            if not data:  # the controller is gone: leave nothing running behind it
                _exit(children, leftovers)
            try:
                message = messages.decode(data)
            except ProtocolError as e:  # not from roost's controller: nothing here may be trusted
                print(f"roost worker template: {e}", file=sys.stderr)
                _exit(children, leftovers)
            if isinstance(message, Fork):
                error = _preload(message.preload)
                if error is not None:
                    _send(control, Forked(message.id, error=error))
                    continue
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                # Everything the template holds is moved out of the collector's reach (and its counts
                # reset) before the fork: a short-lived worker then starts no collection over objects
                # it shares with the template, which would also copy every page they sit on.
                gc.freeze()
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    control.close()
                    ours.close()
                    os.close(wake_r)
                    os.close(wake_w)
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    os._exit(worker.serve(theirs))
                # The worker joins its cgroup before the controller gets its socket: none of the
                # work sent to it runs outside its limits.
                cgroup = _worker_cgroup(pid, message.limits)
                children[pid] = cgroup
                _send(control, Forked(message.id, pid, cgroup.enforced if cgroup else {}), [ours.fileno()])
                ours.close()
                theirs.close()
            elif isinstance(message, Shutdown):
                _exit(children, leftovers)


if __name__ == "__main__":
    main()
