"""THE access policy of the intake service: which records a caller may touch (row access) and which
data categories she may read (field access). Every function returns a `Decision` whose reason is a
code for the audit log; the callers record every decision, allowed or denied.

| caller                                   | cases                                   | identity / notes / export / erase |
|------------------------------------------|-----------------------------------------|-----------------------------------|
| IOM caseworker / supervisor              | cases owned by her office               | own office (export, erase: supervisor) |
| civil-society caseworker / supervisor    | cases owned by her organisation (the ones it registered or received by transfer) | same |
| service provider (any kind)              | none; reads a referred case only through an accepted referral, only the consented categories | never |
| government official                      | none (statistics only)                  | never |
| auditor                                  | none (the audit service shows who did what) | never |
A case transferred away is no longer readable by the sending office (ownership moves on acceptance)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from careroute_platform.access import Decision
from careroute_platform.auth import OrganisationKind, Principal

from .domain import referral_access

STAFF_ROLES = ("caseworker", "supervisor")
CASE_KINDS = (OrganisationKind.IOM, OrganisationKind.CIVIL_SOCIETY)
SUPERVISOR_ACTIONS = frozenset({"export", "erase", "duplicates.resolve"})


@dataclass(frozen=True)
class CaseScope:
    office: str


def _staff(principal: Principal) -> Decision | None:
    """None when the caller is case-management staff of an IOM office or partner organisation."""
    if not principal.has_role(*STAFF_ROLES):
        if principal.has_role("government-official"):
            return Decision(False, "government-statistics-only")
        if principal.has_role("auditor"):
            return Decision(False, "auditor-no-case-content")
        return Decision(False, "role-not-allowed")
    if principal.organisation_kind not in CASE_KINDS:
        return Decision(False, "organisation-kind-not-allowed")
    return None


def can_register(principal: Principal) -> Decision:
    refused = _staff(principal)
    return refused if refused is not None else Decision(True, "case-management-staff")


def case_access(principal: Principal, case: CaseScope, action: str) -> Decision:
    refused = _staff(principal)
    if refused is not None:  # a Decision is falsy when it denies: compare with None, never truthiness
        return refused
    if principal.organisation != case.office:
        return Decision(False, "outside-office")
    if action in SUPERVISOR_ACTIONS and not principal.has_role("supervisor"):
        return Decision(False, "supervisor-only")
    return Decision(True, "own-office")


def list_scope(principal: Principal) -> str | None:
    """The office whose cases a list may show; None means no case list at all."""
    return None if _staff(principal) is not None else principal.organisation


def transfer_decision(principal: Principal, *, to_office: str) -> Decision:
    """Only staff of the receiving office accept or decline a transfer addressed to it."""
    refused = _staff(principal)
    if refused is not None:  # a Decision is falsy when it denies: compare with None, never truthiness
        return refused
    if principal.organisation != to_office:
        return Decision(False, "not-receiving-office")
    return Decision(True, "receiving-office")


@dataclass(frozen=True)
class ReferralGrant:
    case_id: str
    receiving_organisation: str | None
    service_type: str | None
    categories: frozenset[str]
    status: str
    access_until: datetime | None


def shared_data(principal: Principal, referral: ReferralGrant, consented: frozenset[str],
                now: datetime) -> tuple[Decision, frozenset[str]]:
    """A receiving organisation reads a referred case: only with an accepted referral (or a completed
    one within the follow-up period), only the categories both referred AND currently consented."""
    if not principal.has_role("service-provider"):
        return Decision(False, "not-service-provider"), frozenset()
    if principal.organisation is None or principal.organisation != referral.receiving_organisation:
        return Decision(False, "not-receiving-organisation"), frozenset()
    if not referral_access.grants_access(referral.status, access_until_at=referral.access_until, now=now):
        return Decision(False, f"referral-{referral.status}"), frozenset()
    categories = referral.categories & consented
    if not categories:
        return Decision(False, "no-consented-category"), frozenset()
    return Decision(True, "accepted-referral-consented"), categories


def statistics(principal: Principal) -> Decision:
    if principal.has_role("government-official"):
        return Decision(True, "government-official")
    if principal.has_role("supervisor"):
        return Decision(True, "supervisor")
    return Decision(False, "role-not-allowed")


def duplicates(principal: Principal) -> Decision:
    refused = _staff(principal)
    if refused is not None:  # a Decision is falsy when it denies: compare with None, never truthiness
        return refused
    if not principal.has_role("supervisor"):
        return Decision(False, "supervisor-only")
    return Decision(True, "supervisor-own-office")
