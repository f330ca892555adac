from pydantic_settings import SettingsConfigDict

from careroute_platform.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    service_name: str = "referral"
    oidc_audience: str = "careroute-referral"
    migration_database_url: str | None = None
