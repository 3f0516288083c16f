"""An app served by a roost server, behind its proxy (docs/apps.md, "Server-managed apps").

    roost server start --detach                   # without one, the example starts (and stops) its own
    python examples/apps_on_server.py

The server starts a replica at the first request (the request waits for it), passes requests on at
`/apps/ticker/...`, and holds every response to the app's request timeout: a stream that runs past it
is cut, its connection closed, so the caller sees an incomplete body rather than a short one.

On a server started with `roost server start --ray ADDRESS` the replica's process runs on a Ray node
(docs/apps.md, "On a Ray cluster"): there the app must listen on all addresses, `host="0.0.0.0"`.
"""

import asyncio
import http.client
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import roost as flyte
from roost.app import Scaling, Timeouts

ROOST = str(Path(sys.executable).with_name("roost"))

ticker = flyte.AppEnvironment(
    name="ticker",
    scaling=Scaling(replicas=(0, 1), scaledown_after=60),
    timeouts=Timeouts(request=2),  # seconds for the whole response, body included
)


@ticker.server
async def serve() -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    async def hello(request):
        return JSONResponse({"hello": "from the ticker", "prefix": request.headers.get("x-forwarded-prefix")})

    async def ticks(request):
        async def every_half_second():
            for n in range(10):
                yield f"tick {n}\n".encode()
                await asyncio.sleep(0.5)

        return StreamingResponse(every_half_second(), media_type="text/plain")

    app = Starlette(routes=[Route("/", hello), Route("/ticks", ticks)])
    await uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
    ).serve()


def server_url() -> tuple[str, bool]:
    """The server running for ROOST_HOME, else one started here (and stopped at the end)."""
    status = subprocess.run([ROOST, "server", "status", "--json"], capture_output=True, text=True)
    info = json.loads(status.stdout or "{}")
    if info.get("answering"):
        return info["url"], False
    subprocess.run([ROOST, "server", "start", "--detach", "--port", "0"], check=True)
    info = json.loads(subprocess.run([ROOST, "server", "status", "--json"], capture_output=True, text=True).stdout)
    return info["url"], True


if __name__ == "__main__":
    url, started_here = server_url()
    try:
        flyte.init(endpoint=url, root_dir=Path(__file__).parent)  # the code bundle: this folder's modules
        app = flyte.serve(ticker)  # registered; its first replica starts with the first request
        print(f"app {app.name} at {app.url}")
        where = urllib.parse.urlsplit(app.url)
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
        connection.request("GET", where.path + "/")
        print(connection.getresponse().read().decode())
        connection.request("GET", where.path + "/ticks")  # 10 ticks 0.5 s apart: 5 s, past the 2 s limit
        response = connection.getresponse()
        try:
            response.read()
            print("the whole stream arrived")
        except http.client.IncompleteRead as cut:
            print(f"cut at the request timeout after {cut.partial.count(b'tick')} ticks of 10")
        connection.close()
        app.deactivate()
    finally:
        if started_here:
            subprocess.run([ROOST, "server", "stop"], check=True)
