"""The template process: imports roost and the user's modules once, then forks a worker per request.

Started by the controller as ``python -m roost.runtime.workers.template FD`` (with the interpreter
of the environment's image), it talks over one SOCK_SEQPACKET control socket:

    controller -> template   {"op": "fork", "id", "preload"}      import these modules (once), then fork
    template -> controller   {"op": "ready", "pid"}
                             {"op": "forked", "id", "pid"} + the worker's socket (SCM_RIGHTS),
                             or {"op": "forked", "id", "error"} when a module failed to import
                             {"op": "exited", "pid", "status"}    status: exit code, or -signal

The template stays single-threaded, so forking it is safe (forking the controller, which runs
threads, is not). It lives in its own session, so a Ctrl-C in the terminal reaches the controller
only; when the controller goes away the template kills its workers and exits.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import sys
import traceback
from typing import Any

import msgpack

_MAX_MESSAGE = 1 << 20


def _send(control: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = msgpack.packb(message, use_bin_type=True)
    if fds:
        socket.send_fds(control, [data], fds)
    else:
        control.send(data)


def _reap(control: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        _send(control, {"op": "exited", "pid": pid, "status": code})


_loaded: set[str] = set()


def _preload(modules: list[str]) -> str | None:
    from roost._loading import load_module

    try:
        for module in modules:
            if module not in _loaded:
                load_module(module)
                _loaded.add(module)
    except BaseException:
        return traceback.format_exc(limit=8)
    return None


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    # Whatever is imported and initialised here once is shared, copy-on-write, by every forked
    # worker: the worker code, the type engine with its transformers, the event loop machinery.
    from roost.runtime.workers import worker
    from roost.types.engine import TypeEngine

    TypeEngine._ensure_builtins()
    worker.warm_up()

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the selector below
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    children: set[int] = set()
    _send(control, {"op": "ready", "pid": os.getpid(), "python": sys.executable})
    while True:
        for key, _ in selector.select():
            if key.fileobj == wake_r:
                os.read(wake_r, 4096)
                _reap(control, children)
                continue
            data = control.recv(_MAX_MESSAGE)
            if not data:  # the controller is gone: leave nothing running behind it
                for pid in children:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                os._exit(0)
            message = msgpack.unpackb(data, raw=False)
            op = message["op"]
            if op == "fork":
                error = _preload(message.get("preload") or [])
                if error is not None:
                    _send(control, {"op": "forked", "id": message["id"], "error": error})
                    continue
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
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
                children.add(pid)
                _send(control, {"op": "forked", "id": message["id"], "pid": pid}, [ours.fileno()])
                ours.close()
                theirs.close()
            elif op == "shutdown":
                os._exit(0)


if __name__ == "__main__":
    main()
