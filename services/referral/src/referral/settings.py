from careroute_platform.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    service_name: str = "referral"
    oidc_audience: str = "careroute-referral"
    migration_database_url: str | None = None
    # Where a receiver reads the identity and case data it is entitled to (this service holds none).
    intake_base_url: str = Field("http://127.0.0.1:8001", description="intake service base URL for shared-data links")
    consumer_group: str = "referral"
    # Clocks: warn at this fraction of the response window; expire pending referrals this many hours
    # after the deadline (see domain/deadlines.py for why there is a grace period).
    deadline_approaching_fraction: float = 0.75
    expiry_grace_hours: dict[str, float] = Field(default_factory=lambda: {"emergency": 12, "urgent": 24, "normal": 72})
    clock_interval_seconds: float = 30.0
    clock_batch_size: int = 200
    # Statistics: counts below this are withheld.
    statistics_min_cell: int = 5
    # Fill the service directory with the Care Route seed on start (the embedded stack turns it on).
    seed_directory: bool = False
