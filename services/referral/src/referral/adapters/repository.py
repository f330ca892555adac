"""Rows in and out: referrals as domain objects, projections as rows, with the locks the use cases
need. Every query is SQLAlchemy Core; no SQL strings."""
from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from ..domain.consent import ConsentGrant
from ..domain.deadlines import ClinicalWindow
from ..domain.referral import Actor, CounterReferral, Referral
from ..domain.vocabulary import OutcomeCode, Priority, ReferralStatus, ServiceType
from .orm import (
    cases,
    consents,
    incidents,
    organisations,
    purged_referrals,
    referral_history,
    referrals,
    services,
)

_FIELDS = [f.name for f in dataclasses.fields(Referral) if f.name not in ("events", "counter_referral")]


class StaleReferral(Exception):
    """The conditional update found another version: someone else changed it first."""


# -- referrals ------------------------------------------------------------------------------------
def referral_from_row(row) -> Referral:
    m = row._mapping
    values = {name: m[name] for name in _FIELDS}
    values["status"] = ReferralStatus(values["status"])
    values["priority"] = Priority(values["priority"])
    values["service_type"] = ServiceType(values["service_type"])
    values["categories"] = tuple(values["categories"] or ())
    values["services_requested"] = tuple(values["services_requested"] or ())
    values["override_kinds"] = tuple(values["override_kinds"] or ())
    cr = m["counter_referral"]
    counter = None
    if cr:
        counter = CounterReferral(cr["service_delivered"], OutcomeCode(cr["outcome_code"]), cr["follow_up_advised"],
                                  tuple(ServiceType(t) for t in cr.get("follow_up_service_types", [])), cr.get("note"))
    return Referral(**values, counter_referral=counter)


def _row_values(referral: Referral, now: datetime) -> dict:
    values = {name: getattr(referral, name) for name in _FIELDS}
    for key in ("status", "priority", "service_type"):
        values[key] = values[key].value
    values["categories"] = list(referral.categories)
    values["services_requested"] = list(referral.services_requested)
    values["override_kinds"] = list(referral.override_kinds)
    values["counter_referral"] = ({**referral.counter_referral.codes(), "note": referral.counter_referral.note}
                                  if referral.counter_referral else None)
    values["updated_at"] = now
    return values


def get_referral(session: Session, referral_id: str, *, lock: bool = False) -> Referral | None:
    query = select(referrals).where(referrals.c.id == referral_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).first()
    return referral_from_row(row) if row else None


def add_referral(session: Session, referral: Referral, now: datetime) -> None:
    session.execute(insert(referrals).values(**_row_values(referral, now)))


def save_referral(session: Session, referral: Referral, *, expected_version: int, now: datetime) -> None:
    """Conditional update: a second line of defence behind the row lock."""
    result = session.execute(update(referrals).where(referrals.c.id == referral.id,
                                                     referrals.c.version == expected_version)
                             .values(**_row_values(referral, now)))
    if result.rowcount != 1:
        raise StaleReferral(referral.id)


def add_history(session: Session, referral: Referral, event: str, actor: Actor | None, at: datetime,
                reason_code: str | None = None) -> None:
    session.execute(insert(referral_history).values(
        referral_id=referral.id, event=event, status=referral.status.value, reason_code=reason_code,
        actor_subject=actor.subject if actor else None, actor_organisation=actor.organisation if actor else None,
        actor_client=actor.client if actor else None, at=at))


def history(session: Session, referral_id: str) -> list[dict]:
    rows = session.execute(select(referral_history).where(referral_history.c.referral_id == referral_id)
                           .order_by(referral_history.c.id)).all()
    return [{"event": r.event, "status": r.status, "reason_code": r.reason_code, "actor_subject": r.actor_subject,
             "actor_organisation": r.actor_organisation, "actor_client": r.actor_client, "at": r.at.isoformat()}
            for r in rows]


def is_purged(session: Session, referral_id: str) -> bool:
    return session.execute(select(purged_referrals.c.referral_id)
                           .where(purged_referrals.c.referral_id == referral_id)).first() is not None


# -- projections ----------------------------------------------------------------------------------
def ensure_case_row(session: Session, case_id: str) -> None:
    session.execute(pg_insert(cases).values(case_id=case_id).on_conflict_do_nothing())


def get_case(session: Session, case_id: str, *, lock: str | None = None):
    query = select(cases).where(cases.c.case_id == case_id)
    if lock == "share":
        query = query.with_for_update(read=True)
    elif lock == "update":
        query = query.with_for_update()
    return session.execute(query).first()


def consent_grants(session: Session, case_id: str, *, lock: bool = False) -> list[ConsentGrant]:
    # Only consents to share with a recipient count for referrals (a registration consent, say,
    # may carry the reporting flag but names no one to share with).
    query = select(consents).where(consents.c.case_id == case_id,
                                   or_(consents.c.purpose.is_(None), consents.c.purpose == "sharing"),
                                   or_(consents.c.recipient_organisation.is_not(None),
                                       consents.c.recipient_service_type.is_not(None))).order_by(consents.c.consent_id)
    if lock:
        query = query.with_for_update(read=True)
    return [ConsentGrant(r.consent_id, r.recipient_organisation, r.recipient_service_type,
                         frozenset(r.granted_categories or ()), frozenset(r.withdrawn_categories or ()),
                         r.expires_at, r.granted) for r in session.execute(query).all()]


def clinical_window(session: Session, case_id: str) -> ClinicalWindow | None:
    """The window of the most recent sexual-violence incident of the case, if any."""
    row = session.execute(
        select(incidents).where(incidents.c.case_id == case_id,
                                or_(incidents.c.pep_deadline.is_not(None), incidents.c.sexual_violence.is_(True)))
        .order_by(incidents.c.incident_at.desc().nulls_last()).limit(1)).first()
    if row is None:
        return None
    if row.pep_deadline is None and row.incident_at is not None:
        return ClinicalWindow.from_incident(row.incident_id, row.incident_at)
    return ClinicalWindow(row.incident_id, row.incident_at, row.pep_deadline, row.ec_deadline)


# -- directory ------------------------------------------------------------------------------------
def service_with_organisation(session: Session, service_id: str, *, lock: bool = False):
    query = (select(services, organisations.c.group_path, organisations.c.kind.label("organisation_kind"),
                    organisations.c.status.label("organisation_status"),
                    organisations.c.name_es.label("organisation_name_es"),
                    organisations.c.name_en.label("organisation_name_en"))
             .join(organisations, organisations.c.id == services.c.organisation_id)
             .where(services.c.id == service_id))
    if lock:
        query = query.with_for_update(of=services, read=True)
    return session.execute(query).first()


def service_names(session: Session, service_ids: set[str]) -> dict[str, dict]:
    if not service_ids:
        return {}
    rows = session.execute(select(services.c.id, services.c.name_es, services.c.name_en, organisations.c.id.label("org_id"),
                                  organisations.c.name_es.label("org_es"), organisations.c.name_en.label("org_en"))
                           .join(organisations, organisations.c.id == services.c.organisation_id)
                           .where(services.c.id.in_(service_ids))).all()
    return {r.id: {"service": {"es": r.name_es, "en": r.name_en}, "organisation_id": r.org_id,
                   "organisation": {"es": r.org_es, "en": r.org_en}} for r in rows}
