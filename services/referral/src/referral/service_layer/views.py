"""How a referral looks to each side (policy.field_access decides what is in it)."""
from __future__ import annotations

from datetime import datetime

from careroute_platform.http import etag

from .. import policy
from ..domain.deadlines import ClinicalWindow
from ..domain.referral import Referral, Side
from ..domain.vocabulary import ReferralStatus

ACCESS_ENDED = frozenset({ReferralStatus.DECLINED, ReferralStatus.EXPIRED, ReferralStatus.REVOKED})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def referral_view(referral: Referral, *, side: Side, now: datetime, names: dict | None,
                  window: ClinicalWindow | None, intake_base_url: str, timeline: list[dict] | None = None,
                  may_act: bool = True) -> dict:
    access = policy.field_access(side, referral.categories, referral.service_type.value)
    # A receiver whose part ended without service (declined, expired, revoked — e.g. consent
    # withdrawn) keeps the bare record of what happened but no longer sees its content.
    access_ended = side == Side.RECEIVING and referral.status in ACCESS_ENDED
    if access_ended:
        access = policy.FieldAccess(reason=False, clinical_window=False, override_details=False, internal_notes=False)
    names = names or {}
    cr = referral.counter_referral
    view = {
        "id": referral.id,
        "case_id": referral.case_id,
        "status": referral.status.value,
        "priority": referral.priority.value,
        "version": referral.version,
        "etag": etag(referral.version),
        "service": {"id": referral.service_id, "type": referral.service_type.value,
                    "name": names.get("service")},
        "receiving_organisation": {"id": referral.organisation_id, "group_path": referral.receiving_organisation,
                                   "name": names.get("organisation")},
        "referring_office": referral.referring_office,
        "referring_caseworker": referral.referring_caseworker,
        "shared_categories": list(referral.categories),
        "services_requested": list(referral.services_requested),
        "created_at": _iso(referral.created_at),
        "response_due_at": _iso(referral.response_due_at),
        "expires_at": _iso(referral.expires_at),
        "overdue": referral.overdue_at(now),
        "first_response_at": _iso(referral.first_response_at),
        "answer": {
            "accepted_at": _iso(referral.accepted_at),
            "declined_at": _iso(referral.declined_at),
            "decline_reason": referral.decline_reason,
            "decline_note": referral.decline_note,
            "completed_at": _iso(referral.completed_at),
            "counter_referral": ({**cr.codes(), "note": cr.note} if cr else None),
            "closed_at": _iso(referral.closed_at),
            "close_reason": referral.close_reason,
            "close_note": referral.close_note,
            "revoked_at": _iso(referral.revoked_at),
            "revoke_reason": referral.revoke_reason,
            "expired_at": _iso(referral.expired_at),
            "answered_via_client": referral.answered_via_client,
        },
        "override": {"applied": bool(referral.override_kinds), "kinds": list(referral.override_kinds),
                     "legal_basis": referral.override_legal_basis},
        "allowed_actions": referral.allowed_actions(side) if may_act else [],
        "side": side.value,
    }
    if access.reason:
        view["reason"] = referral.reason
    if access.clinical_window:
        view["clinical_window"] = window.view(now) if window else None
    if access.override_details:
        view["override"]["justification"] = referral.override_justification
        view["override"]["by"] = referral.override_by
        view["answer"]["revoke_note"] = referral.revoke_note
        view["created_by"] = referral.created_by
    if side == Side.RECEIVING and not access_ended and may_act:
        # Identity and case details live in intake, which checks consent again on every read.
        view["shared_data_url"] = f"{intake_base_url.rstrip('/')}/v1/referrals/{referral.id}/shared-data"
    if timeline is not None:
        view["timeline"] = timeline
    return view
