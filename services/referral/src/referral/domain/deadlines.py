"""Priority clocks and clinical windows.

- The response deadline is the priority's window from creation: emergency 24 h, urgent 72 h,
  normal 14 days.
- At `approaching_fraction` of the window (default 75 %) the referrer and receiver are warned once
  (`referral.deadline_approaching`); at the deadline, once, `referral.overdue`.
- A pending referral is not expired at the deadline itself. Field practice: an overdue emergency
  referral is first escalated by phone, and a late "yes" from a hospital still gets the survivor
  seen; closing the door at the minute would lose those. It expires after a grace period
  (emergency 12 h, urgent 24 h, normal 3 days; settings can change them). From expiry on the
  receiver's access ends and the referrer must refer again — by then the referrer has had the
  overdue alert for the whole grace period.
- When the clock was not running for a while and wakes up past a point, it does not replay what
  no longer helps: no "approaching" warning after the deadline, no "overdue" after expiry.
- Clinical windows after sexual violence come from the case projection: HIV post-exposure
  prophylaxis within 72 h and emergency contraception within 120 h of the incident."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .vocabulary import Priority, ReferralStatus

DEFAULT_GRACE = {Priority.EMERGENCY: timedelta(hours=12), Priority.URGENT: timedelta(hours=24),
                 Priority.NORMAL: timedelta(days=3)}
PEP_WINDOW = timedelta(hours=72)
EC_WINDOW = timedelta(hours=120)


@dataclass(frozen=True)
class ClockPolicy:
    approaching_fraction: float = 0.75
    grace: dict = field(default_factory=lambda: dict(DEFAULT_GRACE))

    def __post_init__(self) -> None:
        if not 0 < self.approaching_fraction < 1:
            raise ValueError("approaching_fraction must be between 0 and 1")

    def response_due(self, priority: Priority | str, created_at: datetime) -> datetime:
        return created_at + Priority(priority).response_window

    def approaching_at(self, priority: Priority | str, created_at: datetime) -> datetime:
        return created_at + Priority(priority).response_window * self.approaching_fraction

    def expires_at(self, priority: Priority | str, created_at: datetime) -> datetime:
        priority = Priority(priority)
        return self.response_due(priority, created_at) + self.grace[priority]


def due_clock_actions(*, status: ReferralStatus | str, priority: Priority | str, created_at: datetime,
                      response_due_at: datetime, expires_at: datetime, approaching_notified: bool,
                      overdue_notified: bool, now: datetime, policy: ClockPolicy) -> list[str]:
    """What the clock must do for one referral now: any of 'deadline_approaching', 'overdue',
    'expire', in that order."""
    if ReferralStatus(status) != ReferralStatus.PENDING:
        return []
    actions: list[str] = []
    approaching = created_at + (response_due_at - created_at) * policy.approaching_fraction
    if not approaching_notified and approaching <= now < response_due_at:
        actions.append("deadline_approaching")
    if not overdue_notified and response_due_at <= now < expires_at:
        actions.append("overdue")
    if now >= expires_at:
        actions.append("expire")
    return actions


@dataclass(frozen=True)
class ClinicalWindow:
    incident_id: str | None
    incident_at: datetime | None
    pep_deadline: datetime | None
    ec_deadline: datetime | None

    @classmethod
    def from_incident(cls, incident_id: str | None, incident_at: datetime) -> ClinicalWindow:
        return cls(incident_id, incident_at, incident_at + PEP_WINDOW, incident_at + EC_WINDOW)

    def view(self, now: datetime) -> dict:
        def left(deadline: datetime | None) -> float | None:
            if deadline is None:
                return None
            return round(max(0.0, (deadline - now).total_seconds() / 3600), 1)

        return {
            "incident_id": self.incident_id,
            "incident_at": self.incident_at.isoformat() if self.incident_at else None,
            "pep_deadline": self.pep_deadline.isoformat() if self.pep_deadline else None,
            "ec_deadline": self.ec_deadline.isoformat() if self.ec_deadline else None,
            "pep_open": bool(self.pep_deadline and now < self.pep_deadline),
            "ec_open": bool(self.ec_deadline and now < self.ec_deadline),
            "pep_hours_left": left(self.pep_deadline),
            "ec_hours_left": left(self.ec_deadline),
        }

    def event_data(self) -> dict:
        return {"incident_at": _iso(self.incident_at), "pep_deadline": _iso(self.pep_deadline),
                "ec_deadline": _iso(self.ec_deadline)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
