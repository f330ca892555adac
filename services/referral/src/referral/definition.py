"""How the referral service plugs into the shared runtime and command line."""
from careroute_platform.runtime import ServiceRuntime
from careroute_platform.service import ServiceDefinition

from .adapters.orm import metadata
from .entrypoints.api import create_app
from .entrypoints.consumers import projection_consumer
from .service_layer.clocks import ReferralClock
from .service_layer.context import Context
from .settings import ReferralSettings


def workers(runtime: ServiceRuntime) -> list:
    """The projection consumer (careroute.case, careroute.consent) and the referral clock."""
    ctx = Context(runtime)
    return [projection_consumer(ctx), ReferralClock(ctx)]


def dev_env(cfg) -> dict[str, str]:
    """Embedded stack only: seed the directory and point shared-data links at the local intake."""
    return {"SEED_DIRECTORY": "true", "INTAKE_BASE_URL": cfg.service_url("intake")}


DEFINITION = ServiceDefinition(
    name="referral",
    settings_factory=ReferralSettings,
    metadata=metadata,
    migrations="referral:migrations",
    create_app=create_app,
    workers=workers,
    dev_env=dev_env,
)
