"""Settings every service reads. Each service subclasses `ServiceSettings` with its own env prefix
(`INTAKE_`, `REFERRAL_`, ...) so the same variable names work in the embedded stack, compose and
Kubernetes."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "careroute"
    environment: str = Field("development", description="development | production")
    database_url: str = "postgresql+psycopg://localhost/careroute"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    oidc_issuer: str = "http://127.0.0.1:8180/realms/careroute"
    oidc_audience: str = "careroute-api"
    # Clients whose tokens this service accepts (the `azp` claim).
    oidc_allowed_azp: list[str] = ["careroute-frontend", "careroute-cli"]
    oidc_algorithms: list[str] = ["RS256", "ES256"]
    oidc_leeway_seconds: int = 30
    jwks_min_refetch_seconds: float = 30.0
    jwks_cache_seconds: float = 300.0
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    max_body_bytes: int = 256 * 1024
    log_level: str = "INFO"
    public_base_url: str = "http://127.0.0.1:8080"
    # Consumer tuning: a group join waits for the rebalance timeout taken from max_poll_interval_ms.
    consumer_max_poll_interval_ms: int = 10_000
    consumer_session_timeout_ms: int = 6_000
    consumer_max_retries: int = 3
    consumer_retry_backoff_seconds: float = 0.2
    # Relay and worker processes serve /metrics and /livez here (the API serves them on http_port).
    metrics_port: int | None = None
    relay_poll_seconds: float = 1.0
    relay_batch_size: int = 500

    @property
    def jwks_url(self) -> str:
        return f"{self.oidc_issuer}/protocol/openid-connect/certs"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"
