"""Use cases of a case: registration (consent first), reading, listing, updating, closing,
recording incidents. Keyword-only functions taking the intake context and a unit of work."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from careroute_platform.access import Decision
from careroute_platform.auth import Principal
from careroute_platform.idempotency import claim, remember
from sqlalchemy import and_, func, select, update

from .. import policy
from ..adapters import vault_store
from ..adapters.orm import cases, duplicate_flags, identity_fingerprints, incidents
from ..domain import survivor_code as codes
from ..domain.ages import Age, resolve_age
from ..domain.clinical import ECUADOR, clinical_window, is_sexual_violence
from ..domain.consent import check_consent_giver, check_expiry, check_given_at
from ..domain.duplicates import fingerprints
from ..domain.errors import Conflict, RuleViolation
from ..domain.vocabulary import CaseStatus, ConsentPurpose, RiskLevel
from ..metrics import (
    CASES_CLOSED,
    CASES_REGISTERED,
    CLINICAL_WINDOWS,
    INCIDENTS_RECORDED,
    POSSIBLE_DUPLICATES,
)
from ..schemas import CaseUpdateIn, CloseIn, IncidentIn, RegistrationIn, RiskIn
from . import events
from .common import (
    case_view,
    event_case,
    load_case,
    load_incidents,
    profile_view,
    require_active,
    summary_view,
)
from .consents import insert_consent
from .context import AccessDenied, Intake

IfMatch = Callable[[int], None]
# A supervisor needs to know that a survivor is registered elsewhere, not every copy: bounded so that
# one identity registered many times cannot make each registration flag (and publish) without end.
MAX_DUPLICATE_MATCHES = 10


def _check_risk(risk: RiskIn, *, plan_exists: bool = False) -> None:
    if risk.level == RiskLevel.HIGH and risk.safety_plan is None and not plan_exists:
        raise RuleViolation("safety-plan-required", field="risk.safety_plan",
                            es="Un riesgo alto requiere un plan de seguridad.", en="High risk requires a safety plan.")


def _identity_values(survivor) -> dict:
    data = survivor.model_dump(mode="json")
    return {k: data.get(k) for k in vault_store.IDENTITY_FIELDS}


# ------------------------------------------------------------------------------------ registration
def register_case(*, ctx: Intake, uow, principal: Principal, body: RegistrationIn,
                  idempotency_key: str | None) -> tuple[int, dict]:
    decision = policy.can_register(principal)
    if not decision:
        raise AccessDenied("case.create", "case", None, decision.reason, 403)
    now = ctx.clock()
    age = resolve_age(date_of_birth=body.survivor.date_of_birth, age_years=body.profile.age_years,
                      age_band=body.profile.age_band, today=now.astimezone(ECUADOR).date())
    consent = body.consent
    check_consent_giver(given_by=consent.given_by, child_assent=consent.child_assent,
                        caregiver_relationship=consent.caregiver_relationship, age=age)
    check_given_at(consent.given_at, now)
    check_expiry(consent.expires_at, now, "consent.expires_at")
    for i, scope in enumerate(consent.sharing):
        check_expiry(scope.expires_at, now, f"consent.sharing.{i}.expires_at")
    _check_risk(body.risk)

    session = uow.session
    prior = claim(session, ctx.runtime.idempotency_table, subject=principal.subject, key=idempotency_key,
                  payload=body.model_dump(mode="json"))
    if prior is not None:
        return prior

    case_id = str(uuid.uuid4())
    office = principal.organisation
    code = _new_code(session, office, now.year, ctx.settings.survivor_code_prefixes)
    profile = body.profile
    session.execute(cases.insert().values(
        id=case_id, survivor_code=code, office=office, registered_by_office=office,
        caseworker=body.caseworker or principal.subject, status=CaseStatus.OPEN, risk_level=body.risk.level,
        safety_plan_in_place=body.risk.safety_plan is not None, needs=sorted(body.needs),
        age_years=age.years, age_band=age.band, sex=profile.sex, gender_identity=profile.gender_identity,
        nationality=profile.nationality, ethnicity=profile.ethnicity, mobility_status=profile.mobility_status,
        disability=sorted(profile.disability), languages=list(profile.languages), province=profile.province,
        canton=profile.canton, reporting_consent=consent.reporting, created_at=now, updated_at=now))

    key = vault_store.create_key(session, ctx.keyring, case_id)
    identity = _identity_values(body.survivor)
    sealed = {k: v for k, v in identity.items() if v is not None}
    if body.risk.safety_plan is not None:
        sealed[vault_store.SAFETY_PLAN] = body.risk.safety_plan
    vault_store.write_fields(session, key, sealed)

    registration = insert_consent(session, case_id=case_id, purpose=ConsentPurpose.REGISTRATION, giver=consent,
                                  recorded_by=principal.subject, recipient_organisation=office,
                                  recipient_service_type=None, categories=None, reporting=consent.reporting,
                                  expires_at=consent.expires_at)
    granted = [registration]
    for scope in consent.sharing:
        granted.append(insert_consent(session, case_id=case_id, purpose=ConsentPurpose.SHARING, giver=consent,
                                      recorded_by=principal.subject, recipient_organisation=scope.recipient_organisation,
                                      recipient_service_type=scope.recipient_service_type,
                                      categories=scope.categories, reporting=consent.reporting,
                                      expires_at=scope.expires_at))

    incident = window = None
    if body.incident is not None:
        incident, window = _insert_incident(session, case_id=case_id, body=body.incident, principal=principal, now=now)
        if window is not None:
            session.execute(update(cases).where(cases.c.id == case_id).values(clinical_window=_stored_window(window)))

    row = session.execute(select(cases).where(cases.c.id == case_id)).one()
    uow.publish(events.case_registered(event_case(row), window.as_event() if window else None))
    for c in granted:
        uow.publish(events.consent_granted(case_id, office, c))
    if incident is not None:
        uow.publish(events.incident_recorded(case_id, office, incident))
    if window is not None:
        uow.publish(events.clinical_window_opened(case_id, office, window.as_event()))
    _check_duplicates(uow, ctx, case_id=case_id, office=office, survivor=body.survivor)
    ctx.allow(uow, principal, "case.create", "case", case_id, decision)

    incidents_list = [incident_view_from_dict(incident)] if incident else []
    body_out = _jsonable(case_view(row, now, incidents_list=incidents_list))
    remember(session, ctx.runtime.idempotency_table, subject=principal.subject, key=idempotency_key,
             status=201, body=body_out)
    CASES_REGISTERED.labels(principal.organisation_kind.value if principal.organisation_kind else "none").inc()
    if window is not None:
        CLINICAL_WINDOWS.inc()
    return 201, body_out


def _new_code(session, office: str, year: int, prefixes: dict[str, str]) -> str:
    for _ in range(8):
        code = codes.new_survivor_code(office, year, prefixes)
        if session.execute(select(cases.c.id).where(cases.c.survivor_code == code)).first() is None:
            return code
    raise RuntimeError("could not draw a free survivor code")  # 32^6 codes per office and year


def _jsonable(value):
    """The stored idempotent response: JSON types only."""
    import json

    from fastapi.encoders import jsonable_encoder

    return json.loads(json.dumps(jsonable_encoder(value)))


def incident_view_from_dict(incident: dict) -> dict:
    return {k: incident[k] for k in ("id", "occurred_on", "time_of_day", "local_time", "location_type", "province",
                                     "canton", "gbvims_type", "context_flags", "legal_types", "sexual_violence",
                                     "perpetrators", "reported_to", "recorded_by", "recorded_at")}


def _stored_window(window) -> dict:
    return {**window.as_event(), "latest_at": window.latest_at.isoformat()}


def _insert_incident(session, *, case_id: str, body: IncidentIn, principal: Principal, now: datetime):
    incident_id = str(uuid.uuid4())
    sexual = is_sexual_violence(body.gbvims_type, body.legal_types)
    values = {"id": incident_id, "case_id": case_id, "occurred_on": body.occurred_on, "time_of_day": body.time_of_day,
                  "occurred_time": body.local_time, "location_type": body.location_type, "province": body.province,
                  "canton": body.canton, "gbvims_type": body.gbvims_type, "context_flags": sorted(body.context_flags),
                  "legal_types": sorted(body.legal_types), "sexual_violence": sexual,
                  "perpetrators": body.perpetrators.model_dump(mode="json"), "reported_to": sorted(body.reported_to),
                  "recorded_by": principal.subject, "recorded_at": now}
    session.execute(incidents.insert().values(**values))
    window = clinical_window(incident_id=incident_id, gbvims_type=body.gbvims_type, legal_types=body.legal_types,
                             occurred_on=body.occurred_on, time_of_day=body.time_of_day, at_time=body.local_time,
                             now=now)
    INCIDENTS_RECORDED.labels(str(sexual).lower()).inc()
    view = {**values, "local_time": body.local_time.strftime("%H:%M") if body.local_time else None}
    return view, window


def _check_duplicates(uow, ctx: Intake, *, case_id: str, office: str, survivor) -> None:
    """Refresh this case's keyed fingerprints and flag other live cases that share one."""
    session = uow.session
    prints = fingerprints(ctx.duplicate_key, given_names=survivor.given_names, family_names=survivor.family_names,
                          date_of_birth=survivor.date_of_birth, document_type=survivor.document_type,
                          document_number=survivor.document_number)
    session.execute(identity_fingerprints.delete().where(identity_fingerprints.c.case_id == case_id))
    for kind, digest in prints.items():
        session.execute(identity_fingerprints.insert().values(case_id=case_id, kind=kind, digest=digest))
        others = session.execute(
            select(cases.c.id, cases.c.office).join(identity_fingerprints, identity_fingerprints.c.case_id == cases.c.id)
            .where(identity_fingerprints.c.kind == kind, identity_fingerprints.c.digest == digest,
                   cases.c.id != case_id, cases.c.erased_at.is_(None))
            .order_by(cases.c.created_at.desc()).limit(MAX_DUPLICATE_MATCHES)).all()
        for other in others:
            exists = session.execute(select(duplicate_flags.c.id).where(
                duplicate_flags.c.matched_on == kind,
                ((duplicate_flags.c.case_id == case_id) & (duplicate_flags.c.other_case_id == other.id))
                | ((duplicate_flags.c.case_id == other.id) & (duplicate_flags.c.other_case_id == case_id)))).first()
            if exists:
                continue
            session.execute(duplicate_flags.insert().values(id=str(uuid.uuid4()), case_id=case_id,
                                                            other_case_id=other.id, matched_on=kind))
            uow.publish(events.possible_duplicate(case_id, office, other.id, other.office, kind))
            POSSIBLE_DUPLICATES.labels(str(kind)).inc()


