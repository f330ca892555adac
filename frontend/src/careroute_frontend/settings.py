"""Settings of the staff frontend. Every variable carries the prefix FRONTEND_ (the embedded stack,
compose and Kubernetes set the same names; see devstack's `frontend_env()`)."""
from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class FrontendSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTEND_", extra="ignore")

    environment: str = Field("development", description="development | production")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # The origin users type in their browser: redirect URIs, the Origin check and cookie security
    # derive from it. Behind a TLS-terminating proxy this is the https URL.
    public_base_url: str = "http://127.0.0.1:8080"

    intake_url: str = "http://127.0.0.1:8001"
    referral_url: str = "http://127.0.0.1:8002"
    notify_url: str = "http://127.0.0.1:8003"
    audit_url: str = "http://127.0.0.1:8004"
    service_timeout_seconds: float = 10.0
    # Audit-log verifier keys obtained through a channel independent of the audit service (note
    # format: name+keyid+base64key). Empty: the keys the audit service publishes are used.
    audit_verifier_keys: list[str] = []

    oidc_issuer: str = "http://127.0.0.1:8180/realms/careroute"
    oidc_client_id: str = "careroute-frontend"
    oidc_client_secret: SecretStr = SecretStr("dev-frontend-secret")
    oidc_scope: str = "openid profile email"
    oidc_algorithms: list[str] = ["RS256", "ES256"]
    oidc_leeway_seconds: int = 30

    # Sessions (server-side; the browser only holds an opaque random id).
    session_idle_timeout_seconds: int = 15 * 60
    session_max_lifetime_seconds: int = 10 * 60 * 60
    # Refresh the access token when it has less than this left.
    token_refresh_margin_seconds: int = 30
    # Pending logins (state, nonce, PKCE verifier) expire after this.
    login_transaction_seconds: int = 600

    default_locale: str = "es"
    max_body_bytes: int = 256 * 1024
    log_level: str = "INFO"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def secure_cookies(self) -> bool:
        return self.public_base_url.startswith("https://")

    @property
    def session_cookie_name(self) -> str:
        # The __Host- prefix makes the browser refuse the cookie unless Secure, Path=/ and no Domain.
        return "__Host-careroute" if self.secure_cookies else "careroute_session"

    @property
    def redirect_uri(self) -> str:
        return self.public_base_url.rstrip("/") + "/auth/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.public_base_url.rstrip("/") + "/signed-out"

    def service_url(self, service: str) -> str:
        return getattr(self, f"{service}_url").rstrip("/")
