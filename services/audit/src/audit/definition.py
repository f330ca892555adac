"""How the audit service plugs into the shared runtime and command line."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from careroute_platform.service import ServiceDefinition

from .adapters.keys import load_keys
from .adapters.orm import metadata
from .domain.checkpoint import generate_signer
from .entrypoints.api import create_app
from .settings import AuditSettings

DEV_ORIGIN = "careroute.iom.int/audit"


def workers(runtime) -> list:
    from . import metrics
    from .entrypoints.consumers import AuditLogConsumer
    from .entrypoints.workers import Checkpointer

    settings = runtime.settings
    metrics.watch(runtime.engine)
    return [AuditLogConsumer(runtime), Checkpointer(runtime, load_keys(settings))]


def dev_env(cfg) -> dict[str, str]:
    """Development only: a checkpoint signing key kept beside the embedded stack's data (the
    public key is written next to it for `careroute-audit-verify --key`)."""
    secrets = Path(cfg.run_dir) / "secrets"
    key_file, pub_file = secrets / "audit-signer.key", secrets / "audit-signer.pub"
    if not key_file.exists():
        secrets.mkdir(parents=True, exist_ok=True)
        skey, vkey = generate_signer(DEV_ORIGIN)
        key_file.touch(mode=0o600)
        key_file.write_text(skey + "\n")
        pub_file.write_text(vkey + "\n")
    return {"SIGNER_KEY_FILE": str(key_file), "LOG_ORIGIN": DEV_ORIGIN}


DEFINITION = ServiceDefinition(
    name="audit",
    settings_factory=AuditSettings,
    metadata=metadata,
    migrations="audit:migrations",
    create_app=create_app,
    workers=workers,
    dev_env=dev_env,
)