# ------------------------------------------------------------------------------------------ reading
def get_case(*, ctx: Intake, uow, principal: Principal, case_id: str) -> dict:
    row = load_case(uow, ctx, principal, case_id, "case.read")
    key = vault_store.load_key(uow.session, ctx.keyring, case_id)
    plan = vault_store.read_fields(uow.session, key, (vault_store.SAFETY_PLAN,)).get(vault_store.SAFETY_PLAN) if key else None
    ctx.allow(uow, principal, "case.read", "case", case_id, Decision(True, "own-office"))
    return case_view(row, ctx.clock(), incidents_list=load_incidents(uow.session, case_id), safety_plan=plan)


def list_cases(*, ctx: Intake, uow, principal: Principal, status: str | None, risk_level: str | None,
               survivor_code: str | None, assigned_to_me: bool, limit: int, offset: int) -> dict:
    office = policy.list_scope(principal)
    if office is None:
        raise AccessDenied("case.list", "case", None, policy.can_register(principal).reason, 403)
    conditions = [cases.c.office == office, cases.c.status != CaseStatus.ERASED]
    if status:
        conditions.append(cases.c.status == status)
    if risk_level:
        conditions.append(cases.c.risk_level == risk_level)
    if survivor_code:
        conditions.append(cases.c.survivor_code == survivor_code)
    if assigned_to_me:
        conditions.append(cases.c.caseworker == principal.subject)
    where = and_(*conditions)
    session = uow.session
    total = session.execute(select(func.count()).select_from(cases).where(where)).scalar_one()
    rows = session.execute(select(cases).where(where).order_by(cases.c.created_at.desc(), cases.c.id)
                           .limit(limit).offset(offset)).all()
    now = ctx.clock()
    allowed = Decision(True, "own-office")
    ctx.allow(uow, principal, "case.list", "case_list", None, allowed, key=office)
    for row in rows:
        ctx.allow(uow, principal, "case.list", "case", row.id, allowed)
    return {"items": [summary_view(r, now) for r in rows], "total": total, "limit": limit, "offset": offset}


