from pathlib import Path

from careroute_platform.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    service_name: str = "intake"
    oidc_audience: str = "careroute-intake"
    migration_database_url: str | None = None

    # --- the identity vault (see intake/vault/keyring.py) --------------------------------------
    kek: SecretStr | None = Field(None, description="current KEK as '<key-id>:<base64 32 bytes>'")
    kek_previous: list[SecretStr] = Field(default_factory=list, description="previous KEKs, same form (JSON list)")
    kek_file: Path | None = Field(None, description='JSON key file {"current": id, "keys": {id: base64}}')
    rewrap_in_background: bool = True
    rewrap_batch_size: int = Field(200, ge=1, le=5000)
    rewrap_interval_seconds: float = Field(60.0, gt=0)

    # --- possible duplicates ------------------------------------------------------------------
    duplicate_hmac_key: SecretStr | None = Field(None, description="base64, at least 32 bytes")
    duplicate_hmac_key_file: Path | None = None

    # --- survivor codes: office -> three-letter prefix (organisations are data, not code) -------
    survivor_code_prefixes: dict[str, str] = Field(default_factory=lambda: {
        "/iom/tulcan": "TUL", "/iom/ibarra": "IBA", "/iom/lago-agrio": "LAG", "/iom/huaquillas": "HUA",
        "/iom/guayaquil": "GYE", "/iom/cuenca": "CUE", "/iom/centro-amor-quito": "UIO",
        "/civil-society/alas-de-colibri": "ALA", "/civil-society/quimera": "QUI",
    })

    # --- clocks and periods --------------------------------------------------------------------
    transfer_ttl_hours: int = Field(72, ge=1, le=720)
    transfer_clock_seconds: float = Field(30.0, gt=0)
    completed_referral_access_days: int = Field(14, ge=0, le=90)

    # --- statistics ------------------------------------------------------------------------------
    statistics_min_cell: int = Field(5, ge=5, description="cells under this count are suppressed")

    # --- rate limits on reads that reveal identity (per caller, per API replica) --------------------
    identity_reads_per_minute: int = Field(30, ge=1)
    exports_per_minute: int = Field(5, ge=1)
