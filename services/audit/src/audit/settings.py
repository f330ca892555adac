"""Audit service settings (env prefix `AUDIT_`). Lists are JSON in the environment, e.g.
`AUDIT_PREVIOUS_VERIFIER_KEYS='["careroute.iom.int/audit+1a2b3c4d+AX..."]'`."""
from __future__ import annotations

from pathlib import Path

from careroute_platform.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class AuditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    service_name: str = "audit"
    oidc_audience: str = "careroute-audit"
    migration_database_url: str | None = None

    # -- the log ----------------------------------------------------------------------------
    log_origin: str = Field("careroute.iom.int/audit",
                            description="First line of every checkpoint: names this log.")
    log_consumer_group: str = "audit-log"
    log_batch_max_records: int = Field(500, ge=1, le=5000,
                                       description="Records appended in one transaction at most.")
    log_poll_timeout_ms: int = Field(200, ge=10, le=5000)

    # -- checkpoints and keys ---------------------------------------------------------------
    # The signer (private) key: a string, or a file holding it (the file wins over nothing, the
    # string wins over the file). Only the checkpoint worker needs it; an API-only process can
    # run with `verifier_key` alone.
    signer_key: SecretStr | None = None
    signer_key_file: Path | None = None
    verifier_key: str | None = Field(None, description="Public key of the current signer (derived from "
                                                       "the signer key when that is configured).")
    previous_verifier_keys: list[str] = Field(default_factory=list,
                                              description="Public keys of earlier signers (rotation).")
    cosigner_keys: list[str] = Field(default_factory=list,
                                     description="Public keys of organisations allowed to cosign checkpoints.")
    checkpoint_interval_seconds: float = Field(5.0, gt=0)
    checkpoint_every_entries: int = Field(1000, ge=1,
                                          description="Issue a checkpoint sooner once this many entries wait.")

    # -- auditor API ------------------------------------------------------------------------
    export_max_entries: int = Field(1_000_000, ge=1)

    # -- anomaly rules (times are judged in working_timezone) -------------------------------
    anomaly_case_reads_threshold: int = Field(30, ge=1, description="Distinct cases one subject may read "
                                                                    "within the window before it is unusual.")
    anomaly_case_reads_window_seconds: int = Field(3600, ge=1)
    anomaly_case_resource_types: list[str] = Field(default_factory=lambda: ["case"])
    anomaly_read_words: list[str] = Field(
        default_factory=lambda: ["read", "view", "get", "export", "download", "open", "show"],
        description="An access counts as a read when one word of its action is in this list.")
    anomaly_denials_threshold: int = Field(5, ge=1)
    anomaly_denials_window_seconds: int = Field(600, ge=1)
    anomaly_off_hours_enabled: bool = True
    anomaly_off_hours_window_seconds: int = Field(86_400, ge=60, description="Off-hours fires once per "
                                                                           "subject per window (local time).")
    working_timezone: str = "America/Guayaquil"
    working_hours_start: int = Field(7, ge=0, le=23)
    working_hours_end: int = Field(19, ge=1, le=24)
    working_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday")

