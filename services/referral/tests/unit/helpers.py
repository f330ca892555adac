from datetime import UTC, datetime, timedelta

from referral.domain.deadlines import ClockPolicy
from referral.domain.referral import Actor, Referral, Side
from referral.domain.vocabulary import Priority, ServiceType

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
RECEIVER = Actor(Side.RECEIVING, "provider-1", "/government/msp/hospital-tulcan")
REFERRER = Actor(Side.REFERRING, "caseworker-1", "/iom/tulcan")
SYSTEM = Actor.system()
POLICY = ClockPolicy()


def new_referral(priority: Priority = Priority.URGENT, now: datetime = T0, **kw) -> Referral:
    values = dict(case_id="case-1", referring_office="/iom/tulcan", referring_caseworker="caseworker-1",
                  created_by="caseworker-1", receiving_organisation="/government/msp/hospital-tulcan",
                  organisation_id="00000000-0000-0000-0000-000000000001",
                  service_id="00000000-0000-0000-0000-000000000002", service_type=ServiceType.HEALTH_CMR,
                  priority=priority, categories=["health_needs", "identity"], services_requested=[],
                  reason="free text", now=now, response_due_at=POLICY.response_due(priority, now),
                  expires_at=POLICY.expires_at(priority, now))
    values.update(kw)
    return Referral.create(**values)


def later(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)
