"""Intake tables: cases, the identity vault, incidents, consents, duplicates, transfers and the
projection of referrals.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("survivor_code", sa.String(16), unique=True),
        sa.Column("office", sa.String(200), nullable=False),
        sa.Column("registered_by_office", sa.String(200), nullable=False),
        sa.Column("caseworker", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closure_reason", sa.String(32)),
        sa.Column("risk_level", sa.String(8)),
        sa.Column("safety_plan_in_place", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("needs", sa.ARRAY(sa.String(32)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("age_years", sa.SmallInteger),
        sa.Column("age_band", sa.String(8)),
        sa.Column("sex", sa.String(16)),
        sa.Column("gender_identity", sa.String(24)),
        sa.Column("nationality", sa.String(2)),
        sa.Column("ethnicity", sa.String(24)),
        sa.Column("mobility_status", sa.String(24)),
        sa.Column("disability", sa.ARRAY(sa.String(16)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("languages", sa.ARRAY(sa.String(3)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("province", sa.String(2)),
        sa.Column("canton", sa.String(4)),
        sa.Column("reporting_consent", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("clinical_window", JSONB),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("erased_at", sa.DateTime(timezone=True)),
        sa.Column("erasure_reason", sa.String(32)),
    )
    op.create_index("ix_cases_office_status", "cases", ["office", "status", "created_at"])
    op.create_table(
        "vault_keys",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("kek_id", sa.String(64), nullable=False, index=True),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "vault_fields",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("field", sa.String(32), primary_key=True),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "case_notes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("author_office", sa.String(200), nullable=False),
        sa.Column("note_type", sa.String(24), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("time_of_day", sa.String(16), nullable=False),
        sa.Column("occurred_time", sa.Time),
        sa.Column("location_type", sa.String(24), nullable=False),
        sa.Column("province", sa.String(2)),
        sa.Column("canton", sa.String(4)),
        sa.Column("gbvims_type", sa.String(24), nullable=False),
        sa.Column("context_flags", sa.ARRAY(sa.String(32)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("legal_types", sa.ARRAY(sa.String(32)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("sexual_violence", sa.Boolean, nullable=False),
        sa.Column("perpetrators", JSONB, nullable=False),
        sa.Column("reported_to", sa.ARRAY(sa.String(24)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_index("ix_incidents_stats", "incidents", ["occurred_on", "gbvims_type"])
    op.create_table(
        "consents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("given_by", sa.String(16), nullable=False),
        sa.Column("child_assent", sa.Boolean),
        sa.Column("caregiver_relationship", sa.String(24)),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recipient_organisation", sa.String(200)),
        sa.Column("recipient_service_type", sa.String(32)),
        sa.Column("categories", sa.ARRAY(sa.String(32)), nullable=False),
        sa.Column("reporting", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.Column("withdrawn_by", sa.String(64)),
        sa.Column("superseded_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "identity_fingerprints",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, index=True),
    )
    op.create_table(
        "duplicate_flags",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("other_case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("matched_on", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'open'")),
        sa.Column("resolved_by", sa.String(64)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.UniqueConstraint("case_id", "other_case_id", "matched_on", name="uq_duplicate_pair"),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("from_office", sa.String(200), nullable=False),
        sa.Column("to_office", sa.String(200), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("decline_reason", sa.String(32)),
        sa.Column("consent_id", sa.String(36), sa.ForeignKey("consents.id")),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
    )
    op.create_index("uq_transfers_one_pending", "transfers", ["case_id"], unique=True,
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "referral_access",
        sa.Column("referral_id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False, index=True),
        sa.Column("receiving_organisation", sa.String(200)),
        sa.Column("service_type", sa.String(32)),
        sa.Column("categories", sa.ARRAY(sa.String(32)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("access_until", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )


def downgrade() -> None:
    for table in ("referral_access", "transfers", "duplicate_flags", "identity_fingerprints", "consents",
                  "incidents", "case_notes", "vault_fields", "vault_keys", "cases"):
        op.drop_table(table)
