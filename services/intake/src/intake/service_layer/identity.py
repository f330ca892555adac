"""The survivor's identity and her data-subject rights (LOPDP): reading the identity for a stated
purpose, rectification, export of everything held, and erasure by crypto-shredding."""
from __future__ import annotations

from datetime import date

from careroute_platform.access import Decision
from careroute_platform.auth import Principal
from sqlalchemy import delete, func, or_, select, text, update

from ..adapters import vault_store
from ..adapters.orm import (
    case_notes,
    cases,
    consents,
    duplicate_flags,
    identity_fingerprints,
    incidents,
    referral_access,
    transfers,
)
from ..domain.ages import resolve_age
from ..domain.clinical import ECUADOR
from ..domain.consent import check_consent_giver
from ..domain.errors import Gone, RuleViolation
from ..domain.vocabulary import CaseStatus, ConsentPurpose, TransferStatus
from ..metrics import CASES_ERASED, IDENTITY_READS
from ..schemas import EraseIn, SurvivorIdentityIn
from . import events
from .cases import IfMatch, _check_duplicates
from .common import case_view, event_case, load_case, load_incidents
from .consents import consent_view
from .context import Intake
from .notes import note_view


def _key_or_gone(session, ctx: Intake, case_id: str):
    key = vault_store.load_key(session, ctx.keyring, case_id)
    if key is None:
        raise Gone("vault-key-destroyed", es="Los datos de identidad fueron suprimidos.",
                   en="The identity data was erased.")
    return key


def identity_view(row, identity: dict) -> dict:
    return {"case_id": row.id, "survivor_code": row.survivor_code, **identity, "version": row.version}


def read_identity(*, ctx: Intake, uow, principal: Principal, case_id: str, purpose: str) -> dict:
    row = load_case(uow, ctx, principal, case_id, "identity.read")
    key = _key_or_gone(uow.session, ctx, case_id)
    identity = vault_store.read_identity(uow.session, key)
    ctx.allow(uow, principal, "identity.read", "case.identity", case_id, Decision(True, "own-office"),
              purpose=purpose, key=case_id)
    IDENTITY_READS.labels(purpose).inc()
    return identity_view(row, identity)


def rectify_identity(*, ctx: Intake, uow, principal: Principal, case_id: str, body: SurvivorIdentityIn,
                     if_match: IfMatch) -> dict:
    """Replaces the identity record (PUT). A new date of birth must agree with the case's age band and
    with who gave the current registration consent."""
    session = uow.session
    row = load_case(uow, ctx, principal, case_id, "identity.rectify", lock=True)
    if_match(row.version)
    now = ctx.clock()
    key = _key_or_gone(session, ctx, case_id)
    values = {"version": row.version + 1, "updated_at": now}
    changed = ["identity"]
    if body.date_of_birth is not None:
        age = resolve_age(date_of_birth=body.date_of_birth, age_years=None, age_band=None,
                          today=now.astimezone(ECUADOR).date())
        registration = session.execute(select(consents).where(
            consents.c.case_id == case_id, consents.c.purpose == ConsentPurpose.REGISTRATION,
            consents.c.withdrawn_at.is_(None), consents.c.superseded_at.is_(None))).first()
        if registration is not None:
            try:
                check_consent_giver(given_by=registration.given_by, child_assent=registration.child_assent,
                                    caregiver_relationship=registration.caregiver_relationship, age=age)
            except RuleViolation:
                raise RuleViolation("dob-contradicts-consent", field="date_of_birth",
                                    es="Con esta fecha de nacimiento, el consentimiento vigente no es válido: "
                                       "registre primero un nuevo consentimiento.",
                                    en="With this date of birth the current consent is not valid: record a new "
                                       "consent first.") from None
        if age.years != row.age_years:
            values["age_years"] = age.years
            changed.append("age_years")
        if age.band != row.age_band:
            values["age_band"] = age.band
            changed.append("age_band")
    identity = body.model_dump(mode="json")
    vault_store.write_fields(session, key, {k: identity.get(k) for k in vault_store.IDENTITY_FIELDS})
    session.execute(update(cases).where(cases.c.id == case_id).values(**values))
    updated = session.execute(select(cases).where(cases.c.id == case_id)).one()
    uow.publish(events.case_updated(event_case(updated), changed))
    _check_duplicates(uow, ctx, case_id=case_id, office=row.office, survivor=body)
    ctx.allow(uow, principal, "identity.rectify", "case.identity", case_id, Decision(True, "own-office"),
              purpose="data_subject_request", key=case_id)
    return identity_view(updated, vault_store.read_identity(session, key))


