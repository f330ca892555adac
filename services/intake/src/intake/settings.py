from pydantic_settings import SettingsConfigDict

from careroute_platform.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    service_name: str = "intake"
    oidc_audience: str = "careroute-intake"
    migration_database_url: str | None = None
