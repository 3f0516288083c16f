"""Long-running app environments (``flyte.app``)."""

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
]
