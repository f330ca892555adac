"""Notify tables: inbox entries and read marks, preferences, webhook endpoints, deliveries and their
attempt log, the referral projection and erased-case tombstones.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOW = sa.func.now()
ID = sa.String(128)
ORG = sa.String(200)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False, unique=True),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("event_type", sa.String(160), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(260), nullable=False),
        sa.Column("subject", ID),
        sa.Column("organisation", ORG),
        sa.Column("audience_roles", sa.ARRAY(sa.String(64)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("case_id", ID),
        sa.Column("referral_id", ID),
        sa.Column("priority", sa.String(16)),
        sa.Column("mandatory", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("link_path", sa.String(300), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True)),
        sa.Column("params", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("email_status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("email_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("email_next_attempt_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("event_id", "recipient", name="uq_notifications_event_recipient"),
        sa.CheckConstraint("(subject is not null) or (organisation is not null)", name="ck_notifications_audience"),
        sa.CheckConstraint("email_status in ('pending', 'done', 'none')", name="ck_notifications_email_status"),
    )
    op.create_index("ix_notifications_subject", "notifications", ["subject", "seq"])
    op.create_index("ix_notifications_organisation", "notifications", ["organisation", "seq"])
    op.create_index("ix_notifications_case", "notifications", ["case_id"])
    op.create_index("ix_notifications_fanout", "notifications", ["email_next_attempt_at"],
                    postgresql_where=sa.text("email_status = 'pending'"))

    op.create_table(
        "notification_reads",
        sa.Column("notification_id", UUID(as_uuid=False), sa.ForeignKey("notifications.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("subject", ID, primary_key=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_index("ix_notification_reads_subject", "notification_reads", ["subject"])

    op.create_table(
        "preferences",
        sa.Column("subject", ID, primary_key=True),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("inbox", sa.Boolean, nullable=False),
        sa.Column("email", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("organisation", ORG, nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("event_types", sa.ARRAY(sa.String(64)), nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=False),
        sa.Column("previous_secret", sa.LargeBinary),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("disabled_reason", sa.String(64)),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("status in ('active', 'disabled')", name="ck_webhook_endpoints_status"),
    )
    op.create_index("ix_webhook_endpoints_organisation", "webhook_endpoints", ["organisation"])

    op.create_table(
        "deliveries",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("event_type", sa.String(160), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(260), nullable=False),
        sa.Column("subject", ID),
        sa.Column("notification_id", UUID(as_uuid=False), sa.ForeignKey("notifications.id", ondelete="CASCADE")),
        sa.Column("endpoint_id", UUID(as_uuid=False), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE")),
        sa.Column("organisation", ORG),
        sa.Column("case_id", ID),
        sa.Column("kind", sa.String(64)),
        sa.Column("payload", JSONB),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("retry_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("horizon_start", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("lease_token", UUID(as_uuid=False)),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("event_id", "recipient", "channel", name="uq_deliveries_event_recipient_channel"),
        sa.CheckConstraint("channel in ('email', 'webhook')", name="ck_deliveries_channel"),
        sa.CheckConstraint("status in ('pending', 'delivered', 'failed', 'dead')", name="ck_deliveries_status"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["channel", "next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_deliveries_endpoint", "deliveries", ["endpoint_id", "created_at"])
    op.create_index("ix_deliveries_case", "deliveries", ["case_id"])

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("delivery_id", UUID(as_uuid=False), sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error_class", sa.String(64)),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id", "attempt"])

    op.create_table(
        "referrals",
        sa.Column("referral_id", ID, primary_key=True),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("referring_office", ORG, nullable=False),
        sa.Column("referring_caseworker", ID),
        sa.Column("receiving_organisation", ORG, nullable=False),
        sa.Column("service_type", sa.String(64)),
        sa.Column("priority", sa.String(16)),
        sa.Column("status", sa.String(32)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_referrals_case_id", "referrals", ["case_id"])

    op.create_table(
        "erased_cases",
        sa.Column("case_id", ID, primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )


def downgrade() -> None:
    for table in ("erased_cases", "referrals", "delivery_attempts", "deliveries", "webhook_endpoints",
                  "preferences", "notification_reads", "notifications"):
        op.drop_table(table)
