"""Wiring: one set of adapters per runtime (directory client, renderer, mailer, webhook client, secret
box) shared by the API, the consumer and the workers of a process. Tests reach them through
`components(runtime)` to swap a clock or inspect a cache."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from careroute_platform.runtime import ServiceRuntime

from .adapters.directory import Directory, KeycloakDirectory
from .adapters.mailer import SmtpMailer
from .adapters.secretbox import SecretBox
from .adapters.templates import Renderer
from .adapters.webhook_client import WebhookClient
from .domain.targets import TargetPolicy
from .service_layer.delivery import DeliveryService
from .service_layer.handlers import EventHandlers
from .settings import NotifySettings


@dataclass
class Clock:
    """The time every part of notify reads; tests move it (`offset`) instead of sleeping."""
    offset_seconds: float = 0.0

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self.offset_seconds)


@dataclass
class Components:
    settings: NotifySettings
    directory: Directory
    renderer: Renderer
    mailer: SmtpMailer
    webhook_client: WebhookClient
    secretbox: SecretBox
    deliveries: DeliveryService
    handlers: EventHandlers
    clock: Clock = field(default_factory=Clock)

    def target_policy(self) -> TargetPolicy:
        return target_policy(self.settings)


def target_policy(settings: NotifySettings) -> TargetPolicy:
    return TargetPolicy.of(allow_http=settings.http_webhooks_allowed,
                           allowed_networks=settings.webhook_allowed_networks)


_lock = threading.Lock()


def components(runtime: ServiceRuntime, *, directory: Directory | None = None) -> Components:
    with _lock:
        existing = getattr(runtime, "notify_components", None)
        if existing is not None:
            return existing
        settings: NotifySettings = runtime.settings  # type: ignore[assignment]
        clock = Clock()
        directory = directory or KeycloakDirectory(
            server_url=settings.directory_base_url, realm=settings.directory_realm_name,
            client_id=settings.directory_client_id,
            client_secret=settings.directory_client_secret.get_secret_value(),
            cache_seconds=settings.directory_cache_seconds, timeout=settings.directory_timeout_seconds,
            verify=settings.directory_verify_tls)
        renderer = Renderer(overrides_dir=settings.template_overrides_dir, timezone=settings.display_timezone)
        mailer = SmtpMailer(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from,
                            msgid_domain=settings.smtp_message_id_domain, starttls=settings.smtp_starttls,
                            use_ssl=settings.smtp_ssl, username=settings.smtp_username,
                            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                            timeout=settings.smtp_timeout_seconds)
        webhook_client = WebhookClient(timeout=settings.webhook_timeout_seconds,
                                       policy=lambda: target_policy(settings))
        secretbox = SecretBox(settings.secrets_key.get_secret_value())
        deliveries = DeliveryService(settings=settings, session_factory=runtime.session_factory,
                                     uow_factory=runtime.uow, directory=directory, renderer=renderer,
                                     mailer=mailer, webhook_client=webhook_client, secretbox=secretbox, clock=clock)
        built = Components(settings=settings, directory=directory, renderer=renderer, mailer=mailer,
                           webhook_client=webhook_client, secretbox=secretbox, deliveries=deliveries,
                           handlers=EventHandlers(settings, clock=clock), clock=clock)
        runtime.notify_components = built  # type: ignore[attr-defined]
        return built
