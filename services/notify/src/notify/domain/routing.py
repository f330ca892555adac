"""Who is told what: the pure decision from an event to notices (inbox + e-mail) and webhook messages.

- A referral's receiving organisation hears of it as an organisation (its service providers see the
  entry; each of them is e-mailed): received, deadline approaching, overdue, revoked.
- The referring caseworker hears back personally when the loop closes: accepted, declined, expired,
  completed. A referral made without a named caseworker (e.g. by an institutional system) goes to the
  referring office's caseworkers and supervisors instead.
- The referring office's supervisors hear of escalations: overdue referrals, clinical windows, possible
  duplicates.
- Access anomalies go to the independent oversight office, never to the subject's own line management
  (the subject may be the supervisor, and an alert must not tip anyone off).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from .kinds import Kind, is_mandatory

PROVIDERS = ("service-provider",)
SUPERVISORS = ("supervisor",)
REFERRING_OFFICE_FALLBACK = ("caseworker", "supervisor")


@dataclass(frozen=True)
class Audience:
    """A person (by subject id, addressed as a member of an office) or an organisation's members with roles."""
    subject: str | None = None
    organisation: str | None = None
    roles: tuple[str, ...] = ()

    @property
    def is_user(self) -> bool:
        return self.subject is not None

    @property
    def key(self) -> str:
        return f"user:{self.subject}" if self.is_user else f"org:{self.organisation}"

    @staticmethod
    def user(subject: str, organisation: str | None) -> "Audience":
        return Audience(subject=subject, organisation=organisation)

    @staticmethod
    def members(organisation: str, roles: tuple[str, ...]) -> "Audience":
        return Audience(organisation=organisation, roles=tuple(sorted(set(roles))))


@dataclass(frozen=True)
class Notice:
    """One notification to one audience. Carries ids, codes, a deadline and a link path — nothing else."""
    kind: Kind
    audience: Audience
    reference: str
    link_path: str
    priority: str | None = None
    case_id: str | None = None
    referral_id: str | None = None
    deadline: datetime | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def mandatory(self) -> bool:
        return is_mandatory(self.kind, self.priority)


@dataclass(frozen=True)
class WebhookMessage:
    """What an organisation's endpoints receive: the event's ids and codes and a link."""
    event_name: str
    organisation: str
    data: dict


@dataclass(frozen=True)
class ReferralFacts:
    referral_id: str
    case_id: str
    referring_office: str
    receiving_organisation: str
    referring_caseworker: str | None = None
    service_type: str | None = None
    priority: str | None = None
    status: str | None = None
    reason_code: str | None = None
    outcome_code: str | None = None
    response_due_at: datetime | None = None


def short_reference(prefix: str, identifier: str) -> str:
    compact = re.sub(r"[^A-Za-z0-9]", "", identifier)[:8].upper()
    return f"{prefix}-{compact}"


def referral_link(referral_id: str) -> str:
    return f"/referrals/{referral_id}"


def case_link(case_id: str) -> str:
    return f"/cases/{case_id}"


def merge(notices: list[Notice]) -> list[Notice]:
    """One notice per audience: the same organisation addressed twice (an office referring to itself)
    gets one entry whose audience is the union of the roles."""
    merged: dict[str, Notice] = {}
    for notice in notices:
        existing = merged.get(notice.audience.key)
        if existing is None:
            merged[notice.audience.key] = notice
        elif not notice.audience.is_user:
            roles = tuple(sorted(set(existing.audience.roles) | set(notice.audience.roles)))
            merged[notice.audience.key] = replace(existing, audience=replace(existing.audience, roles=roles))
    return list(merged.values())


REFERRAL_KINDS: dict[str, Kind | None] = {
    "referral.created": Kind.REFERRAL_RECEIVED,
    "referral.accepted": Kind.REFERRAL_ACCEPTED,
    "referral.declined": Kind.REFERRAL_DECLINED,
    "referral.expired": Kind.REFERRAL_EXPIRED,
    "referral.completed": Kind.REFERRAL_COMPLETED,
    "referral.revoked": Kind.REFERRAL_REVOKED,
    "referral.deadline_approaching": Kind.REFERRAL_DEADLINE_APPROACHING,
    "referral.overdue": Kind.REFERRAL_OVERDUE,
    "referral.closed": None,  # webhooks only: the loop was already closed by completed/declined/...
}
TO_RECEIVING_ORGANISATION = {Kind.REFERRAL_RECEIVED, Kind.REFERRAL_REVOKED, Kind.REFERRAL_DEADLINE_APPROACHING,
                             Kind.REFERRAL_OVERDUE}
TO_REFERRING_CASEWORKER = {Kind.REFERRAL_ACCEPTED, Kind.REFERRAL_DECLINED, Kind.REFERRAL_EXPIRED,
                           Kind.REFERRAL_COMPLETED}
TO_REFERRING_SUPERVISORS = {Kind.REFERRAL_OVERDUE}


