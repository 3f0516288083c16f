"""``ClusterService`` and ``DataProxyService``: where the client puts its code and inputs, and how it reads
an action's data and logs back.

Uploads go to signed URLs of this server (``PUT /flyte/upload/<key>?expires=..&signature=..``): the
signature (an HMAC of the key and expiry under a secret made at start) is the permission, so the PUT
needs no API key -- the client sends none there -- while asking for the URL does. Files land under
``<ROOST_HOME>/flyte/uploads`` and the client is told their ``file://`` address, which the Flyte runtime
reads directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.auth import auth_service_pb2 as auth_pb2
from flyteidl2.auth.auth_service_connect import AuthMetadataService
from flyteidl2.cluster import payload_pb2 as cluster_pb2
from flyteidl2.cluster.service_connect import ClusterService
from flyteidl2.common import run_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2 as dp
from flyteidl2.dataproxy.dataproxy_service_connect import DataProxyService
from flyteidl2.logs.dataplane import payload_pb2 as logs_pb2
from flyteidl2.task import common_pb2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roost.server.flyte_api.flyte_actions import TERMINAL, FlyteAction, FlyteRuns, local_path
from roost.server.flyte_api.proto_views import timestamp

UPLOAD_PREFIX = "/flyte/upload/"
MAX_UPLOAD_BYTES = 2 * 1024**3
# An upload key: what the client named, under its project and domain; nothing that climbs out.
_KEY_PART = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def _parts(*parts: str) -> list[str]:
    out = []
    for p in parts:
        for piece in p.split("/"):
            if not piece:
                continue
            if piece in (".", "..") or not _KEY_PART.match(piece):
                raise ConnectError(Code.INVALID_ARGUMENT, f"{p[:80]!r} is not a name an upload may have")
            out.append(piece)
    return out


class Uploads:
    """Signed upload URLs and the route that takes the PUTs."""

    def __init__(self, home: Path, url: str):
        self.root = home / "flyte" / "uploads"
        self.url = url.rstrip("/")
        self._secret = secrets.token_bytes(32)

    def _signature(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def location(self, key: str, expires_in: float) -> tuple[str, str, int]:
        expires = int(time.time() + expires_in)
        signed = f"{self.url}{UPLOAD_PREFIX}{key}?expires={expires}&signature={self._signature(key, expires)}"
        return signed, f"file://{self.root / key}", expires

    def routes(self) -> list[Route]:
        return [Route(UPLOAD_PREFIX + "{key:path}", self.put, methods=["PUT"])]

    async def put(self, request: Request) -> Response:
        key = request.path_params["key"]
        try:
            expires = int(request.query_params.get("expires", ""))
        except ValueError:
            return JSONResponse({"error": "the upload URL has no valid expiry"}, 400)
        given = request.query_params.get("signature", "")
        if not hmac.compare_digest(given, self._signature(key, expires)):
            return JSONResponse({"error": "the upload URL's signature does not match"}, 403)
        if expires < time.time():
            return JSONResponse({"error": "the upload URL has expired; ask for a new one"}, 403)
        target = self.root / key
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
        target.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            with open(tmp, "wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        return JSONResponse({"error": f"uploads are limited to {MAX_UPLOAD_BYTES} bytes"}, 413)
                    f.write(chunk)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return Response(status_code=200)


class AuthMetadata(AuthMetadataService):
    """What a Flyte client asks before it authenticates: answered to anyone (it holds no secret). A roost
    API key travels as ``authorization: Bearer KEY``; a client gets it from a command of its own
    (``authType: ExternalCommand``, docs/flyte-backend.md)."""

    def __init__(self, url: str):
        self.url = url

    async def get_public_client_config(self, request: Any, ctx: Any) -> Any:
        return auth_pb2.GetPublicClientConfigResponse(
            client_id="roost", authorization_metadata_key="authorization", service_http_endpoint=self.url
        )

    async def get_o_auth2_metadata(self, request: Any, ctx: Any) -> Any:
        # No OAuth2 here: keys are issued by `roost server create-key`, not by a token endpoint.
        return auth_pb2.GetOAuth2MetadataResponse(issuer=self.url)


class Cluster(ClusterService):
    async def select_cluster(self, request: Any, ctx: Any) -> Any:
        # An empty answer: this server is the cluster, at the endpoint the client already uses.
        return cluster_pb2.SelectClusterResponse()


def find_action(runs: FlyteRuns, action_id: Any) -> FlyteAction:
    run = runs.get(action_id.run.name)
    action = run.actions.get(action_id.name) if run is not None else None
    if action is None:
        raise ConnectError(Code.NOT_FOUND, f"no action {action_id.name!r} in run {action_id.run.name!r}")
    return action


def read_inputs(uri: str) -> common_pb2.Inputs:
    inputs = common_pb2.Inputs()
    inputs.ParseFromString(local_path(uri).read_bytes())
    return inputs


def read_outputs(prefix: str) -> common_pb2.Outputs:
    outputs = common_pb2.Outputs()
    path = local_path(f"{prefix}/outputs.pb")
    if path.exists():
        outputs.ParseFromString(path.read_bytes())
    return outputs


class DataProxy(DataProxyService):
    def __init__(self, runs: FlyteRuns, uploads: Uploads):
        self.runs = runs
        self.uploads = uploads

    async def create_upload_location(self, request: Any, ctx: Any) -> Any:
        if not request.filename:
            raise ConnectError(Code.INVALID_ARGUMENT, "an upload location needs a filename")
        root = request.filename_root or (request.content_md5.hex() if request.content_md5 else secrets.token_hex(8))
        org = request.org or "default"
        key = "/".join(_parts(org, request.project or "default", request.domain or "default", root, request.filename))
        expires_in = request.expires_in.seconds if request.HasField("expires_in") else 900
        signed, native, expires = self.uploads.location(key, max(60, min(expires_in, 3600)))
        response = dp.CreateUploadLocationResponse(signed_url=signed, native_url=native)
        response.expires_at.CopyFrom(timestamp(expires))
        return response

    async def upload_inputs(self, request: Any, ctx: Any) -> Any:
        data = request.inputs.SerializeToString(deterministic=True)
        digest = hashlib.sha256(data).hexdigest()
        project = request.run_id.project or request.project_id.name or "default"
        domain = request.run_id.domain or request.project_id.domain or "default"
        org = request.run_id.org or request.project_id.organization or "default"
        folder = self.runs.data_root / Path(*_parts(org, project, domain)) / "_inputs" / digest
        await asyncio.to_thread(_write_once, folder / "inputs.pb", data)
        return dp.UploadInputsResponse(
            offloaded_input_data=run_pb2.OffloadedInputData(uri=f"file://{folder / 'inputs.pb'}", inputs_hash=digest)
        )

    async def get_action_data(self, request: Any, ctx: Any) -> Any:
        action = find_action(self.runs, request.action_id)
        response = dp.GetActionDataResponse(inputs=read_inputs(action.input_uri), inputs_uri=action.input_uri)
        if action.output_uri:
            response.outputs.CopyFrom(read_outputs(action.output_uri))
            response.outputs_uri = action.output_uri
        return response

    async def tail_logs(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        action = find_action(self.runs, request.action_id)
        attempt = request.attempt or None
        sent = 0
        while True:
            tick = action.run.tick
            logs = self.runs.logs_of(action)
            lines = [entry for entry in logs[sent:] if attempt is None or entry[1] == attempt]
            sent = len(logs)
            if lines:
                yield dp.TailLogsResponse(logs=[dp.TailLogsResponse.Logs(lines=[_line(e) for e in lines])])
            if action.phase in TERMINAL:
                return
            await tick.wait()


def _line(entry: tuple[float, int, str, str]) -> logs_pb2.LogLine:
    ts, _, _, text = entry
    # The client prints each message as it is: the line keeps its end.
    return logs_pb2.LogLine(timestamp=timestamp(ts), message=text + "\n", originator=logs_pb2.USER)


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
