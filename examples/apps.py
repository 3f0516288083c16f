"""Apps: a long-running service declared like a task's environment, served here (docs/apps.md).

    python examples/apps.py                          # serves it, calls it, stops it
    roost serve examples/apps.py dashboard --param title="Q4 numbers"   # in the foreground; Ctrl-C stops it

The app runs in a process of its own set up as a task's would be: its environment's variables,
secrets, resource limits and image.
"""

import json
import os
import socket
import urllib.request

import roost as flyte
from roost.app import Parameter, Scaling

app = flyte.AppEnvironment(
    name="dashboard",
    port=8090,
    env_vars={"THEME": "dark"},
    resources=flyte.Resources(cpu=1, memory="512Mi"),
    scaling=Scaling(replicas=(0, 2)),  # used by server-managed apps
    parameters=[Parameter("title", value="Dashboard", env_var="DASHBOARD_TITLE")],
)


@app.on_startup
def warm_up(title: str) -> None:
    print(f"warming up {title!r}", flush=True)


@app.server
async def serve() -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def home(request: object) -> JSONResponse:
        return JSONResponse(
            {"title": flyte.app.get_parameter("title"), "theme": os.environ["THEME"], "mode": flyte.app.ctx().mode}
        )

    port = int(os.environ["PORT"])  # the port it is served on
    await uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/", home)]), port=port, log_level="warning")).serve()


@app.on_shutdown
def goodbye() -> None:
    print("dashboard stopped cleanly", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    # The declared port may be taken on this machine: serve on a free one.
    served = flyte.with_servecontext(port=free_port(), parameter_values={"dashboard": {"title": "Q4"}}).serve(app)
    with served.ephemeral_ctx_sync():  # deactivated when the block ends
        print(f"{served.name} answers at {served.endpoint}")
        print(json.loads(urllib.request.urlopen(served.endpoint, timeout=10).read()))
    print("its output:", served.logs())