def referral_notices(event_name: str, r: ReferralFacts) -> list[Notice]:
    kind = REFERRAL_KINDS.get(event_name)
    if kind is None:
        return []
    params = {k: v for k, v in (("service_type", r.service_type), ("status", r.status),
                                ("reason_code", r.reason_code), ("outcome_code", r.outcome_code),
                                ("receiving_organisation", r.receiving_organisation),
                                ("referring_office", r.referring_office)) if v}
    def to(audience: Audience) -> Notice:
        return Notice(kind=kind, audience=audience, reference=short_reference("REF", r.referral_id),
                      link_path=referral_link(r.referral_id), priority=r.priority, case_id=r.case_id,
                      referral_id=r.referral_id, deadline=r.response_due_at, params=params)

    notices = []
    if kind in TO_RECEIVING_ORGANISATION:
        notices.append(to(Audience.members(r.receiving_organisation, PROVIDERS)))
    if kind in TO_REFERRING_SUPERVISORS:
        notices.append(to(Audience.members(r.referring_office, SUPERVISORS)))
    if kind in TO_REFERRING_CASEWORKER:
        notices.append(to(Audience.user(r.referring_caseworker, r.referring_office) if r.referring_caseworker
                          else Audience.members(r.referring_office, REFERRING_OFFICE_FALLBACK)))
    return merge(notices)


def referral_webhooks(event_name: str, r: ReferralFacts, *, event_id: str, link: str) -> list[WebhookMessage]:
    """Both ends of a referral hear of it: the organisation it is addressed to and the office that made it."""
    data = {k: v for k, v in {
        "event_id": event_id, "referral_id": r.referral_id, "case_id": r.case_id,
        "receiving_organisation": r.receiving_organisation, "referring_office": r.referring_office,
        "service_type": r.service_type, "priority": r.priority, "status": r.status,
        "reason_code": r.reason_code, "outcome_code": r.outcome_code,
        "response_due_at": r.response_due_at.isoformat() if r.response_due_at else None,
        "link": link,
    }.items() if v is not None}
    organisations = dict.fromkeys((r.receiving_organisation, r.referring_office))
    return [WebhookMessage(event_name, org, data) for org in organisations]


def clinical_window_notice(*, case_id: str, office: str, pep_deadline: datetime,
                           ec_deadline: datetime | None) -> Notice:
    params = {"ec_deadline": ec_deadline.isoformat()} if ec_deadline else {}
    return Notice(kind=Kind.CLINICAL_WINDOW_OPENED, audience=Audience.members(office, SUPERVISORS),
                  reference=short_reference("CASE", case_id), link_path=case_link(case_id), priority=None,
                  case_id=case_id, deadline=pep_deadline, params=params)


def possible_duplicate_notice(*, case_id: str, office: str, other_case_id: str) -> Notice:
    return Notice(kind=Kind.POSSIBLE_DUPLICATE, audience=Audience.members(office, SUPERVISORS),
                  reference=short_reference("CASE", case_id), link_path=case_link(case_id), case_id=case_id,
                  params={"other_reference": short_reference("CASE", other_case_id)})


def consent_withdrawn_notices(*, case_id: str, consent_id: str, referrals: list[ReferralFacts],
                              recipient_organisation: str | None, recipient_service_type: str | None,
                              categories: list[str]) -> list[tuple[Notice, ReferralFacts]]:
    """The organisations holding a referral of the case that the withdrawn consent covered. An
    organisation that never received a referral of the case is not told (that would reveal the case)."""
    out = []
    for r in referrals:
        covered = ((recipient_organisation and r.receiving_organisation == recipient_organisation)
                   or (recipient_service_type and r.service_type == recipient_service_type))
        if not covered:
            continue
        params = {"categories": ",".join(sorted(categories))} if categories else {}
        if r.service_type:
            params["service_type"] = r.service_type
        out.append((Notice(kind=Kind.CONSENT_WITHDRAWN,
                           audience=Audience.members(r.receiving_organisation, PROVIDERS),
                           reference=short_reference("REF", r.referral_id), link_path=referral_link(r.referral_id),
                           priority=r.priority, case_id=case_id, referral_id=r.referral_id, params=params), r))
    seen: set[str] = set()
    unique = []
    for notice, r in out:  # one notice per organisation even if it holds several referrals of the case
        if notice.audience.key not in seen:
            seen.add(notice.audience.key)
            unique.append((notice, r))
    return unique


def anomaly_notice(*, rule: str, count: int, window_seconds: int, organisation: str | None,
                   oversight_group: str, oversight_roles: tuple[str, ...]) -> Notice:
    params = {"rule": rule, "count": str(count), "window_seconds": str(window_seconds)}
    if organisation:
        params["organisation"] = organisation
    return Notice(kind=Kind.ANOMALY_DETECTED, audience=Audience.members(oversight_group, oversight_roles),
                  reference=rule.upper(), link_path="/oversight/anomalies", params=params)


def endpoint_disabled_notice(*, endpoint_id: str, organisation: str, failures: int,
                             admin_roles: tuple[str, ...]) -> Notice:
    return Notice(kind=Kind.WEBHOOK_ENDPOINT_DISABLED, audience=Audience.members(organisation, admin_roles),
                  reference=short_reference("WH", endpoint_id), link_path=f"/settings/webhooks/{endpoint_id}",
                  params={"failures": str(failures), "endpoint_id": endpoint_id})
