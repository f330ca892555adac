"""Transfers of a case between IOM offices and partner organisations along the migration route.
The survivor consents; the receiving office accepts (it then owns the case and the sending office
loses access, keeping only the transfer record) or declines; a pending transfer expires."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from careroute_platform.access import Decision
from careroute_platform.auth import Principal
from sqlalchemy import and_, func, or_, select, update

from .. import policy
from ..adapters.orm import cases, transfers
from ..domain.consent import ALL_CATEGORIES, check_consent_giver, check_given_at
from ..domain.errors import Conflict
from ..domain.transfers import check_destination, ensure_pending
from ..domain.vocabulary import CaseStatus, ConsentPurpose, TransferStatus
from ..metrics import TRANSFERS
from ..schemas import TransferDeclineIn, TransferIn
from . import events
from .cases import IfMatch
from .common import event_case, load_case, require_active
from .consents import insert_consent, survivor_age
from .context import AccessDenied, Intake


def transfer_view(row, *, survivor_code: str | None = None, case_summary: dict | None = None) -> dict:
    return {**{k: getattr(row, k) for k in ("id", "case_id", "from_office", "to_office", "status", "reason_code",
                                            "decline_reason", "requested_by", "requested_at", "expires_at",
                                            "decided_by", "decided_at", "version")},
            "survivor_code": survivor_code, "case_summary": case_summary}


def _pending_summary(case_row) -> dict:
    """What the receiving office sees before accepting: codes only, no identity, no notes."""
    return {"risk_level": case_row.risk_level, "needs": sorted(case_row.needs or []), "age_band": case_row.age_band,
            "sex": case_row.sex, "nationality": case_row.nationality, "mobility_status": case_row.mobility_status,
            "status": case_row.status, "clinical_window": bool(case_row.clinical_window)}


def request_transfer(*, ctx: Intake, uow, principal: Principal, case_id: str, body: TransferIn) -> dict:
    session = uow.session
    row = load_case(uow, ctx, principal, case_id, "transfer.request", lock=True)
    require_active(row)
    check_destination(from_office=row.office, to_office=body.to_office)
    now = ctx.clock()
    check_consent_giver(given_by=body.consent.given_by, child_assent=body.consent.child_assent,
                        caregiver_relationship=body.consent.caregiver_relationship,
                        age=survivor_age(session, ctx, row, now), field="consent")
    check_given_at(body.consent.given_at, now)
    if session.execute(select(transfers.c.id).where(transfers.c.case_id == case_id,
                                                    transfers.c.status == TransferStatus.PENDING)).first():
        raise Conflict("transfer-pending", es="Ya hay una transferencia pendiente.", en="A transfer is already pending.")
    consent = insert_consent(session, case_id=case_id, purpose=ConsentPurpose.TRANSFER, giver=body.consent,
                             recorded_by=principal.subject, recipient_organisation=body.to_office,
                             recipient_service_type=None, categories=ALL_CATEGORIES,
                             reporting=row.reporting_consent, expires_at=None)
    transfer_id = str(uuid.uuid4())
    expires_at = now + timedelta(hours=ctx.settings.transfer_ttl_hours)
    session.execute(transfers.insert().values(
        id=transfer_id, case_id=case_id, from_office=row.office, to_office=body.to_office,
        status=TransferStatus.PENDING, reason_code=body.reason_code, consent_id=consent["id"],
        requested_by=principal.subject, requested_at=now, expires_at=expires_at))
    created = session.execute(select(transfers).where(transfers.c.id == transfer_id)).one()
    uow.publish(events.consent_granted(case_id, row.office, consent))
    uow.publish(events.transfer("requested", created._asdict(), reason_code=body.reason_code,
                                expires_at=events.iso(expires_at)))
    ctx.allow(uow, principal, "transfer.request", "case", case_id, Decision(True, "own-office"))
    TRANSFERS.labels("requested").inc()
    return transfer_view(created, survivor_code=row.survivor_code)


def list_transfers(*, ctx: Intake, uow, principal: Principal, direction: str, status: str | None,
                   limit: int, offset: int) -> dict:
    office = policy.list_scope(principal)
    if office is None:
        raise AccessDenied("transfer.list", "transfer", None, "role-not-allowed", 403)
    column = transfers.c.to_office if direction == "incoming" else transfers.c.from_office
    where = and_(column == office, *( [transfers.c.status == status] if status else []))
    session = uow.session
    total = session.execute(select(func.count()).select_from(transfers).where(where)).scalar_one()
    rows = session.execute(select(transfers, cases.c.survivor_code, cases.c.office.label("case_office"),
                                  cases.c.risk_level, cases.c.needs, cases.c.age_band, cases.c.sex,
                                  cases.c.nationality, cases.c.mobility_status, cases.c.status.label("case_status"),
                                  cases.c.clinical_window)
                           .join(cases, cases.c.id == transfers.c.case_id).where(where)
                           .order_by(transfers.c.requested_at.desc(), transfers.c.id).limit(limit).offset(offset)).all()
    items = []
    for r in rows:
        summary = None
        if r.status == TransferStatus.PENDING and direction == "incoming":
            summary = {"risk_level": r.risk_level, "needs": sorted(r.needs or []), "age_band": r.age_band, "sex": r.sex,
                       "nationality": r.nationality, "mobility_status": r.mobility_status, "status": r.case_status,
                       "clinical_window": bool(r.clinical_window)}
        # The sending office keeps only the transfer record once the case has left it.
        code = r.survivor_code if (r.case_office == office or summary is not None) else None
        items.append(transfer_view(r, survivor_code=code, case_summary=summary))
        ctx.allow(uow, principal, "transfer.list", "transfer", r.id, Decision(True, f"{direction}-office"), key=r.case_id)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def _load_transfer(uow, principal: Principal, case_id: str, transfer_id: str, action: str, *, lock: bool):
    q = select(transfers).where(transfers.c.id == transfer_id, transfers.c.case_id == case_id)
    if lock:
        q = q.with_for_update()
    row = uow.session.execute(q).first()
    if row is None:
        raise AccessDenied(action, "transfer", transfer_id, "not-found", 404)
    if action == "transfer.read":
        if principal.organisation not in (row.from_office, row.to_office) or policy.list_scope(principal) is None:
            raise AccessDenied(action, "transfer", transfer_id, "not-party-to-transfer", 404)
    else:
        decision = policy.transfer_decision(principal, to_office=row.to_office)
        if not decision:
            raise AccessDenied(action, "transfer", transfer_id, decision.reason, 404)
    return row


def get_transfer(*, ctx: Intake, uow, principal: Principal, case_id: str, transfer_id: str) -> dict:
    row = _load_transfer(uow, principal, case_id, transfer_id, "transfer.read", lock=False)
    case_row = uow.session.execute(select(cases).where(cases.c.id == case_id)).one()
    incoming_pending = row.status == TransferStatus.PENDING and principal.organisation == row.to_office
    visible = case_row.office == principal.organisation or incoming_pending
    ctx.allow(uow, principal, "transfer.read", "transfer", transfer_id, Decision(True, "party-to-transfer"), key=case_id)
    return transfer_view(row, survivor_code=case_row.survivor_code if visible else None,
                         case_summary=_pending_summary(case_row) if incoming_pending else None)


def accept_transfer(*, ctx: Intake, uow, principal: Principal, case_id: str, transfer_id: str,
                    if_match: IfMatch) -> dict:
    session = uow.session
    row = _load_transfer(uow, principal, case_id, transfer_id, "transfer.accept", lock=True)
    if_match(row.version)
    now = ctx.clock()
    ensure_pending(row.status, now=now, expires_at=row.expires_at)
    case_row = session.execute(select(cases).where(cases.c.id == case_id).with_for_update()).one()
    if case_row.status == CaseStatus.ERASED:
        raise Conflict("case-erased", es="El caso fue suprimido.", en="The case was erased.")
    caseworker = principal.subject if principal.has_role("caseworker") else None
    session.execute(update(cases).where(cases.c.id == case_id).values(
        office=row.to_office, caseworker=caseworker, version=case_row.version + 1, updated_at=now))
    session.execute(update(transfers).where(transfers.c.id == transfer_id).values(
        status=TransferStatus.ACCEPTED, decided_by=principal.subject, decided_at=now, version=row.version + 1))
    updated = session.execute(select(cases).where(cases.c.id == case_id)).one()
    done = session.execute(select(transfers).where(transfers.c.id == transfer_id)).one()
    uow.publish(events.transfer("accepted", done._asdict()))
    uow.publish(events.case_updated(event_case(updated), ["office", "caseworker"]))
    ctx.allow(uow, principal, "transfer.accept", "case", case_id, Decision(True, "receiving-office"))
    TRANSFERS.labels("accepted").inc()
    return transfer_view(done, survivor_code=updated.survivor_code)


def decline_transfer(*, ctx: Intake, uow, principal: Principal, case_id: str, transfer_id: str,
                     body: TransferDeclineIn, if_match: IfMatch) -> dict:
    session = uow.session
    row = _load_transfer(uow, principal, case_id, transfer_id, "transfer.decline", lock=True)
    if_match(row.version)
    now = ctx.clock()
    ensure_pending(row.status, now=now, expires_at=row.expires_at)
    session.execute(update(transfers).where(transfers.c.id == transfer_id).values(
        status=TransferStatus.DECLINED, decline_reason=body.reason_code, decided_by=principal.subject,
        decided_at=now, version=row.version + 1))
    done = session.execute(select(transfers).where(transfers.c.id == transfer_id)).one()
    uow.publish(events.transfer("declined", done._asdict(), reason_code=body.reason_code))
    ctx.allow(uow, principal, "transfer.decline", "transfer", transfer_id, Decision(True, "receiving-office"), key=case_id)
    TRANSFERS.labels("declined").inc()
    return transfer_view(done)


def expire_transfers(*, ctx: Intake, uow, now: datetime, batch_size: int = 200) -> int:
    """The transfer clock: pending transfers past their expiry end, each with `transfer.expired`.
    SKIP LOCKED lets several workers run the clock without expiring a transfer twice."""
    session = uow.session
    rows = session.execute(select(transfers).where(transfers.c.status == TransferStatus.PENDING,
                                                   transfers.c.expires_at <= now)
                           .order_by(transfers.c.expires_at).limit(batch_size)
                           .with_for_update(skip_locked=True)).all()
    for row in rows:
        session.execute(update(transfers).where(transfers.c.id == row.id).values(
            status=TransferStatus.EXPIRED, decided_at=now, version=row.version + 1))
        uow.publish(events.transfer("expired", row._asdict()))
        TRANSFERS.labels("expired").inc()
    return len(rows)


_ = or_
