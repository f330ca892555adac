"""Loading cases within the caller's scope, and the non-identifying views of stored rows."""
from __future__ import annotations

from datetime import datetime

from careroute_platform.auth import Principal
from sqlalchemy import select

from .. import policy
from ..adapters.orm import cases, incidents
from ..domain.errors import Conflict, Gone
from ..domain.vocabulary import CaseStatus
from .context import AccessDenied, Intake

PROFILE_FIELDS = ("age_years", "age_band", "sex", "gender_identity", "nationality", "ethnicity", "mobility_status",
                  "disability", "languages", "province", "canton")


def load_case(uow, ctx: Intake, principal: Principal, case_id: str, action: str, *, lock: bool = False,
              allow_erased: bool = False):
    """The case row if the policy lets this caller perform `action` on it. Outside her scope the
    answer is 404 whether or not the case exists; the denial is recorded by the API."""
    q = select(cases).where(cases.c.id == case_id)
    if lock:
        q = q.with_for_update()
    row = uow.session.execute(q).first()
    if row is None:
        raise AccessDenied(action, "case", case_id, "not-found", 404)
    decision = policy.case_access(principal, policy.CaseScope(row.office), action)
    if not decision:
        raise AccessDenied(action, "case", case_id, decision.reason, 403 if decision.reason == "supervisor-only" else 404)
    if row.status == CaseStatus.ERASED and not allow_erased:
        raise Gone("case-erased", es="El caso fue suprimido a pedido de la titular.",
                   en="The case was erased at the data subject's request.")
    return row


def require_active(row) -> None:
    if row.status == CaseStatus.CLOSED:
        raise Conflict("case-closed", es="El caso está cerrado; reábralo primero.",
                       en="The case is closed; reopen it first.")


def profile_view(row) -> dict:
    return {name: getattr(row, name) for name in PROFILE_FIELDS}


def window_view(window: dict | None, now: datetime) -> dict | None:
    if not window:
        return None
    latest = datetime.fromisoformat(window["latest_at"])
    from ..domain.clinical import ClinicalWindow

    w = ClinicalWindow(incident_id=window["incident_id"], incident_at=datetime.fromisoformat(window["incident_at"]),
                       pep_deadline=datetime.fromisoformat(window["pep_deadline"]),
                       ec_deadline=datetime.fromisoformat(window["ec_deadline"]), latest_at=latest)
    return {"incident_id": w.incident_id, "incident_at": w.incident_at, "pep_deadline": w.pep_deadline,
            "ec_deadline": w.ec_deadline, "pep_open": w.pep_open(now), "ec_open": w.ec_open(now)}


def summary_view(row, now: datetime) -> dict:
    return {"id": row.id, "survivor_code": row.survivor_code, "office": row.office, "caseworker": row.caseworker,
            "status": row.status, "risk_level": row.risk_level, "needs": sorted(row.needs or []),
            "clinical_window": window_view(row.clinical_window, now), "created_at": row.created_at,
            "updated_at": row.updated_at, "version": row.version}


def case_view(row, now: datetime, *, incidents_list: list[dict] | None = None, safety_plan: str | None = None) -> dict:
    return {**summary_view(row, now), "registered_by_office": row.registered_by_office,
            "closure_reason": row.closure_reason, "safety_plan_in_place": row.safety_plan_in_place,
            "safety_plan": safety_plan, "profile": profile_view(row), "reporting_consent": row.reporting_consent,
            "incidents": incidents_list or [], "closed_at": row.closed_at}


def event_case(row, **overrides) -> dict:
    """The shape the event builders take, from a row (plus changes not yet re-read)."""
    base = {"id": row.id, "survivor_code": row.survivor_code, "office": row.office, "caseworker": row.caseworker,
            "status": row.status, "risk_level": row.risk_level, "needs": list(row.needs or []),
            "reporting_consent": row.reporting_consent, "version": row.version, "profile": profile_view(row)}
    profile_overrides = overrides.pop("profile", {})
    base.update(overrides)
    base["profile"] = {**base["profile"], **profile_overrides}
    return base


def incident_view(row) -> dict:
    return {"id": row.id, "occurred_on": row.occurred_on, "time_of_day": row.time_of_day,
            "local_time": row.occurred_time.strftime("%H:%M") if row.occurred_time else None,
            "location_type": row.location_type, "province": row.province, "canton": row.canton,
            "gbvims_type": row.gbvims_type, "context_flags": list(row.context_flags), "legal_types": list(row.legal_types),
            "sexual_violence": row.sexual_violence, "perpetrators": row.perpetrators,
            "reported_to": list(row.reported_to), "recorded_by": row.recorded_by, "recorded_at": row.recorded_at}


def load_incidents(session, case_id: str) -> list[dict]:
    rows = session.execute(select(incidents).where(incidents.c.case_id == case_id)
                           .order_by(incidents.c.occurred_on, incidents.c.recorded_at)).all()
    return [incident_view(r) for r in rows]
