"""The notify service's settings (environment variables prefixed `NOTIFY_`).

Every knob that production tunes differently from development lives here: the SMTP relay, the
directory client, the webhook retry schedule and the list of private networks webhooks may reach."""
from __future__ import annotations

import base64
import ipaddress

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from careroute_platform.settings import ServiceSettings

# A fixed key for the embedded development stack only; production refuses to start with it.
DEVELOPMENT_SECRETS_KEY = base64.b64encode(b"careroute-dev-notify-secrets-key").decode()


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore")

    service_name: str = "notify"
    oidc_audience: str = "careroute-notify"
    migration_database_url: str | None = None
    # Institutional systems call the webhook admin API with their own client-credentials tokens.
    oidc_allowed_azp: list[str] = ["careroute-frontend", "careroute-cli"]

    # -- the identity provider's directory (Keycloak admin API, client credentials) --------------
    directory_server_url: str | None = None           # default: derived from oidc_issuer
    directory_realm: str | None = None                # default: derived from oidc_issuer
    directory_client_id: str = "careroute-notify"
    directory_client_secret: SecretStr = SecretStr("")
    directory_cache_seconds: float = 300.0
    directory_timeout_seconds: int = 10
    directory_verify_tls: bool = True

    # -- who is told ------------------------------------------------------------------------------
    # Anomalies go to an independent oversight office, never to the subject's own line management.
    anomaly_oversight_group: str = "/iom/oversight"
    anomaly_oversight_roles: list[str] = ["auditor", "supervisor"]
    # Who administers an organisation's webhooks (always only for their own organisation).
    webhook_admin_roles: list[str] = ["integration-client", "supervisor", "government-official"]

    # -- e-mail -----------------------------------------------------------------------------------
    email_enabled: bool = True
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False                       # STARTTLS on a plain connection (port 587)
    smtp_ssl: bool = False                            # implicit TLS (port 465)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 15.0
    smtp_from: str = "Care Route <no-reply@careroute.iom.int>"
    smtp_message_id_domain: str = "careroute.iom.int"
    email_retry_base_seconds: float = 15.0
    email_retry_max_seconds: float = 900.0
    template_overrides_dir: str | None = None          # searched before the packaged templates
    display_timezone: str = "America/Guayaquil"

    # -- consumer ---------------------------------------------------------------------------------
    consumer_fetch_max_wait_ms: int = 50
    consumer_instances: int = 1                       # consumers of the group per worker process

    # -- delivery worker ----------------------------------------------------------------------------
    delivery_poll_seconds: float = 1.0
    delivery_batch_size: int = 50
    delivery_lease_seconds: float = 120.0
    directory_retry_base_seconds: float = 5.0
    directory_retry_max_seconds: float = 300.0

    # -- webhooks -----------------------------------------------------------------------------------
    webhook_timeout_seconds: float = 10.0
    webhook_concurrency: int = 8
    webhook_retry_base_seconds: float = 5.0
    webhook_retry_max_seconds: float = 7200.0          # the longest pause between two attempts
    webhook_retry_horizon_seconds: float = 72 * 3600.0  # after this a delivery is dead (replayable)
    webhook_disable_after_failures: int = 50           # consecutive failures ...
    webhook_disable_after_seconds: float = 24 * 3600.0  # ... spread over at least this long
    webhook_secret_rotation_grace_seconds: float = 24 * 3600.0
    # Networks webhooks may reach although private/loopback (CIDRs); empty in production.
    webhook_allowed_networks: list[str] = []
    webhook_allow_http: bool = False                   # plain http (never in production)
    webhook_max_endpoints_per_organisation: int = 20
    secrets_key: SecretStr = SecretStr(DEVELOPMENT_SECRETS_KEY)  # base64 of 32 bytes (AES-256-GCM)

    # -- inbox live stream ------------------------------------------------------------------------
    sse_keepalive_seconds: float = 15.0
    sse_poll_seconds: float = 30.0                    # fallback when LISTEN/NOTIFY is unavailable
    sse_retry_ms: int = 3000

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value

    @model_validator(mode="after")
    def _production_rules(self) -> "NotifySettings":
        if self.is_production:
            if self.secrets_key.get_secret_value() == DEVELOPMENT_SECRETS_KEY:
                raise ValueError("NOTIFY_SECRETS_KEY must be set in production")
            if self.webhook_allow_http:
                raise ValueError("plain-http webhooks are not allowed in production")
            if self.email_enabled and not (self.smtp_starttls or self.smtp_ssl):
                raise ValueError("production e-mail needs NOTIFY_SMTP_STARTTLS or NOTIFY_SMTP_SSL")
        key = base64.b64decode(self.secrets_key.get_secret_value())
        if len(key) != 32:
            raise ValueError("NOTIFY_SECRETS_KEY must be base64 of 32 bytes")
        return self

    @property
    def directory_base_url(self) -> str:
        return self.directory_server_url or self.oidc_issuer.split("/realms/")[0].rstrip("/") + "/"

    @property
    def directory_realm_name(self) -> str:
        return self.directory_realm or self.oidc_issuer.rstrip("/").rsplit("/realms/", 1)[-1]

    @property
    def http_webhooks_allowed(self) -> bool:
        return self.webhook_allow_http and not self.is_production
