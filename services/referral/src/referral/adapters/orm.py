"""The referral service's tables (SQLAlchemy Core). The platform tables (outbox, processed events,
idempotency keys) live in the same metadata so that one Alembic history covers the whole schema.

Directory tables follow Open Referral HSDS (organization, service, location, service_at_location,
schedule, contact); names are data, in Spanish and English. Case and consent tables are local
projections of intake's events: they hold codes and dates, never identity."""
from careroute_platform.runtime import platform_tables
from sqlalchemy import (
                        ARRAY,
                        Boolean,
                        Column,
                        DateTime,
                        Float,
                        ForeignKey,
                        Index,
                        Integer,
                        MetaData,
                        SmallInteger,
                        String,
                        Table,
                        Text,
                        Time,
                        UniqueConstraint,
                        text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()
platform = platform_tables(metadata)

Str = String(200)
Path = String(160)
Code = String(64)
TS = DateTime(timezone=True)

# -- service directory ------------------------------------------------------------------------
organisations = Table(
    "organisations", metadata,
    Column("id", String(36), primary_key=True),
    Column("group_path", Path, nullable=False, unique=True),     # the identity provider's group
    Column("kind", Code, nullable=False),
    Column("name_es", Str, nullable=False),
    Column("name_en", Str, nullable=False),
    Column("alternate_name", Str),
    Column("description_es", Text, nullable=False, server_default=""),
    Column("description_en", Text, nullable=False, server_default=""),
    Column("email", Str),
    Column("phone", String(40)),
    Column("website", String(300)),
    Column("status", Code, nullable=False, server_default="active"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", TS, nullable=False, server_default=text("now()")),
    Column("updated_at", TS, nullable=False, server_default=text("now()")),
)

services = Table(
    "services", metadata,
    Column("id", String(36), primary_key=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("service_type", Code, nullable=False, index=True),
    Column("name_es", Str, nullable=False),
    Column("name_en", Str, nullable=False),
    Column("description_es", Text, nullable=False, server_default=""),
    Column("description_en", Text, nullable=False, server_default=""),
    Column("application_process_es", Text),
    Column("application_process_en", Text),
    Column("status", Code, nullable=False, server_default="available"),
    Column("accepts_referrals", Boolean, nullable=False, server_default=text("true")),
    Column("languages", ARRAY(String(8)), nullable=False, server_default="{}"),
    Column("cost", Code, nullable=False, server_default="free"),
    Column("fees_description_es", Text),
    Column("fees_description_en", Text),
    Column("min_age", SmallInteger),
    Column("max_age", SmallInteger),
    Column("sexes", ARRAY(Code), nullable=False, server_default="{}"),
    Column("nationalities", ARRAY(String(3)), nullable=False, server_default="{}"),
    Column("mobility_statuses", ARRAY(Code), nullable=False, server_default="{}"),
    Column("eligibility_description_es", Text),
    Column("eligibility_description_en", Text),
    Column("open_24_7", Boolean, nullable=False, server_default=text("false")),
    Column("email", Str),
    Column("phone", String(40)),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", TS, nullable=False, server_default=text("now()")),
    Column("updated_at", TS, nullable=False, server_default=text("now()")),
)

locations = Table(
    "locations", metadata,
    Column("id", String(36), primary_key=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("name", Str, nullable=False),
    Column("province", String(80), nullable=False),
    Column("canton", String(80), nullable=False),
    Column("canton_key", String(80), nullable=False, index=True),   # normalised name, for search
    Column("province_code", String(2), nullable=False),               # INEC DPA codes, as intake's events
    Column("canton_code", String(4), nullable=False, index=True),
    Column("address", String(300)),
    Column("latitude", Float),
    Column("longitude", Float),
    # shelters: the address is never published; referrals are coordinated by phone
    Column("confidential", Boolean, nullable=False, server_default=text("false")),
)

service_at_location = Table(
    "service_at_location", metadata,
    Column("id", String(36), primary_key=True),
    Column("service_id", String(36), ForeignKey("services.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("location_id", String(36), ForeignKey("locations.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("service_id", "location_id"),
)

schedules = Table(
    "schedules", metadata,
    Column("id", String(36), primary_key=True),
    Column("service_id", String(36), ForeignKey("services.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("weekday", SmallInteger, nullable=False),    # 0 = Monday
    Column("opens_at", Time, nullable=False),
    Column("closes_at", Time, nullable=False),
)

contacts = Table(
    "contacts", metadata,
    Column("id", String(36), primary_key=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id", ondelete="CASCADE"), index=True),
    Column("service_id", String(36), ForeignKey("services.id", ondelete="CASCADE"), index=True),
    Column("name", Str, nullable=False),          # an institutional desk, never a private person
    Column("title", Str),
    Column("department", Str),
    Column("email", Str),
    Column("phone", String(40)),
)

# -- projections of intake's events -------------------------------------------------------------
cases = Table(
    "case_projection", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("registered", Boolean, nullable=False, server_default=text("false")),
    Column("office", Path),
    Column("caseworker", String(64)),
    Column("age_band", String(16)),
    Column("sex", Code),
    Column("nationality", String(8)),
    Column("mobility_status", Code),
    Column("province", String(80)),                 # INEC codes (2 and 4 digits)
    Column("canton", String(80)),
    Column("risk_level", Code),
    Column("needs", ARRAY(Code), nullable=False, server_default="{}"),
    Column("status", Code, nullable=False, server_default="open"),
    Column("reporting_consent", Boolean, nullable=False, server_default=text("false")),
    Column("sexual_violence", Boolean, nullable=False, server_default=text("false")),
    Column("case_version", Integer, nullable=False, server_default="0"),
    Column("status_changed_at", TS),
    Column("erased", Boolean, nullable=False, server_default=text("false")),
    Column("erased_at", TS),
    Column("updated_at", TS, nullable=False, server_default=text("now()")),
)

incidents = Table(
    "incident_projection", metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("gbvims_type", Code),
    Column("sexual_violence", Boolean, nullable=False, server_default=text("false")),
    Column("incident_at", TS),
    Column("pep_deadline", TS),
    Column("ec_deadline", TS),
)

consents = Table(
    "consent_projection", metadata,
    Column("consent_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("office", Path),
    Column("recipient_organisation", Path),
    Column("recipient_service_type", Code),
    Column("purpose", Code),                        # registration | sharing | transfer
    Column("granted", Boolean, nullable=False, server_default=text("false")),
    Column("granted_categories", ARRAY(Code), nullable=False, server_default="{}"),
    Column("withdrawn_categories", ARRAY(Code), nullable=False, server_default="{}"),
    Column("reporting", Boolean, nullable=False, server_default=text("false")),
    Column("expires_at", TS),
    Column("granted_at", TS),
    Column("withdrawn_at", TS),
)

# -- referrals ----------------------------------------------------------------------------------
referrals = Table(
    "referrals", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("referring_office", Path, nullable=False, index=True),
    Column("referring_caseworker", String(64), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("receiving_organisation", Path, nullable=False, index=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False),
    Column("service_id", String(36), ForeignKey("services.id"), nullable=False),
    Column("service_type", Code, nullable=False),
    Column("priority", Code, nullable=False),
    Column("status", Code, nullable=False, index=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("categories", ARRAY(Code), nullable=False),
    Column("services_requested", ARRAY(Code), nullable=False),
    Column("reason", Text),                         # free text: stays here, never in events
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("response_due_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("override_kinds", ARRAY(Code), nullable=False, server_default="{}"),
    Column("override_legal_basis", Code),
    Column("override_justification", Text),
    Column("override_by", String(64)),
    Column("first_response_at", TS),
    Column("accepted_at", TS),
    Column("accepted_by", String(64)),
    Column("declined_at", TS),
    Column("decline_reason", Code),
    Column("decline_note", Text),
    Column("revoked_at", TS),
    Column("revoke_reason", Code),
    Column("revoke_note", Text),
    Column("revoked_by", String(64)),
    Column("completed_at", TS),
    Column("counter_referral", JSONB),             # codes + note
    Column("closed_at", TS),
    Column("close_reason", Code),
    Column("close_note", Text),
    Column("expired_at", TS),
    Column("answered_by", String(64)),
    Column("answered_via_client", String(64)),
    Column("deadline_approaching_notified_at", TS),
    Column("overdue_notified_at", TS),
)
# One open referral per case and service: a second one is a mistake, not a retry.
Index("uq_referrals_open_case_service", referrals.c.case_id, referrals.c.service_id, unique=True,
      postgresql_where=text("status in ('pending', 'accepted')"))
Index("ix_referrals_pending_clock", referrals.c.response_due_at, postgresql_where=text("status = 'pending'"))

referral_history = Table(
    "referral_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(36), ForeignKey("referrals.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("event", Code, nullable=False),
    Column("status", Code, nullable=False),
    Column("reason_code", Code),
    Column("actor_subject", String(64)),
    Column("actor_organisation", Path),
    Column("actor_client", String(64)),
    Column("at", TS, nullable=False),
)

# What remains of a referral whose case was erased: that it existed, and when it was purged.
purged_referrals = Table(
    "purged_referrals", metadata,
    Column("referral_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("purged_at", TS, nullable=False),
)

# Needs that found no available service in the case's canton (referral requests and searches).
unmet_needs = Table(
    "unmet_needs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("service_type", Code, nullable=False),
    Column("province", String(80), nullable=False, server_default=""),
    Column("canton", String(80), nullable=False, server_default=""),
    Column("source", Code, nullable=False),
    Column("recorded_at", TS, nullable=False),
    UniqueConstraint("case_id", "service_type", "canton", name="uq_unmet_needs_case_type_canton"),
)
