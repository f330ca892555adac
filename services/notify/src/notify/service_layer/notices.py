"""Writing notices and webhook deliveries inside a unit of work.

Everything here runs in the consumer's transaction: it only writes rows (inbox entries, e-mail fan-out
markers, webhook deliveries). Sending happens later, from the delivery tables, after commit. Each write
is an insert that does nothing on conflict with its (event, recipient[, channel]) unique key, so an
event applied twice has no second effect even without the processed-events guard."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from ..adapters.orm import deliveries, notifications, webhook_endpoints
from ..domain.kinds import Channel
from ..domain.routing import Notice, WebhookMessage
from ..metrics import NOTIFICATIONS_CREATED

INBOX_CHANNEL = "careroute_notify_inbox"
WORK_CHANNEL = "careroute_notify_work"


def wake(session, channel: str, payload: str = "") -> None:
    """NOTIFY is delivered by PostgreSQL only when the transaction commits."""
    session.execute(text("select pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload[:7000]})


def record_notices(session, *, event_id: str, event_type: str, notices: list[Notice], email_enabled: bool,
                   now: datetime | None = None) -> list[str]:
    """Write one inbox entry per notice; returns the ids of the entries written by this call."""
    now = now or datetime.now(timezone.utc)
    created = []
    audiences = []
    for notice in notices:
        a = notice.audience
        row = session.execute(
            insert(notifications).values(
                id=str(uuid.uuid4()), event_id=event_id, event_type=event_type, kind=str(notice.kind),
                recipient=a.key, subject=a.subject, organisation=a.organisation, audience_roles=list(a.roles),
                case_id=notice.case_id, referral_id=notice.referral_id, priority=notice.priority,
                mandatory=notice.mandatory, reference=notice.reference, link_path=notice.link_path,
                deadline=notice.deadline, params=notice.params, created_at=now,
                email_status="pending" if email_enabled else "none", email_next_attempt_at=now,
            ).on_conflict_do_nothing(constraint="uq_notifications_event_recipient").returning(notifications.c.id)
        ).first()
        if row is not None:
            created.append(row.id)
            audiences.append(a.key)
            NOTIFICATIONS_CREATED.labels(str(notice.kind), Channel.INBOX).inc()
    if created:
        wake(session, INBOX_CHANNEL, " ".join(audiences))
        if email_enabled:
            wake(session, WORK_CHANNEL, "email")
    return created


def record_webhooks(session, *, event_id: str, event_type: str, event_time: str | None, messages: list[WebhookMessage],
                    case_id: str | None, now: datetime | None = None) -> int:
    """One delivery per subscribed endpoint of each organisation concerned. Endpoints that are disabled
    still get the delivery recorded (pending): it goes out when the organisation re-enables them."""
    now = now or datetime.now(timezone.utc)
    written = 0
    for message in messages:
        endpoints = session.execute(
            select(webhook_endpoints.c.id).where(webhook_endpoints.c.organisation == message.organisation,
                                                 webhook_endpoints.c.event_types.any(message.event_name))
        ).scalars().all()
        body = {"type": message.event_name, "timestamp": event_time or now.isoformat(), "data": message.data}
        for endpoint_id in endpoints:
            row = session.execute(
                insert(deliveries).values(
                    id=str(uuid.uuid4()), event_id=event_id, event_type=event_type, channel=Channel.WEBHOOK.value,
                    recipient=f"endpoint:{endpoint_id}", endpoint_id=endpoint_id,
                    organisation=message.organisation, case_id=case_id, kind=message.event_name, payload=body,
                    status="pending", next_attempt_at=now, horizon_start=now, created_at=now, updated_at=now,
                ).on_conflict_do_nothing(constraint="uq_deliveries_event_recipient_channel")
                .returning(deliveries.c.id)
            ).first()
            if row is not None:
                written += 1
                NOTIFICATIONS_CREATED.labels(message.event_name, Channel.WEBHOOK).inc()
    if written:
        wake(session, WORK_CHANNEL, "webhook")
    return written
