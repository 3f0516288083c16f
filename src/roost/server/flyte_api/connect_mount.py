"""The Flyte services as routes of the roost server: each Connect service at its own path
(``/flyteidl2.<package>.<Service>/<Method>``), served by ``connectrpc``'s ASGI applications.

A method roost does not serve answers ``UNIMPLEMENTED`` (the generated base classes do) and is written to
the server log as ``flyte client called an unserved method: <path>`` -- what the test of the pinned
client looks for, so a client upgrade that starts calling something new fails loudly.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from flyteidl2.actions.actions_service_connect import ActionsServiceASGIApplication
from flyteidl2.app.app_logs_service_connect import AppLogsServiceASGIApplication
from flyteidl2.app.app_service_connect import AppServiceASGIApplication
from flyteidl2.auth.auth_service_connect import AuthMetadataServiceASGIApplication
from flyteidl2.cluster.service_connect import ClusterServiceASGIApplication
from flyteidl2.dataproxy.dataproxy_service_connect import DataProxyServiceASGIApplication
from flyteidl2.secret.secret_connect import SecretServiceASGIApplication
from flyteidl2.task.task_service_connect import TaskServiceASGIApplication
from flyteidl2.trigger.trigger_service_connect import TriggerServiceASGIApplication
from flyteidl2.workflow.queue_service_connect import QueueServiceASGIApplication
from flyteidl2.workflow.run_service_connect import RunServiceASGIApplication
from flyteidl2.workflow.state_service_connect import StateServiceASGIApplication
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from roost.server.flyte_api.data_services import UPLOAD_PREFIX, AuthMetadata, Cluster, DataProxy, Uploads
from roost.server.flyte_api.flyte_actions import FlyteRuns
from roost.server.flyte_api.flyte_apps import AppLogs, Apps, FlyteApps, FlyteAppTable
from roost.server.flyte_api.flyte_conditions import FlyteConditions
from roost.server.flyte_api.flyte_triggers import FlyteScheduler, FlyteTriggerTable, Triggers
from roost.server.flyte_api.run_services import Actions, Queue, Runs, State
from roost.server.flyte_api.task_services import FlyteTaskTable, Secrets, Tasks

logger = logging.getLogger("roost.server")
UNSERVED_MARK = "flyte client called an unserved method"
AUTH_METADATA_PREFIX = "/flyteidl2.auth.AuthMetadataService/"

# The methods answered here; every other method of these services answers UNIMPLEMENTED.
SERVED = {
    "flyteidl2.auth.AuthMetadataService": {"GetPublicClientConfig", "GetOAuth2Metadata"},
    "flyteidl2.cluster.ClusterService": {"SelectCluster"},
    "flyteidl2.dataproxy.DataProxyService": {"CreateUploadLocation", "UploadInputs", "GetActionData", "TailLogs"},
    "flyteidl2.workflow.RunService": {
        "CreateRun",
        "AbortRun",
        "AbortAction",
        "GetRunDetails",
        "WatchRunDetails",
        "GetActionDetails",
        "WatchActionDetails",
        "GetActionData",
        "GetActionDataURIs",
        "ListRuns",
        "ListActions",
        "WatchActions",
        "SignalEvent",
    },
    "flyteidl2.workflow.QueueService": {"EnqueueAction", "AbortQueuedAction", "AbortQueuedRun"},
    "flyteidl2.workflow.StateService": {"Watch"},
    "flyteidl2.actions.ActionsService": {"Enqueue", "WatchForUpdates", "Abort", "Signal"},
    "flyteidl2.task.TaskService": {"DeployTask", "GetTaskDetails", "ListTasks", "ListVersions"},
    "flyteidl2.trigger.TriggerService": {
        "DeployTrigger",
        "GetTriggerDetails",
        "ListTriggers",
        "UpdateTriggers",
        "DeleteTriggers",
    },
    "flyteidl2.app.AppService": {"Create", "Update", "Get", "Delete", "List", "Watch"},
    "flyteidl2.app.AppLogsService": {"TailLogs"},
    "flyteidl2.secret.SecretService": {"CreateSecret", "UpdateSecret", "GetSecret", "DeleteSecret", "ListSecrets"},
}


class _Unserved:
    """Logs a call to a method outside ``SERVED`` (or of a service not mounted), then lets the service
    answer it (``UNIMPLEMENTED``)."""

    def __init__(self, service: str, app: Any):
        self.service = service
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope["path"].rsplit("/", 1)[-1]
        if method not in SERVED.get(self.service, ()):
            logger.warning("%s: /%s/%s", UNSERVED_MARK, self.service, method)
        await self.app(scope, receive, send)


async def _unknown_service(scope: dict[str, Any], receive: Any, send: Any) -> None:
    logger.warning("%s: %s", UNSERVED_MARK, scope["path"])
    body = b'{"code":"unimplemented","message":"roost does not serve this Flyte service"}'
    await send(
        {
            "type": "http.response.start",
            "status": 501,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class FlyteApi:
    """The Flyte protocol beside roost's own API, over one set of Flyte runs."""

    def __init__(self, store: Any, home: Path, url: str, flyte_python: str | None):
        endpoint = url.split("://", 1)[-1].rstrip("/")
        self.runs = FlyteRuns(store, home, endpoint, flyte_python)
        self.uploads = Uploads(home, url)
        data = DataProxy(self.runs, self.uploads)
        conditions = FlyteConditions(self.runs, url)
        self.tasks = FlyteTaskTable(home / "flyte" / "tasks.sqlite")
        tasks = Tasks(self.tasks)
        self.triggers = FlyteTriggerTable(home / "flyte" / "tasks.sqlite")
        self.scheduler = FlyteScheduler(self.triggers, self.tasks, self.runs)
        tasks.on_triggers = self.scheduler.deploy
        self._firing: Any = None
        self.served_apps = FlyteApps(FlyteAppTable(home / "flyte" / "tasks.sqlite"), self.runs)
        self.apps = {
            "flyteidl2.auth.AuthMetadataService": AuthMetadataServiceASGIApplication(AuthMetadata(url)),
            "flyteidl2.cluster.ClusterService": ClusterServiceASGIApplication(Cluster()),
            "flyteidl2.dataproxy.DataProxyService": DataProxyServiceASGIApplication(data),
            "flyteidl2.workflow.RunService": RunServiceASGIApplication(Runs(self.runs, data, tasks)),
            "flyteidl2.workflow.QueueService": QueueServiceASGIApplication(Queue(self.runs, conditions)),
            "flyteidl2.actions.ActionsService": ActionsServiceASGIApplication(Actions(self.runs, conditions)),
            "flyteidl2.workflow.StateService": StateServiceASGIApplication(State(self.runs)),
            "flyteidl2.task.TaskService": TaskServiceASGIApplication(tasks),
            "flyteidl2.secret.SecretService": SecretServiceASGIApplication(Secrets(home)),
            "flyteidl2.trigger.TriggerService": TriggerServiceASGIApplication(Triggers(self.scheduler)),
            "flyteidl2.app.AppService": AppServiceASGIApplication(Apps(self.served_apps)),
            "flyteidl2.app.AppLogsService": AppLogsServiceASGIApplication(AppLogs(self.served_apps)),
        }

    def routes(self) -> list[Any]:
        routes: list[Any] = [Mount(f"/{name}", app=_Unserved(name, app)) for name, app in self.apps.items()]
        routes += self.uploads.routes()
        # The run URL the Flyte client prints opens the run's page.
        routes.append(Route("/v2/domain/{domain}/project/{project}/runs/{run}", self.run_page))
        routes.append(Route("/v2/domain/{domain}/project/{project}/tasks/{task}", self.tasks_page))
        routes.append(Route("/v2/domain/{domain}/project/{project}/apps/{app}", self.apps_page))
        return routes

    def fallback(self) -> Any:
        """For paths of Flyte services not mounted: logged, answered UNIMPLEMENTED."""
        return Mount("/flyteidl2.{service}", app=_unknown_service)

    # Answered to everyone: a signed upload URL is its own permission (the client sends no key with the
    # PUT), and how to authenticate is asked before authenticating.
    public_prefixes = (UPLOAD_PREFIX, AUTH_METADATA_PREFIX)

    async def run_page(self, request: Request) -> Response:
        return RedirectResponse(f"/runs/{request.path_params['run']}", status_code=302)

    async def tasks_page(self, request: Request) -> Response:
        return RedirectResponse("/tasks", status_code=302)

    async def apps_page(self, request: Request) -> Response:
        return RedirectResponse("/apps", status_code=302)

    def start(self) -> None:
        """Fire the deployed triggers from now on, and serve the deployed apps again (in the server's event
        loop)."""
        self._firing = asyncio.ensure_future(self.scheduler.run())
        self.served_apps.load()

    async def close(self) -> None:
        if self._firing is not None:
            self._firing.cancel()
        await self.served_apps.close()
        await self.runs.close()
        self.triggers.close()
        self.tasks.close()
