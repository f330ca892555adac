"""How the intake service plugs into the shared runtime and command line."""
from careroute_platform.service import ServiceDefinition

from .adapters.orm import metadata
from .entrypoints.api import create_app
from .settings import IntakeSettings

DEFINITION = ServiceDefinition(
    name="intake",
    settings_factory=IntakeSettings,
    metadata=metadata,
    migrations="intake:migrations",
    create_app=create_app,
)
