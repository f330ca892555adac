"""THE policy module of the referral service: who may see and do what, and which fields they see.

Row access
- Directory: every staff role reads it; only directory-admins write it.
- A case (for creating referrals, or searching the directory for it): caseworkers and supervisors
  of the office that registered or manages it (the office in the case projection). A partner
  organisation's caseworker is in the same position for the cases her organisation registered.
- A referral: the referring side (caseworkers and supervisors of the referring office) and the
  receiving side (service providers of the receiving organisation, people or its institutional
  client). Anyone else gets 404: a referral's existence is itself sensitive.
- Lifecycle: only the receiving side answers (accept, decline, complete, close); only the referring
  side revokes. A caller who can see the referral but is on the wrong side gets 403 with a clear
  reason; a caller who cannot see it gets 404.
- Coordination figures: government officials and supervisors; de-identified and suppressed.

Field access
- The referring side sees the whole referral.
- The receiving side sees the consented categories and the link to read the shared data from
  intake; it sees the referral's reason only when the survivor consented to share the incident
  summary or the needs category of the service, and the clinical window only with health needs or
  the incident summary consented.

Organisations are matched by exact group membership: a unit's parent does not inherit its referrals.
Every decision returns a `Decision` whose reason is a code, never content."""
from __future__ import annotations

from dataclasses import dataclass

from careroute_platform.access import Decision
from careroute_platform.auth import Principal

from .domain.referral import Side
from .domain.vocabulary import NEEDS_CATEGORY, DataCategory, ServiceType

STAFF_ROLES = ("caseworker", "supervisor", "service-provider", "government-official", "directory-admin", "auditor",
               "integration-client")
REFERRER_ROLES = ("caseworker", "supervisor")
RECEIVER_ROLES = ("service-provider",)                    # may answer referrals for their organisation
# Government officials read (never answer) the referrals addressed to their institution.
RECEIVER_READ_ROLES = (*RECEIVER_ROLES, "government-official")
STATISTICS_ROLES = ("government-official", "supervisor")


def _member(principal: Principal, organisation: str | None) -> bool:
    return bool(organisation) and organisation in principal.groups


def can_read_directory(principal: Principal) -> Decision:
    return Decision(True, "staff") if principal.has_role(*STAFF_ROLES) else Decision(False, "role-missing")


def can_admin_directory(principal: Principal) -> Decision:
    return Decision(True, "directory-admin") if principal.has_role("directory-admin") else Decision(False, "role-missing")


def can_act_for_case(principal: Principal, case) -> Decision:
    """`case` is a case-projection row (office, registered, erased) or None."""
    if case is None or not case.registered or case.erased:
        return Decision(False, "case-unknown")
    if not principal.has_role(*REFERRER_ROLES):
        return Decision(False, "role-missing")
    if not _member(principal, case.office):
        return Decision(False, "other-office")
    return Decision(True, "own-office")


def can_override(principal: Principal) -> Decision:
    return Decision(True, "supervisor") if principal.has_role("supervisor") else Decision(False, "not-supervisor")


def side_of(principal: Principal, referral) -> Side | None:
    """Which side of `referral` the caller stands on, if any."""
    if principal.has_role(*RECEIVER_READ_ROLES) and _member(principal, referral.receiving_organisation):
        return Side.RECEIVING
    if principal.has_role(*REFERRER_ROLES) and _member(principal, referral.referring_office):
        return Side.REFERRING
    return None


def may_act(principal: Principal, side: Side | None) -> bool:
    """Read-only receivers (government officials) see a referral but none of its actions."""
    return side == Side.REFERRING or (side == Side.RECEIVING and principal.has_role(*RECEIVER_ROLES))


def can_read_referral(principal: Principal, referral) -> Decision:
    side = side_of(principal, referral)
    if side == Side.RECEIVING:
        return Decision(True, "receiving-organisation")
    if side == Side.REFERRING:
        return Decision(True, "referring-office")
    return Decision(False, "not-party")


ANSWERS = ("accept", "decline", "complete", "close")


@dataclass(frozen=True)
class ActDecision:
    decision: Decision
    status: int          # 404 when the caller may not even see it, 403 when on the wrong side
    side: Side | None


def can_act_on_referral(principal: Principal, referral, action: str) -> ActDecision:
    side = side_of(principal, referral)
    if side is None:
        return ActDecision(Decision(False, "not-party"), 404, None)
    required = Side.RECEIVING if action in ANSWERS else Side.REFERRING
    if side != required:
        return ActDecision(Decision(False, "wrong-side"), 403, side)
    if side == Side.RECEIVING and not principal.has_role(*RECEIVER_ROLES):
        return ActDecision(Decision(False, "read-only"), 403, side)
    return ActDecision(Decision(True, f"{side.value}-side"), 200, side)


@dataclass(frozen=True)
class FieldAccess:
    reason: bool
    clinical_window: bool
    override_details: bool
    internal_notes: bool   # the other side's notes (decline/close/revoke notes, counter-referral note)


def field_access(side: Side, categories: tuple[str, ...] | list[str], service_type: str) -> FieldAccess:
    if side == Side.REFERRING:
        return FieldAccess(reason=True, clinical_window=True, override_details=True, internal_notes=True)
    shared = set(categories)
    needs = NEEDS_CATEGORY.get(ServiceType(service_type))
    reason = DataCategory.INCIDENT_SUMMARY in shared or (needs is not None and needs.value in shared)
    clinical = bool(shared & {DataCategory.HEALTH_NEEDS.value, DataCategory.INCIDENT_SUMMARY.value})
    # The receiver wrote its own notes; the referrer's revoke note and the override justification
    # are the referring side's internal record.
    return FieldAccess(reason=reason, clinical_window=clinical, override_details=False, internal_notes=False)


def can_read_statistics(principal: Principal) -> Decision:
    return Decision(True, "coordination") if principal.has_role(*STATISTICS_ROLES) else Decision(False, "role-missing")
