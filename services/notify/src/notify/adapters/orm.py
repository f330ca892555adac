"""The notify service's tables. The platform tables (outbox, processed events, idempotency keys)
live in the same metadata so that one Alembic history covers the whole schema.

No table holds personal data: recipients are subject ids and group paths (e-mail addresses are read
from the directory at send time and never stored), notifications hold ids, codes, a deadline and a link
path, webhook payloads hold the same, and the delivery log holds status codes and error classes."""
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, DateTime, ForeignKey, Identity,
                        Index, Integer, LargeBinary, MetaData, String, Table, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from careroute_platform.runtime import platform_tables

metadata = MetaData()
platform = platform_tables(metadata)

ID = String(128)
ORG = String(200)

# One inbox entry per (event, recipient). A recipient is a person ("user:<sub>", addressed as a member
# of `organisation`) or an organisation's members holding one of `audience_roles` ("org:<path>").
notifications = Table(
    "notifications", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("event_id", ID, nullable=False),
    Column("event_type", String(160), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("recipient", String(260), nullable=False),
    Column("subject", ID),
    Column("organisation", ORG),
    Column("audience_roles", ARRAY(String(64)), nullable=False, server_default=text("'{}'")),
    Column("case_id", ID),
    Column("referral_id", ID),
    Column("priority", String(16)),
    Column("mandatory", Boolean, nullable=False, server_default=text("false")),
    Column("reference", String(64), nullable=False),
    Column("link_path", String(300), nullable=False),
    Column("deadline", DateTime(timezone=True)),
    Column("params", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # E-mail fan-out: the worker resolves the audience in the directory and writes one e-mail delivery
    # per person; done outside the consumer so an unreachable directory delays mail, never drops events.
    Column("email_status", String(16), nullable=False, server_default="pending"),
    Column("email_attempts", Integer, nullable=False, server_default="0"),
    Column("email_next_attempt_at", DateTime(timezone=True)),
    UniqueConstraint("event_id", "recipient", name="uq_notifications_event_recipient"),
    CheckConstraint("(subject is not null) or (organisation is not null)", name="ck_notifications_audience"),
    CheckConstraint("email_status in ('pending', 'done', 'none')", name="ck_notifications_email_status"),
)
Index("ix_notifications_subject", notifications.c.subject, notifications.c.seq)
Index("ix_notifications_organisation", notifications.c.organisation, notifications.c.seq)
Index("ix_notifications_case", notifications.c.case_id)
Index("ix_notifications_fanout", notifications.c.email_next_attempt_at,
      postgresql_where=text("email_status = 'pending'"))

notification_reads = Table(
    "notification_reads", metadata,
    Column("notification_id", UUID(as_uuid=False), ForeignKey("notifications.id", ondelete="CASCADE"),
           primary_key=True),
    Column("subject", ID, primary_key=True),
    Column("read_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_notification_reads_subject", notification_reads.c.subject)

preferences = Table(
    "preferences", metadata,
    Column("subject", ID, primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("inbox", Boolean, nullable=False),
    Column("email", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

webhook_endpoints = Table(
    "webhook_endpoints", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("organisation", ORG, nullable=False),
    Column("url", String(2048), nullable=False),
    Column("event_types", ARRAY(String(64)), nullable=False),
    Column("secret", LargeBinary, nullable=False),              # AES-256-GCM, see adapters.secretbox
    Column("previous_secret", LargeBinary),                     # still signed with during a rotation
    Column("previous_secret_expires_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("disabled_reason", String(64)),
    Column("disabled_at", DateTime(timezone=True)),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("failing_since", DateTime(timezone=True)),
    Column("created_by", ID, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint("status in ('active', 'disabled')", name="ck_webhook_endpoints_status"),
)
Index("ix_webhook_endpoints_organisation", webhook_endpoints.c.organisation)

# E-mail and webhook sends, made by the delivery worker after the consumer's transaction committed.
# One row per (event, recipient, channel): a re-delivered event cannot cause a second send.
deliveries = Table(
    "deliveries", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("event_id", ID, nullable=False),
    Column("event_type", String(160), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(260), nullable=False),         # "user:<sub>" | "endpoint:<id>"
    Column("subject", ID),
    Column("notification_id", UUID(as_uuid=False), ForeignKey("notifications.id", ondelete="CASCADE")),
    Column("endpoint_id", UUID(as_uuid=False), ForeignKey("webhook_endpoints.id", ondelete="CASCADE")),
    Column("organisation", ORG),
    Column("case_id", ID),
    Column("kind", String(64)),
    Column("payload", JSONB),                                 # webhook body: ids, codes and a link only
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),            # all attempts, ever
    Column("retry_count", Integer, nullable=False, server_default="0"),         # failures since (re)start
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("horizon_start", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lease_token", UUID(as_uuid=False)),
    Column("lease_expires_at", DateTime(timezone=True)),
    Column("last_status_code", Integer),
    Column("last_error", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True)),
    UniqueConstraint("event_id", "recipient", "channel", name="uq_deliveries_event_recipient_channel"),
    CheckConstraint("channel in ('email', 'webhook')", name="ck_deliveries_channel"),
    CheckConstraint("status in ('pending', 'delivered', 'failed', 'dead')", name="ck_deliveries_status"),
)
Index("ix_deliveries_due", deliveries.c.channel, deliveries.c.next_attempt_at,
      postgresql_where=text("status = 'pending'"))
Index("ix_deliveries_endpoint", deliveries.c.endpoint_id, deliveries.c.created_at)
Index("ix_deliveries_case", deliveries.c.case_id)

delivery_attempts = Table(
    "delivery_attempts", metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("delivery_id", UUID(as_uuid=False), ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("status_code", Integer),
    Column("error_class", String(64)),
)
Index("ix_delivery_attempts_delivery", delivery_attempts.c.delivery_id, delivery_attempts.c.attempt)

# A local projection of referrals (ids and codes), to know which organisations hold a referral of a
# case when its consent is withdrawn.
referrals = Table(
    "referrals", metadata,
    Column("referral_id", ID, primary_key=True),
    Column("case_id", ID, nullable=False, index=True),
    Column("referring_office", ORG, nullable=False),
    Column("referring_caseworker", ID),
    Column("receiving_organisation", ORG, nullable=False),
    Column("service_type", String(64)),
    Column("priority", String(16)),
    Column("status", String(32)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Erased cases: an event about an erased case that arrives late (another topic, a retry) is ignored.
erased_cases = Table(
    "erased_cases", metadata,
    Column("case_id", ID, primary_key=True),
    Column("erased_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
