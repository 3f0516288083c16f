"""Long-running app environments (``flyte.app``): declared here, served by ``flyte.serve``
(docs/apps.md)."""

from roost.runtime.task_api.app_context import AppContext, ctx, get_parameter
from roost.spec.app_environment import AppEnvironment
from roost.spec.app_types import (
    AppEndpoint,
    ArtifactValue,
    Domain,
    Link,
    Parameter,
    Port,
    RunOutput,
    Scaling,
    Subdomain,
    Timeouts,
)

__all__ = [
    "AppContext",
    "AppEndpoint",
    "AppEnvironment",
    "ArtifactValue",
    "Domain",
    "Link",
    "Parameter",
    "Port",
    "RunOutput",
    "Scaling",
    "Subdomain",
    "Timeouts",
    "ctx",
    "get_parameter",
]