# ----------------------------------------------------------------------------------------- updating
def update_case(*, ctx: Intake, uow, principal: Principal, case_id: str, body: CaseUpdateIn, if_match: IfMatch) -> dict:
    session = uow.session
    row = load_case(uow, ctx, principal, case_id, "case.update", lock=True)
    if_match(row.version)
    now = ctx.clock()
    fields = body.model_fields_set
    if row.status == CaseStatus.CLOSED and not ("status" in fields and set(fields) == {"status"}):
        require_active(row)
    values: dict = {}
    changed: list[str] = []

    if "profile" in fields:
        patch = body.profile
        current = profile_view(row)
        merged = {**current, **{k: getattr(patch, k) for k in patch.model_fields_set}}
        if {"age_years", "age_band"} & patch.model_fields_set:
            key = vault_store.load_key(session, ctx.keyring, case_id)
            dob = vault_store.read_fields(session, key, ("date_of_birth",)).get("date_of_birth") if key else None
            from datetime import date

            age = resolve_age(date_of_birth=date.fromisoformat(dob) if dob else None,
                              age_years=merged["age_years"] if "age_years" in patch.model_fields_set else None,
                              age_band=merged["age_band"] if "age_band" in patch.model_fields_set else None,
                              today=now.astimezone(ECUADOR).date())
            merged["age_years"], merged["age_band"] = age.years, age.band
        if merged["canton"] is not None and (merged["province"] is None or merged["canton"][:2] != merged["province"]):
            raise RuleViolation("canton-province", field="profile.canton",
                                es="El cantón no pertenece a la provincia.", en="The canton is not in the province.")
        for name, value in merged.items():
            if isinstance(value, list):
                value = sorted(value) if name == "disability" else list(value)
            if value != current[name]:
                values[name] = value
                changed.append(name)
    if "needs" in fields and sorted(body.needs) != sorted(row.needs or []):
        values["needs"] = sorted(body.needs)
        changed.append("needs")
    if "risk" in fields:
        _check_risk(body.risk, plan_exists=row.safety_plan_in_place)
        if body.risk.level != row.risk_level:
            values["risk_level"] = body.risk.level
            changed.append("risk_level")
        if body.risk.safety_plan is not None:
            key = vault_store.load_key(session, ctx.keyring, case_id)
            vault_store.write_fields(session, key, {vault_store.SAFETY_PLAN: body.risk.safety_plan})
            values["safety_plan_in_place"] = True
            changed.append("safety_plan")
    if "status" in fields and body.status != row.status:
        values.update(status=body.status, closure_reason=None, closed_at=None)
        changed.append("status")
    if "caseworker" in fields and body.caseworker != row.caseworker:
        values["caseworker"] = body.caseworker
        changed.append("caseworker")

    ctx.allow(uow, principal, "case.update", "case", case_id, Decision(True, "own-office"))
    if changed:
        values.update(version=row.version + 1, updated_at=now)
        session.execute(update(cases).where(cases.c.id == case_id).values(**values))
        row = session.execute(select(cases).where(cases.c.id == case_id)).one()
        uow.publish(events.case_updated(event_case(row), changed))
    return case_view(row, now, incidents_list=load_incidents(session, case_id))


