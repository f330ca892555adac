"""How the audit service plugs into the shared runtime and command line."""
from careroute_platform.service import ServiceDefinition

from .adapters.orm import metadata
from .entrypoints.api import create_app
from .settings import AuditSettings

DEFINITION = ServiceDefinition(
    name="audit",
    settings_factory=AuditSettings,
    metadata=metadata,
    migrations="audit:migrations",
    create_app=create_app,
)
