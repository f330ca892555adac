"""How the referral service plugs into the shared runtime and command line."""
from careroute_platform.service import ServiceDefinition

from .adapters.orm import metadata
from .entrypoints.api import create_app
from .settings import ReferralSettings

DEFINITION = ServiceDefinition(
    name="referral",
    settings_factory=ReferralSettings,
    metadata=metadata,
    migrations="referral:migrations",
    create_app=create_app,
)
