"""Receiving organisations read referred cases here: exactly the categories the survivor consented
to share with them, through a referral they accepted (projected from the referral service's events)."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from careroute_platform.auth import Principal
from careroute_platform.consumer import PermanentError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from .. import policy
from ..adapters import vault_store
from ..adapters.orm import cases, referral_access
from ..domain import referral_access as projection
from ..domain.consent import consented_categories
from ..domain.sharing import shared_view
from ..domain.vocabulary import CaseStatus, DataCategory, ServiceType
from ..metrics import SHARED_DATA_READS
from .common import load_incidents, window_view
from .consents import active_scopes
from .context import AccessDenied, Intake

_ORG = re.compile(r"^/(iom|government|civil-society)(/[a-z0-9-]+)+$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STATUS_BY_EVENT = {"referral.created": "created", "referral.accepted": "accepted", "referral.completed": "completed",
                   "referral.declined": "declined", "referral.revoked": "revoked", "referral.expired": "expired",
                   "referral.closed": "closed", "referral.purged": "closed"}


def shared_data(*, ctx: Intake, uow, principal: Principal, referral_id: str) -> dict:
    session = uow.session
    action = "shared_data.read"
    ref = session.execute(select(referral_access).where(referral_access.c.referral_id == referral_id)).first()
    if ref is None:
        raise AccessDenied(action, "referral", referral_id, "not-referred", 404)
    case_row = session.execute(select(cases).where(cases.c.id == ref.case_id)).first()
    if case_row is None or case_row.status == CaseStatus.ERASED:
        raise AccessDenied(action, "case", ref.case_id, "case-unavailable", 404)
    now = ctx.clock()
    consented = consented_categories(active_scopes(session, ref.case_id), organisation=ref.receiving_organisation or "",
                                     service_type=ref.service_type, now=now)
    grant = policy.ReferralGrant(case_id=ref.case_id, receiving_organisation=ref.receiving_organisation,
                                 service_type=ref.service_type, categories=frozenset(ref.categories),
                                 status=ref.status, access_until=ref.access_until)
    decision, categories = policy.shared_data(principal, grant, consented, now)
    if not decision:
        if decision.reason == "no-consented-category" and principal.organisation == ref.receiving_organisation:
            raise AccessDenied(action, "case", ref.case_id, decision.reason, 403, code="consent-required")
        raise AccessDenied(action, "case", ref.case_id, decision.reason, 404)
    identity = None
    if categories & {DataCategory.IDENTITY, DataCategory.CONTACT_DETAILS}:
        key = vault_store.load_key(session, ctx.keyring, ref.case_id)
        identity = vault_store.read_identity(session, key) if key else None
    case = {"id": case_row.id, "survivor_code": case_row.survivor_code, "needs": list(case_row.needs or []),
            "risk_level": case_row.risk_level, "safety_plan_in_place": case_row.safety_plan_in_place,
            "profile": {k: getattr(case_row, k) for k in ("age_years", "age_band", "sex", "gender_identity",
                                                          "nationality", "mobility_status", "disability",
                                                          "languages")}}
    incidents = [{k: v for k, v in i.items() if k not in ("recorded_by",)} for i in load_incidents(session, ref.case_id)] \
        if DataCategory.INCIDENT_SUMMARY in categories else []
    view = shared_view(categories=categories, case=case, identity=identity, incidents=incidents,
                       clinical_window=window_view(case_row.clinical_window, now))
    ctx.allow(uow, principal, action, "case", ref.case_id, decision, purpose=f"referral {referral_id}",
              key=ref.case_id)
    SHARED_DATA_READS.inc()
    return {"referral_id": referral_id, **view}


# ------------------------------------------------------------------------- the referral projection
def _time(value) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        return datetime.now(UTC)


def apply_referral_event(uow, event, *, follow_up_days: int) -> None:
    """Idempotent and order-tolerant: statuses only move forward; categories only come from
    `referral.created` (later events do not carry them)."""
    incoming = STATUS_BY_EVENT.get(event.name)
    if incoming is None:
        return
    data = event.data
    referral_id, case_id = data.get("referral_id"), data.get("case_id")
    organisation, service_type = data.get("receiving_organisation"), data.get("service_type")
    if not (isinstance(referral_id, str) and _ID.match(referral_id) and isinstance(case_id, str) and _ID.match(case_id)):
        raise PermanentError("referral event without valid referral_id / case_id")
    if organisation is not None and not (isinstance(organisation, str) and _ORG.match(organisation)):
        raise PermanentError("referral event with an invalid receiving_organisation")
    if service_type is not None and service_type not in {s.value for s in ServiceType}:
        service_type = None
    categories = data.get("categories") if event.name == "referral.created" else None
    if categories is not None:
        valid = {c.value for c in DataCategory}
        if not isinstance(categories, list) or any(c not in valid for c in categories):
            raise PermanentError("referral event with unknown data categories")
    occurred = _time(data.get("occurred_at") or event.time)
    session = uow.session
    current = session.execute(select(referral_access).where(referral_access.c.referral_id == referral_id)
                              .with_for_update()).first()
    status = projection.next_status(current.status if current else None, incoming)
    completed_at = occurred if incoming == projection.COMPLETED and status == projection.COMPLETED else (
        current.completed_at if current else None)
    values = {"case_id": case_id, "status": status, "completed_at": completed_at,
              "access_until": projection.access_until(status, completed_at=completed_at, follow_up_days=follow_up_days),
              "updated_at": datetime.now(UTC)}
    if organisation:
        values["receiving_organisation"] = organisation
    if service_type:
        values["service_type"] = service_type
    if categories is not None:
        values["categories"] = sorted(set(categories))
    if current is None:
        session.execute(insert(referral_access).values(referral_id=referral_id, **values))
    else:
        session.execute(update(referral_access).where(referral_access.c.referral_id == referral_id).values(**values))
