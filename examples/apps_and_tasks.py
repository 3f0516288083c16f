"""Apps and tasks together (docs/apps.md): an app whose requests start runs of a task, and a task that
calls an app through its endpoint -- its environment depends_on the app's.

    python examples/apps_and_tasks.py
"""

import json
import os
import socket
import urllib.request

import roost as flyte

scoring = flyte.TaskEnvironment(name="example_scoring")


@scoring.task
async def score(x: int) -> int:
    return x * 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


scorer = flyte.AppEnvironment(name="example-scorer", port=int(os.environ.get("SCORER_PORT") or free_port()))


@scorer.server
async def serve() -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def handle(request: Request) -> JSONResponse:
        # A request starts a run of a task -- recorded in the store like any run -- and reads its output.
        run = await flyte.run.aio(score, x=int(request.query_params.get("x", "1")))
        return JSONResponse({"run": run.name, "score": (await run.outputs.aio())[0]})

    config = uvicorn.Config(Starlette(routes=[Route("/", handle)]), port=int(os.environ["PORT"]), log_level="warning")
    await uvicorn.Server(config).serve()


callers = flyte.TaskEnvironment(name="example_callers", depends_on=[scorer])


@callers.task
async def ask(x: int) -> int:
    # A task calls the app: its environment depends on the app's, so the app is there first.
    with urllib.request.urlopen(f"{scorer.endpoint}/?x={x}", timeout=60) as answer:
        return int(json.loads(answer.read())["score"])


if __name__ == "__main__":
    os.environ["SCORER_PORT"] = str(scorer.get_port().port)  # the app's process declares the same port
    served = flyte.serve(scorer)
    with served.ephemeral_ctx_sync():
        print("the app, called directly:", json.loads(urllib.request.urlopen(f"{served.endpoint}/?x=4").read()))
        print("a task calling the app:", flyte.run(ask, x=5).outputs()[0])
