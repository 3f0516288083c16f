"""``TaskService`` (``flyte deploy``, ``flyte.remote.Task.get`` / ``listall``) over a table of the task specs
the Flyte client deployed, and ``SecretService`` (``flyte create secret``, ``flyte get secret``) over
roost's secret store.

Deployed specs are kept in ``ROOST_HOME/flyte/tasks.sqlite``, one row per task version, as the bytes the
client sent: they outlive the server, and a run of a deployed task (``CreateRun`` with a task id) starts
from them. Deploying a version again with the same spec is accepted; with another spec it is refused
(``ALREADY_EXISTS``, which the client treats as done).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import list_pb2
from flyteidl2.secret import definition_pb2 as secret_pb2
from flyteidl2.secret import payload_pb2 as secret_payload
from flyteidl2.secret.secret_connect import SecretService
from flyteidl2.task import task_definition_pb2, task_service_pb2
from flyteidl2.task.task_service_connect import TaskService

from roost.server.flyte_api.flyte_tables import SqliteTable
from roost.server.flyte_api.proto_views import timestamp
from roost.store.secret_store import SecretStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS flyte_tasks (
    org TEXT NOT NULL, project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
    spec BLOB NOT NULL, deployed_at REAL NOT NULL,
    PRIMARY KEY (org, project, domain, name, version)
)
"""
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


