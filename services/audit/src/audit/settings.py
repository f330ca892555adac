from pydantic_settings import SettingsConfigDict

from careroute_platform.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    service_name: str = "audit"
    oidc_audience: str = "careroute-audit"
    migration_database_url: str | None = None
