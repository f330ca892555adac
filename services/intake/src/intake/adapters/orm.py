"""The intake service's tables. The platform tables (outbox, processed events, idempotency keys)
live in the same metadata so that one Alembic history covers the whole schema.

Identity never sits in these columns in the clear: it is sealed in `vault_fields` with the case's
data key, which is stored only wrapped (`vault_keys`). Everything else is codes."""
from careroute_platform.runtime import platform_tables
from sqlalchemy import (
                        ARRAY,
                        Boolean,
                        Column,
                        Date,
                        DateTime,
                        ForeignKey,
                        Index,
                        Integer,
                        LargeBinary,
                        MetaData,
                        SmallInteger,
                        String,
                        Table,
                        Time,
                        UniqueConstraint,
                        func,
                        text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()
platform = platform_tables(metadata)

_ts = {"nullable": False, "server_default": func.now()}

cases = Table(
    "cases", metadata,
    Column("id", String(36), primary_key=True),
    Column("survivor_code", String(16), unique=True),          # null once erased
    Column("office", String(200), nullable=False),            # owning office / organisation (group path)
    Column("registered_by_office", String(200), nullable=False),
    Column("caseworker", String(64)),
    Column("status", String(16), nullable=False),
    Column("closure_reason", String(32)),
    Column("risk_level", String(8)),
    Column("safety_plan_in_place", Boolean, nullable=False, server_default=text("false")),
    Column("needs", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    # non-identifying profile
    Column("age_years", SmallInteger),
    Column("age_band", String(8)),
    Column("sex", String(16)),
    Column("gender_identity", String(24)),
    Column("nationality", String(2)),
    Column("ethnicity", String(24)),
    Column("mobility_status", String(24)),
    Column("disability", ARRAY(String(16)), nullable=False, server_default=text("'{}'")),
    Column("languages", ARRAY(String(3)), nullable=False, server_default=text("'{}'")),
    Column("province", String(2)),
    Column("canton", String(4)),
    Column("reporting_consent", Boolean, nullable=False, server_default=text("false")),
    Column("clinical_window", JSONB),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("created_at", DateTime(timezone=True), **_ts),
    Column("updated_at", DateTime(timezone=True), **_ts),
    Column("closed_at", DateTime(timezone=True)),
    Column("erased_at", DateTime(timezone=True)),
    Column("erasure_reason", String(32)),
)
Index("ix_cases_office_status", cases.c.office, cases.c.status, cases.c.created_at)

vault_keys = Table(
    "vault_keys", metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("kek_id", String(64), nullable=False, index=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), **_ts),
    Column("rewrapped_at", DateTime(timezone=True)),
)

vault_fields = Table(
    "vault_fields", metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("field", String(32), primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("updated_at", DateTime(timezone=True), **_ts),
)

case_notes = Table(
    "case_notes", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("author", String(64), nullable=False),
    Column("author_office", String(200), nullable=False),
    Column("note_type", String(24), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), **_ts),
)

incidents = Table(
    "incidents", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("occurred_on", Date, nullable=False),
    Column("time_of_day", String(16), nullable=False),
    Column("occurred_time", Time),
    Column("location_type", String(24), nullable=False),
    Column("province", String(2)),
    Column("canton", String(4)),
    Column("gbvims_type", String(24), nullable=False),
    Column("context_flags", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("legal_types", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("sexual_violence", Boolean, nullable=False),
    Column("perpetrators", JSONB, nullable=False),
    Column("reported_to", ARRAY(String(24)), nullable=False, server_default=text("'{}'")),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), **_ts),
)
Index("ix_incidents_stats", incidents.c.occurred_on, incidents.c.gbvims_type)

consents = Table(
    "consents", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("purpose", String(16), nullable=False),        # registration | sharing | transfer
    Column("given_by", String(16), nullable=False),
    Column("child_assent", Boolean),
    Column("caregiver_relationship", String(24)),
    Column("given_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("recipient_organisation", String(200)),
    Column("recipient_service_type", String(32)),
    Column("categories", ARRAY(String(32)), nullable=False),
    Column("reporting", Boolean, nullable=False, server_default=text("false")),
    Column("expires_at", DateTime(timezone=True)),
    Column("withdrawn_at", DateTime(timezone=True)),
    Column("withdrawn_by", String(64)),
    Column("superseded_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), **_ts),
)

identity_fingerprints = Table(
    "identity_fingerprints", metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("digest", String(64), nullable=False, index=True),
)

duplicate_flags = Table(
    "duplicate_flags", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("other_case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("matched_on", String(16), nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'open'")),
    Column("resolved_by", String(64)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), **_ts),
    UniqueConstraint("case_id", "other_case_id", "matched_on", name="uq_duplicate_pair"),
)

transfers = Table(
    "transfers", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("from_office", String(200), nullable=False),
    Column("to_office", String(200), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("reason_code", String(32), nullable=False),
    Column("decline_reason", String(32)),
    Column("consent_id", String(36), ForeignKey("consents.id")),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", DateTime(timezone=True), **_ts),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, server_default=text("1")),
)
Index("uq_transfers_one_pending", transfers.c.case_id, unique=True, postgresql_where=text("status = 'pending'"))

referral_access = Table(
    "referral_access", metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("receiving_organisation", String(200)),
    Column("service_type", String(32)),
    Column("categories", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("status", String(16), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Column("access_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), **_ts),
)
