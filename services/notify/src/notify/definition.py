"""How the notify service plugs into the shared runtime and command line."""
from careroute_platform.service import ServiceDefinition

from .adapters.orm import metadata
from .entrypoints.api import create_app
from .settings import NotifySettings

DEFINITION = ServiceDefinition(
    name="notify",
    settings_factory=NotifySettings,
    metadata=metadata,
    migrations="notify:migrations",
    create_app=create_app,
)