def close_case(*, ctx: Intake, uow, principal: Principal, case_id: str, body: CloseIn, if_match: IfMatch) -> dict:
    row = load_case(uow, ctx, principal, case_id, "case.close", lock=True)
    if_match(row.version)
    if row.status == CaseStatus.CLOSED:
        raise Conflict("case-already-closed", es="El caso ya está cerrado.", en="The case is already closed.")
    row = _close(uow, row, body.closure_reason, ctx.clock())
    ctx.allow(uow, principal, "case.close", "case", case_id, Decision(True, "own-office"))
    return case_view(row, ctx.clock(), incidents_list=load_incidents(uow.session, case_id))


def _close(uow, row, reason: str, now: datetime):
    uow.session.execute(update(cases).where(cases.c.id == row.id).values(
        status=CaseStatus.CLOSED, closure_reason=reason, closed_at=now, version=row.version + 1, updated_at=now))
    uow.publish(events.case_closed(row.id, row.office, reason))
    CASES_CLOSED.labels(str(reason)).inc()
    return uow.session.execute(select(cases).where(cases.c.id == row.id)).one()


# ---------------------------------------------------------------------------------------- incidents
def record_incident(*, ctx: Intake, uow, principal: Principal, case_id: str, body: IncidentIn) -> dict:
    session = uow.session
    row = load_case(uow, ctx, principal, case_id, "incident.create", lock=True)
    require_active(row)
    now = ctx.clock()
    incident, window = _insert_incident(session, case_id=case_id, body=body, principal=principal, now=now)
    values = {"version": row.version + 1, "updated_at": now}
    current = row.clinical_window
    if window is not None and (current is None or datetime.fromisoformat(current["latest_at"]) < window.latest_at):
        values["clinical_window"] = _stored_window(window)
    session.execute(update(cases).where(cases.c.id == case_id).values(**values))
    uow.publish(events.incident_recorded(case_id, row.office, incident))
    if window is not None:
        uow.publish(events.clinical_window_opened(case_id, row.office, window.as_event()))
        CLINICAL_WINDOWS.inc()
    ctx.allow(uow, principal, "incident.create", "case", case_id, Decision(True, "own-office"))
    return incident_view_from_dict(incident)


def list_incidents(*, ctx: Intake, uow, principal: Principal, case_id: str) -> list[dict]:
    load_case(uow, ctx, principal, case_id, "incident.list")
    ctx.allow(uow, principal, "incident.list", "case", case_id, Decision(True, "own-office"))
    return load_incidents(uow.session, case_id)


__all__ = [
    "Age",
    "close_case",
    "get_case",
    "list_cases",
    "list_incidents",
    "record_incident",
    "register_case",
    "update_case",
]
