"""How the intake service plugs into the shared runtime and command line."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from careroute_platform.service import ServiceDefinition

from .adapters.orm import metadata
from .entrypoints.api import create_app
from .settings import IntakeSettings


def workers(runtime) -> list:
    from .entrypoints.clock import TransferClock
    from .entrypoints.consumers import referral_consumer
    from .service_layer.context import intake_context
    from .service_layer.keys import KeyRewrapper

    ctx = intake_context(runtime)
    out = [referral_consumer(runtime, ctx), TransferClock(ctx)]
    if runtime.settings.rewrap_in_background:
        out.append(KeyRewrapper(ctx))
    return out


def dev_env(cfg) -> dict[str, str]:
    """Development keys for the embedded stack, generated once under the run directory (0600)."""
    from .vault.keyring import write_dev_keys

    kek_file, hmac_file = write_dev_keys(cfg.run_dir / "secrets")
    return {"KEK_FILE": str(kek_file), "DUPLICATE_HMAC_KEY_FILE": str(hmac_file)}


DEFINITION = ServiceDefinition(
    name="intake",
    settings_factory=IntakeSettings,
    metadata=metadata,
    migrations="intake:migrations",
    create_app=create_app,
    workers=workers,
    dev_env=dev_env,
)