class FlyteTaskTable(SqliteTable):
    """The task specs deployed by the Flyte client, by org, project, domain, name and version."""

    SCHEMA = _SCHEMA

    def put(self, task_id: Any, spec: bytes) -> bool:
        """Store a version; False when it is there already with another spec."""
        key = (task_id.org, task_id.project, task_id.domain, task_id.name, task_id.version)
        with self._locked() as db:
            row = db.execute(
                "SELECT spec FROM flyte_tasks WHERE org=? AND project=? AND domain=? AND name=? AND version=?", key
            ).fetchone()
            if row is not None:
                return bytes(row[0]) == spec
            db.execute("INSERT INTO flyte_tasks VALUES (?, ?, ?, ?, ?, ?, ?)", (*key, spec, time.time()))
            return True

    def get(self, task_id: Any) -> tuple[bytes, float] | None:
        key = (task_id.org, task_id.project, task_id.domain, task_id.name, task_id.version)
        with self._locked() as db:
            row = db.execute(
                "SELECT spec, deployed_at FROM flyte_tasks "
                "WHERE org=? AND project=? AND domain=? AND name=? AND version=?",
                key,
            ).fetchone()
        return (bytes(row[0]), row[1]) if row else None

    def latest(self, org: str, project: str, domain: str) -> list[tuple[str, str, bytes, float]]:
        """The newest version of each task: (name, version, spec, deployed_at)."""
        with self._locked() as db:
            rows = db.execute(
                "SELECT name, version, spec, MAX(deployed_at) FROM flyte_tasks "
                "WHERE org=? AND project=? AND domain=? GROUP BY name",
                (org, project, domain),
            ).fetchall()
        return [(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    def versions(self, org: str, project: str, domain: str, name: str) -> list[tuple[str, float]]:
        with self._locked() as db:
            rows = db.execute(
                "SELECT version, deployed_at FROM flyte_tasks WHERE org=? AND project=? AND domain=? AND name=? "
                "ORDER BY deployed_at DESC",
                (org, project, domain, name),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]


def _spec(data: bytes) -> task_definition_pb2.TaskSpec:
    spec = task_definition_pb2.TaskSpec()
    spec.ParseFromString(data)
    return spec


def _metadata(spec: task_definition_pb2.TaskSpec, deployed_at: float) -> task_definition_pb2.TaskMetadata:
    metadata = task_definition_pb2.TaskMetadata(short_name=spec.short_name, environment_name=spec.environment.name)
    metadata.deployed_at.CopyFrom(timestamp(deployed_at))
    return metadata


def _check_id(task_id: Any, what: str) -> None:
    if not task_id.name or not task_id.version:
        raise ConnectError(Code.INVALID_ARGUMENT, f"{what} needs a task id with a name and a version")


class Tasks(TaskService):
    def __init__(self, table: FlyteTaskTable):
        self.table = table
        # Registers the triggers a deploy carries (``flyte_triggers.FlyteScheduler.deploy``).
        self.on_triggers: Any = None

    def spec_of(self, task_id: Any) -> task_definition_pb2.TaskSpec:
        """The deployed spec of ``task_id``, for a run of it."""
        found = self.table.get(task_id)
        if found is None:
            raise ConnectError(Code.NOT_FOUND, f"task {task_id.name!r} version {task_id.version!r} is not deployed")
        return _spec(found[0])

    async def deploy_task(self, request: Any, ctx: Any) -> Any:
        _check_id(request.task_id, "a deploy")
        if not request.spec.task_template.HasField("container"):
            raise ConnectError(Code.INVALID_ARGUMENT, "roost runs container tasks; this task has no container")
        if not self.table.put(request.task_id, request.spec.SerializeToString(deterministic=True)):
            raise ConnectError(
                Code.ALREADY_EXISTS,
                f"{request.task_id.name} version {request.task_id.version} exists with another spec",
            )
        if len(request.triggers) and self.on_triggers is not None:
            self.on_triggers(request.task_id, list(request.triggers))
        return task_service_pb2.DeployTaskResponse()

    async def get_task_details(self, request: Any, ctx: Any) -> Any:
        _check_id(request.task_id, "a task lookup")
        found = self.table.get(request.task_id)
        if found is None:
            raise ConnectError(
                Code.NOT_FOUND, f"task {request.task_id.name!r} version {request.task_id.version!r} is not deployed"
            )
        spec = _spec(found[0])
        details = task_definition_pb2.TaskDetails(
            task_id=request.task_id, metadata=_metadata(spec, found[1]), spec=spec
        )
        return task_service_pb2.GetTaskDetailsResponse(details=details)

    async def list_tasks(self, request: Any, ctx: Any) -> Any:
        p = request.project_id
        org = p.organization or request.org
        rows = self.table.latest(org, p.name, p.domain)
        for f in request.request.filters:
            if f.field != "name" or not f.values:
                continue
            if f.function == list_pb2.Filter.EQUAL:
                rows = [r for r in rows if r[0] in f.values]
            elif f.function in (list_pb2.Filter.CONTAINS, list_pb2.Filter.CONTAINS_CASE_INSENSITIVE):
                rows = [r for r in rows if any(v.lower() in r[0].lower() for v in f.values)]
        sort = request.request.sort_by
        newest_first = sort.direction == list_pb2.Sort.DESCENDING if sort.key else True
        if sort.key == "name":
            rows.sort(key=lambda r: r[0], reverse=newest_first)
        else:
            rows.sort(key=lambda r: r[3], reverse=newest_first)
        limit = min(request.request.limit or DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)
        try:
            start = int(request.request.token or 0)
        except ValueError:
            raise ConnectError(Code.INVALID_ARGUMENT, "that page token is not one of this server's") from None
        tasks = []
        for name, version, data, deployed_at in rows[start : start + limit]:
            task_id = task_definition_pb2.TaskIdentifier(
                org=org, project=p.name, domain=p.domain, name=name, version=version
            )
            tasks.append(task_definition_pb2.Task(task_id=task_id, metadata=_metadata(_spec(data), deployed_at)))
        token = str(start + limit) if start + limit < len(rows) else ""
        return task_service_pb2.ListTasksResponse(tasks=tasks, token=token)

    async def list_versions(self, request: Any, ctx: Any) -> Any:
        n = request.task_name
        found = self.table.versions(n.org, n.project, n.domain, n.name)
        versions = []
        for version, deployed_at in found:
            v = task_service_pb2.ListVersionsResponse.VersionResponse(version=version)
            v.deployed_at.CopyFrom(timestamp(deployed_at))
            versions.append(v)
        return task_service_pb2.ListVersionsResponse(versions=versions)


class Secrets(SecretService):
    """Flyte secrets are roost secrets: a secret's name is its key (no group), for every project and
    domain of the server. Values are written, never read back."""

    def __init__(self, home: Path):
        self.home = home

    def _store(self) -> SecretStore:
        return SecretStore(home=self.home)

    @staticmethod
    def _value(spec: Any) -> str:
        if spec.binary_value:
            try:
                return spec.binary_value.decode("utf-8")
            except UnicodeDecodeError:
                raise ConnectError(Code.INVALID_ARGUMENT, "roost keeps secrets as text: send a UTF-8 value") from None
        return spec.string_value

    def _set(self, request: Any, creating: bool) -> None:
        name = request.id.name
        if not name:
            raise ConnectError(Code.INVALID_ARGUMENT, "a secret needs a name")
        store = self._store()
        exists = store.get(name) is not None
        if creating and exists:
            raise ConnectError(Code.ALREADY_EXISTS, f"secret {name!r} exists already (update it instead)")
        if not creating and not exists:
            raise ConnectError(Code.NOT_FOUND, f"no secret named {name!r}")
        try:
            store.set(name, self._value(request.secret_spec))
        except ValueError as e:
            raise ConnectError(Code.INVALID_ARGUMENT, str(e)) from None

    async def create_secret(self, request: Any, ctx: Any) -> Any:
        self._set(request, creating=True)
        return secret_payload.CreateSecretResponse()

    async def update_secret(self, request: Any, ctx: Any) -> Any:
        self._set(request, creating=False)
        return secret_payload.UpdateSecretResponse()

    def _secret(self, name: str) -> secret_pb2.Secret:
        status = secret_pb2.SecretStatus(overall_status=secret_pb2.FULLY_PRESENT)
        return secret_pb2.Secret(
            id=secret_pb2.SecretIdentifier(name=name),
            secret_metadata=secret_pb2.SecretMetadata(secret_status=status, type=secret_pb2.SECRET_TYPE_GENERIC),
        )

    async def get_secret(self, request: Any, ctx: Any) -> Any:
        if self._store().get(request.id.name) is None:
            raise ConnectError(Code.NOT_FOUND, f"no secret named {request.id.name!r}")
        return secret_payload.GetSecretResponse(secret=self._secret(request.id.name))

    async def delete_secret(self, request: Any, ctx: Any) -> Any:
        if not self._store().delete(request.id.name):
            raise ConnectError(Code.NOT_FOUND, f"no secret named {request.id.name!r}")
        return secret_payload.DeleteSecretResponse()

    async def list_secrets(self, request: Any, ctx: Any) -> Any:
        names = sorted(key for key, group in self._store().list() if group is None)
        return secret_payload.ListSecretsResponse(secrets=[self._secret(n) for n in names])