def export_case(*, ctx: Intake, uow, principal: Principal, case_id: str) -> dict:
    """Everything held about the survivor, for her data-subject access request (supervisor only)."""
    session = uow.session
    row = load_case(uow, ctx, principal, case_id, "export")
    now = ctx.clock()
    key = _key_or_gone(session, ctx, case_id)
    sealed = vault_store.read_fields(session, key)
    notes = session.execute(select(case_notes).where(case_notes.c.case_id == case_id)
                            .order_by(case_notes.c.created_at)).all()
    consent_rows = session.execute(select(consents).where(consents.c.case_id == case_id)
                                   .order_by(consents.c.created_at)).all()
    transfer_rows = session.execute(select(transfers).where(transfers.c.case_id == case_id)
                                    .order_by(transfers.c.requested_at)).all()
    referral_rows = session.execute(select(referral_access).where(referral_access.c.case_id == case_id)).all()
    ctx.allow(uow, principal, "export", "case", case_id, Decision(True, "supervisor-own-office"),
              purpose="data_subject_request")
    return {
        "format": "careroute-intake-export/v1", "exported_at": now, "case": case_view(row, now),
        "identity": {k: sealed.get(k) for k in vault_store.IDENTITY_FIELDS},
        "safety_plan": sealed.get(vault_store.SAFETY_PLAN),
        "incidents": load_incidents(session, case_id),
        "consents": [consent_view(c, now) for c in consent_rows],
        "notes": [note_view(key, n) for n in notes],
        "transfers": [{k: getattr(t, k) for k in ("id", "from_office", "to_office", "status", "reason_code",
                                                   "decline_reason", "requested_at", "decided_at")} for t in transfer_rows],
        "referrals": [{"referral_id": r.referral_id, "receiving_organisation": r.receiving_organisation,
                       "service_type": r.service_type, "categories": list(r.categories), "status": r.status}
                      for r in referral_rows],
    }


def erase_case(*, ctx: Intake, uow, principal: Principal, case_id: str, body: EraseIn, if_match: IfMatch) -> dict:
    """Crypto-shredding: the case's data key is destroyed, so no copy of its ciphertexts (replicas,
    backups of the fields table) can be opened again; the case becomes a tombstone of ids and codes."""
    session = uow.session
    row = load_case(uow, ctx, principal, case_id, "erase", lock=True)
    if_match(row.version)
    now = ctx.clock()
    vault_store.shred(session, case_id)
    session.execute(delete(identity_fingerprints).where(identity_fingerprints.c.case_id == case_id))
    session.execute(delete(duplicate_flags).where(or_(duplicate_flags.c.case_id == case_id,
                                                      duplicate_flags.c.other_case_id == case_id)))
    session.execute(delete(incidents).where(incidents.c.case_id == case_id))
    session.execute(update(consents).where(consents.c.case_id == case_id, consents.c.withdrawn_at.is_(None))
                    .values(withdrawn_at=now, withdrawn_by=principal.subject))
    session.execute(update(transfers).where(transfers.c.case_id == case_id,
                                            transfers.c.status == TransferStatus.PENDING)
                    .values(status=TransferStatus.EXPIRED, decided_at=now))
    # Stored idempotent responses carry the case's profile: they go too.
    table = ctx.runtime.idempotency_table
    session.execute(delete(table).where(table.c.response["id"].astext == case_id))
    session.execute(update(cases).where(cases.c.id == case_id).values(
        survivor_code=None, caseworker=None, status=CaseStatus.ERASED, closure_reason=None, risk_level=None,
        safety_plan_in_place=False, needs=[], age_years=None, age_band=None, sex=None, gender_identity=None,
        nationality=None, ethnicity=None, mobility_status=None, disability=[], languages=[], province=None,
        canton=None, reporting_consent=False, clinical_window=None, version=row.version + 1, updated_at=now,
        erased_at=now, erasure_reason=body.reason))
    uow.publish(events.case_erased(case_id, row.office))
    ctx.allow(uow, principal, "erase", "case", case_id, Decision(True, "supervisor-own-office"),
              purpose="data_subject_request")
    CASES_ERASED.inc()
    return {"case_id": case_id, "status": CaseStatus.ERASED, "erased_at": now, "reason": body.reason,
            "version": row.version + 1}


_ = (func, text, date)
