"""Coordination figures: read the facts (no ids leave this module) and compute them in the domain."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select

from ..adapters.orm import cases, consents, incidents, referrals, unmet_needs
from ..domain.places import canton_name, province_name
from ..domain.statistics import ReferralFact, UnmetNeed, compute


def _reporting_allowed():
    """Only cases whose survivor consented to reporting (at registration or in a consent that is
    still granted) count in any figure."""
    c = consents.c
    return or_(cases.c.reporting_consent.is_(True),
               exists().where(c.case_id == cases.c.case_id, c.reporting.is_(True), c.granted.is_(True)))


def referral_figures(session, *, since: datetime | None, until: datetime | None, province: str | None,
                     service_type: str | None, min_cell: int) -> dict:
    r = referrals.c
    sv_incident = (select(func.max(incidents.c.incident_at)).where(incidents.c.case_id == r.case_id,
                                                                   incidents.c.sexual_violence.is_(True))
                   .scalar_subquery())
    conditions = [_reporting_allowed(), cases.c.erased.is_(False)]
    if since:
        conditions.append(r.created_at >= since)
    if until:
        conditions.append(r.created_at < until)
    if province:
        conditions.append(cases.c.province == province)
    if service_type:
        conditions.append(r.service_type == service_type)
    rows = session.execute(
        select(r.service_type, cases.c.province, cases.c.canton, r.receiving_organisation, r.priority, r.status,
               r.created_at, r.first_response_at, r.accepted_at.is_not(None).label("accepted"),
               cases.c.sexual_violence, sv_incident.label("incident_at"))
        .join(cases, cases.c.case_id == r.case_id).where(and_(*conditions))).all()
    facts = [ReferralFact(row.service_type, row.province, row.canton, row.receiving_organisation, row.priority,
                          row.status, row.created_at, row.first_response_at, bool(row.accepted),
                          bool(row.sexual_violence), row.incident_at) for row in rows]
    u = unmet_needs.c
    unmet_conditions = [_reporting_allowed()]
    if since:
        unmet_conditions.append(u.recorded_at >= since)
    if until:
        unmet_conditions.append(u.recorded_at < until)
    if service_type:
        unmet_conditions.append(u.service_type == service_type)
    if province:
        unmet_conditions.append(u.province == province)
    unmet = [UnmetNeed(row.service_type, row.province or None, row.canton or None) for row in session.execute(
        select(u.service_type, u.province, u.canton).join(cases, cases.c.case_id == u.case_id)
        .where(and_(*unmet_conditions))).all()]
    figures = compute(facts, unmet, min_cell=min_cell)
    for row in figures["by_canton"] + figures["unmet_needs"]:   # cases carry INEC codes; add the names
        row["province_name"] = province_name(row["province"])
        row["canton_name"] = canton_name(row["canton"])
    figures["period"] = {"from": since.isoformat() if since else None, "to": until.isoformat() if until else None}
    figures["filters"] = {"province": province, "service_type": service_type}
    return figures
