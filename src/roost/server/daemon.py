"""Starting, finding and stopping the server process.

``roost server start`` serves in the foreground (Ctrl-C or SIGTERM stops it cleanly), or with
``--detach`` starts itself in the background, waits until it answers, and returns. A running server
writes ROOST_HOME/server/server.json (pid, address, URL) so that ``status`` and ``stop`` -- and
clients on this machine -- find it; the file goes when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from roost.server.access import Access, is_loopback
from roost.server.api import Api, build_app
from roost.server.api_keys import ApiKeys, keys_path
from roost.server.app_proxy import AppProxy
from roost.server.app_replicas import AppManager
from roost.server.app_routes import AppRoutes
from roost.server.app_table import AppTable
from roost.server.bundle_store import BundleStore
from roost.server.console import Console
from roost.server.deploy_routes import DeployRoutes
from roost.server.flyte_api import flyte_api, not_installed_routes
from roost.server.hosts import Hosts
from roost.server.registry import TaskRegistry, registry_path
from roost.server.scheduler import Scheduler
from roost.server.submissions import Submissions, keep_sweeping
from roost.server.trigger_table import TriggerTable
from roost.store.open_stores import get_store
from roost.store.server_info import ServerInfo, info_path, read_info
from roost.store.store_config import StoreConfig

logger = logging.getLogger("roost.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8686


class ServerStartError(Exception):
    """The server cannot start (port taken, no keys for a public address, another server running)."""


def url_for(host: str, port: int) -> str:
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # "any": this machine
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def check_bind(host: str, keys: ApiKeys) -> None:
    """A server reachable from other machines must ask them for a key."""
    if not is_loopback(host) and not keys.enabled():
        raise ServerStartError(
            f"--host {host} makes the server reachable from other machines, and it has no API keys: "
            "create one first with `roost server create-key NAME`"
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: the connections it accepts inherit it, and asyncio sets TCP_NODELAY only on a
    # socket that says it is TCP. Without it a response written in two parts (headers, then body) waits
    # for the client's delayed ACK: ~40 ms on every request of a kept-alive connection but the first.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ServerStartError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


def serve(
    config: StoreConfig,
    host: str,
    port: int,
    run_options: dict[str, Any] | None = None,
    flyte_python: str | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM. The port is bound before anything is written, so a second server
    on the same port fails without touching the first one's files."""
    import uvicorn

    home = config.home
    running = read_info(home)
    if running is not None and running.pid != os.getpid():
        raise ServerStartError(f"a roost server is running for {home} already: pid {running.pid} at {running.url}")
    keys = ApiKeys(keys_path(home))
    check_bind(host, keys)
    sock = bind(host, port)
    port = sock.getsockname()[1]
    url = url_for(host, port)
    store = get_store()
    submissions = Submissions(home)
    registry = TaskRegistry(registry_path(home))
    hosts = Hosts(BundleStore(home), home, run_options, on_run_ended=submissions.finish, deployed=registry.get)
    hosts.url = url
    triggers = TriggerTable(registry_path(home))
    scheduler = Scheduler(triggers, registry, store, submissions, hosts)
    api = Api(store, BundleStore(home), hosts, url, submissions)
    deployed = DeployRoutes(registry, triggers, scheduler, BundleStore(home), hosts, submissions, api.run_url)
    access = Access(keys)
    on_ray = bool((run_options or {}).get("ray_address"))
    apps = AppManager(AppTable(registry_path(home)), hosts, store, url, on_ray=on_ray)
    apps.load()
    more_routes = [*deployed.routes(), *AppRoutes(apps, BundleStore(home)).routes()]
    # Flyte's own protocol, for the unmodified flyte client (where roost[flyte] is installed).
    flyte = flyte_api(store, home, url, flyte_python)
    if flyte is not None:
        more_routes += [*flyte.routes(), flyte.fallback()]
        access.also_public(*flyte.public_prefixes)
    else:
        more_routes += not_installed_routes()
    app = build_app(
        api,
        access,
        Console(store, access, api.run_page, api.reruns.why_not, registry, triggers, apps.views),
        more_routes,
    )
    proxy = AppProxy(apps, access, app)  # /apps/NAME/... served before the routing of everything else
    info = ServerInfo(os.getpid(), host, port, url, time.time(), str(home))
    path = info_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(info)))
    os.replace(tmp, path)
    server = _uvicorn_server(
        uvicorn.Config(proxy, log_level="warning", access_log=False, timeout_graceful_shutdown=5, lifespan="off")
    )
    print(f"roost server {url} (store {home}); Ctrl-C stops it", flush=True)

    async def main() -> None:
        # Runs whose bundle host died (with the machine, or killed) are resumed, now and later.
        sweeper = asyncio.ensure_future(keep_sweeping(submissions, store, hosts))
        # Triggers fire from the start: a time missed while the server was down fires now (once).
        firing = asyncio.ensure_future(scheduler.run())
        # Registered apps are served again (their minimum of replicas started), then scaled.
        scaling = asyncio.ensure_future(apps.run())
        if flyte is not None:
            flyte.start()  # the Flyte client's triggers fire too
        try:
            await server.serve(sockets=[sock])
        finally:
            sweeper.cancel()
            firing.cancel()
            scaling.cancel()
            if flyte is not None:
                await flyte.close()
            await apps.close()  # replicas stop first: a host exits once its runs have ended
            await proxy.close()
            await hosts.close()

    try:
        asyncio.run(main())
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():  # not a later server's file
                path.unlink()
        keys.close()


def _uvicorn_server(config: Any) -> Any:
    """uvicorn's server, stopped by SIGINT/SIGTERM without dying of the signal afterwards (uvicorn
    raises it again once it has stopped), so that what follows -- the bundle hosts told to stop,
    server.json removed -- runs. (uvicorn is imported here: ``status`` and ``stop`` need none of it.)"""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server(config)


def health(url: str, timeout: float = 1.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def start_detached(home: Path, args: list[str], timeout: float = 30.0) -> ServerInfo:
    """Start ``roost server start ARGS`` in the background (its own session, output to
    ROOST_HOME/server/server.log) and wait until it answers."""
    log = home / "server" / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "roost.cli.main", "server", "start", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env={**os.environ, "ROOST_HOME": str(home)},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise ServerStartError(f"the server exited at start ({tail[0]}); see {log}")
        info = read_info(home)
        if info is not None and info.pid == process.pid and health(info.url) is not None:
            return info
        time.sleep(0.05)
    process.kill()
    raise ServerStartError(f"the server did not answer within {timeout:.0f} s; see {log}")


def stop(home: Path, timeout: float = 15.0) -> ServerInfo | None:
    """Stop the server of ``home`` (SIGTERM, then SIGKILL after ``timeout``); the one stopped, if any."""
    info = read_info(home)
    if info is None:
        return None
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(info.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        info_path(home).unlink()
    return info
