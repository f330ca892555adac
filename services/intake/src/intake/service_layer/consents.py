"""Consent: recorded before registration, per recipient and data category, withdrawable at any
time. Withdrawal takes effect here at once (reads check current consent) and everywhere else
through `consent.withdrawn`."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from careroute_platform.access import Decision
from careroute_platform.auth import Principal
from sqlalchemy import select, update

from ..adapters import vault_store
from ..adapters.orm import cases, consents
from ..domain.ages import resolve_age
from ..domain.clinical import ECUADOR
from ..domain.consent import ALL_CATEGORIES, ConsentScope, check_consent_giver, check_expiry, check_given_at
from ..domain.errors import RuleViolation
from ..domain.vocabulary import CaseStatus, ClosureReason, ConsentPurpose
from ..metrics import CONSENTS_GRANTED, CONSENTS_WITHDRAWN
from ..schemas import ConsentGrantIn
from . import events
from .common import event_case, load_case
from .context import AccessDenied, Intake


def insert_consent(session, *, case_id: str, purpose: str, giver, recorded_by: str, recipient_organisation: str | None,
                   recipient_service_type: str | None, categories, reporting: bool,
                   expires_at: datetime | None) -> dict:
    row = {"id": str(uuid.uuid4()), "case_id": case_id, "purpose": str(purpose), "given_by": str(giver.given_by),
               "child_assent": giver.child_assent, "caregiver_relationship": giver.caregiver_relationship,
               "given_at": giver.given_at, "recorded_by": recorded_by, "recipient_organisation": recipient_organisation,
               "recipient_service_type": recipient_service_type,
               "categories": sorted(str(c) for c in (categories if categories is not None else ALL_CATEGORIES)),
               "reporting": reporting, "expires_at": expires_at}
    session.execute(consents.insert().values(**row))
    CONSENTS_GRANTED.labels(str(purpose)).inc()
    return row


def consent_view(row, now: datetime) -> dict:
    active = row.withdrawn_at is None and row.superseded_at is None and (row.expires_at is None or row.expires_at > now)
    return {name: getattr(row, name) for name in (
        "id", "purpose", "given_by", "child_assent", "caregiver_relationship", "given_at", "recorded_by",
        "recipient_organisation", "recipient_service_type", "categories", "reporting", "expires_at", "withdrawn_at",
        "superseded_at")} | {"active": active}


def active_scopes(session, case_id: str) -> list[ConsentScope]:
    rows = session.execute(select(consents).where(consents.c.case_id == case_id,
                                                  consents.c.purpose != ConsentPurpose.REGISTRATION,
                                                  consents.c.superseded_at.is_(None))).all()
    return [ConsentScope(r.recipient_organisation, r.recipient_service_type, frozenset(r.categories), r.expires_at,
                         r.withdrawn_at) for r in rows]


def survivor_age(session, ctx: Intake, row, now: datetime):
    """The survivor's age today: from the vault's date of birth when there is one."""
    key = vault_store.load_key(session, ctx.keyring, row.id)
    dob = vault_store.read_fields(session, key, ("date_of_birth",)).get("date_of_birth") if key else None
    today = now.astimezone(ECUADOR).date()
    if dob:
        return resolve_age(date_of_birth=date.fromisoformat(dob), age_years=None, age_band=None, today=today)
    return resolve_age(date_of_birth=None, age_years=row.age_years, age_band=row.age_band, today=today)


def list_consents(*, ctx: Intake, uow, principal: Principal, case_id: str) -> dict:
    load_case(uow, ctx, principal, case_id, "consent.list")
    rows = uow.session.execute(select(consents).where(consents.c.case_id == case_id)
                               .order_by(consents.c.created_at, consents.c.id)).all()
    ctx.allow(uow, principal, "consent.list", "case", case_id, Decision(True, "own-office"))
    now = ctx.clock()
    return {"items": [consent_view(r, now) for r in rows]}


def grant_consent(*, ctx: Intake, uow, principal: Principal, case_id: str, body: ConsentGrantIn) -> dict:
    session = uow.session
    row = load_case(uow, ctx, principal, case_id, "consent.grant", lock=True)
    now = ctx.clock()
    check_consent_giver(given_by=body.given_by, child_assent=body.child_assent,
                        caregiver_relationship=body.caregiver_relationship, age=survivor_age(session, ctx, row, now),
                        field="body")
    check_given_at(body.given_at, now, "body.given_at")
    check_expiry(body.expires_at, now, "body.expires_at")
    if body.purpose == ConsentPurpose.REGISTRATION:
        session.execute(update(consents).where(consents.c.case_id == case_id,
                                               consents.c.purpose == ConsentPurpose.REGISTRATION,
                                               consents.c.superseded_at.is_(None), consents.c.withdrawn_at.is_(None))
                        .values(superseded_at=now))
        created = insert_consent(session, case_id=case_id, purpose=ConsentPurpose.REGISTRATION, giver=body,
                                 recorded_by=principal.subject, recipient_organisation=row.office,
                                 recipient_service_type=None, categories=None, reporting=bool(body.reporting),
                                 expires_at=body.expires_at)
        if bool(body.reporting) != row.reporting_consent:
            session.execute(update(cases).where(cases.c.id == case_id).values(
                reporting_consent=bool(body.reporting), version=row.version + 1, updated_at=now))
            updated = session.execute(select(cases).where(cases.c.id == case_id)).one()
            uow.publish(events.case_updated(event_case(updated), ["reporting_consent"]))
    else:
        if row.status == CaseStatus.CLOSED:
            raise RuleViolation("case-closed", field="body", es="El caso está cerrado.", en="The case is closed.")
        created = insert_consent(session, case_id=case_id, purpose=ConsentPurpose.SHARING, giver=body,
                                 recorded_by=principal.subject, recipient_organisation=body.recipient_organisation,
                                 recipient_service_type=body.recipient_service_type, categories=body.categories,
                                 reporting=row.reporting_consent, expires_at=body.expires_at)
    uow.publish(events.consent_granted(case_id, row.office, created))
    ctx.allow(uow, principal, "consent.grant", "case", case_id, Decision(True, "own-office"))
    stored = session.execute(select(consents).where(consents.c.id == created["id"])).one()
    return consent_view(stored, now)


def withdraw_consent(*, ctx: Intake, uow, principal: Principal, case_id: str, consent_id: str) -> dict:
    """Withdrawing a sharing consent ends that sharing; withdrawing the consent to be registered
    withdraws every consent of the case and closes it (erasure is a separate request)."""
    session = uow.session
    row = load_case(uow, ctx, principal, case_id, "consent.withdraw", lock=True)
    consent = session.execute(select(consents).where(consents.c.id == consent_id, consents.c.case_id == case_id)
                              .with_for_update()).first()
    if consent is None:
        raise AccessDenied("consent.withdraw", "consent", consent_id, "not-found", 404)
    now = ctx.clock()
    ctx.allow(uow, principal, "consent.withdraw", "case", case_id, Decision(True, "own-office"))
    if consent.withdrawn_at is not None or consent.superseded_at is not None:
        return consent_view(consent, now)  # already ended: withdrawing again changes nothing
    targets = [consent]
    if consent.purpose == ConsentPurpose.REGISTRATION:
        targets = session.execute(select(consents).where(consents.c.case_id == case_id,
                                                         consents.c.withdrawn_at.is_(None),
                                                         consents.c.superseded_at.is_(None))).all()
    for target in targets:
        session.execute(update(consents).where(consents.c.id == target.id)
                        .values(withdrawn_at=now, withdrawn_by=principal.subject))
        uow.publish(events.consent_withdrawn(case_id, row.office, target._asdict()))
        CONSENTS_WITHDRAWN.labels(target.purpose).inc()
    if consent.purpose == ConsentPurpose.REGISTRATION:
        values = {"reporting_consent": False, "version": row.version + 1, "updated_at": now}
        session.execute(update(cases).where(cases.c.id == case_id).values(**values))
        if row.status != CaseStatus.CLOSED:
            from .cases import _close

            _close(uow, session.execute(select(cases).where(cases.c.id == case_id)).one(),
                   ClosureReason.CONSENT_WITHDRAWN, now)
    stored = session.execute(select(consents).where(consents.c.id == consent_id)).one()
    return consent_view(stored, now)
