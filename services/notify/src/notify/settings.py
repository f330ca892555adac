from pydantic_settings import SettingsConfigDict

from careroute_platform.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore")

    service_name: str = "notify"
    oidc_audience: str = "careroute-notify"
    migration_database_url: str | None = None
