"""How the notify service plugs into the shared runtime and command line."""
from __future__ import annotations

import json

from careroute_platform.runtime import ServiceRuntime
from careroute_platform.service import ServiceDefinition

from .adapters.orm import metadata
from .bootstrap import components
from .entrypoints.api import create_app
from .entrypoints.consumers import consumer
from .entrypoints.workers import email_worker, webhook_worker
from .settings import NotifySettings


def workers(runtime: ServiceRuntime) -> list:
    """The consumer(s), the e-mail worker (fan-out + SMTP) and the webhook worker."""
    c = components(runtime)
    poll = c.settings.delivery_poll_seconds
    # Several consumers of the same group in one process share the partitions (per-case order is kept:
    # a partition has one consumer); more replicas scale the same way.
    consumers = [consumer(runtime) for _ in range(max(1, c.settings.consumer_instances))]
    return [*consumers,
            email_worker(c.deliveries, engine=runtime.engine, poll_seconds=poll),
            webhook_worker(c.deliveries, engine=runtime.engine, poll_seconds=poll)]


def dev_env(cfg) -> dict[str, str]:
    """Embedded-stack settings (prefixed NOTIFY_ by the devstack): the local SMTP sink, the directory
    client's development secret, and webhooks allowed to reach loopback receivers over plain http."""
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(cfg.smtp_port),
        "DIRECTORY_CLIENT_SECRET": "dev-careroute-notify-secret",
        "WEBHOOK_ALLOWED_NETWORKS": json.dumps(["127.0.0.0/8", "::1/128"]),
        "WEBHOOK_ALLOW_HTTP": "true",
    }


DEFINITION = ServiceDefinition(
    name="notify",
    settings_factory=NotifySettings,
    metadata=metadata,
    migrations="notify:migrations",
    create_app=create_app,
    workers=workers,
    dev_env=dev_env,
)
