"""De-identified statistics for coordination and government, and the possible-duplicates queue."""
from __future__ import annotations

from datetime import datetime

from careroute_platform.auth import Principal
from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.orm import aliased

from .. import policy
from ..adapters.orm import cases, duplicate_flags, incidents
from ..domain.statistics import suppress
from ..domain.vocabulary import CaseStatus
from ..schemas import DuplicateResolveIn
from .context import AccessDenied, Intake

COLUMNS = {
    "incident_type": incidents.c.gbvims_type,
    "month": func.to_char(incidents.c.occurred_on, "YYYY-MM"),
    "province": incidents.c.province,
    "canton": incidents.c.canton,
    "nationality": cases.c.nationality,
    "age_band": cases.c.age_band,
    "sex": cases.c.sex,
}


def _month_start(month: str) -> datetime:
    return datetime.strptime(month + "-01", "%Y-%m-%d")


def incident_statistics(*, ctx: Intake, uow, principal: Principal, group_by: list[str], from_month: str | None,
                        to_month: str | None) -> dict:
    decision = policy.statistics(principal)
    if not decision:
        raise AccessDenied("statistics.read", "statistics", None, decision.reason, 403)
    conditions = [cases.c.reporting_consent.is_(True), cases.c.status != CaseStatus.ERASED]
    if from_month:
        conditions.append(incidents.c.occurred_on >= _month_start(from_month).date())
    if to_month:
        start = _month_start(to_month)
        nxt = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1)
        conditions.append(incidents.c.occurred_on < nxt.date())
    dims = [COLUMNS[d].label(d) for d in group_by] or [literal("all").label("all")]
    rows = uow.session.execute(select(*dims, func.count().label("n")).select_from(
        incidents.join(cases, cases.c.id == incidents.c.case_id)).where(and_(*conditions)).group_by(*dims)).all()
    counts = {tuple(r[:-1]): r[-1] for r in rows}
    threshold = ctx.settings.statistics_min_cell
    cells, total = suppress(counts, threshold=threshold)
    ctx.allow(uow, principal, "statistics.read", "statistics", None, decision, key="statistics")
    names = group_by or ["all"]
    return {"group_by": group_by, "from_month": from_month, "to_month": to_month, "min_cell": threshold,
            "total": total,
            "cells": [{"key": dict(zip(names, c.key)), "count": c.count, "suppressed": c.suppressed} for c in cells]}


def list_duplicates(*, ctx: Intake, uow, principal: Principal, status: str, limit: int, offset: int) -> dict:
    decision = policy.duplicates(principal)
    if not decision:
        raise AccessDenied("duplicates.list", "duplicates", None, decision.reason, 403)
    office = principal.organisation
    mine, other = cases.alias("mine"), cases.alias("other")
    q = (select(duplicate_flags, mine.c.office.label("office"), other.c.office.label("other_office"))
         .join(mine, mine.c.id == duplicate_flags.c.case_id).join(other, other.c.id == duplicate_flags.c.other_case_id)
         .where(or_(mine.c.office == office, other.c.office == office), duplicate_flags.c.status == status))
    session = uow.session
    total = session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = session.execute(q.order_by(duplicate_flags.c.created_at.desc(), duplicate_flags.c.id)
                           .limit(limit).offset(offset)).all()
    items = [{"id": r.id, "case_id": r.case_id, "office": r.office, "other_case_id": r.other_case_id,
              "other_office": r.other_office, "matched_on": r.matched_on, "status": r.status,
              "created_at": r.created_at} for r in rows]
    ctx.allow(uow, principal, "duplicates.list", "duplicates", None, decision, key=office)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def resolve_duplicate(*, ctx: Intake, uow, principal: Principal, flag_id: str, body: DuplicateResolveIn) -> dict:
    decision = policy.duplicates(principal)
    session = uow.session
    mine, other = cases.alias("mine"), cases.alias("other")
    row = session.execute(select(duplicate_flags, mine.c.office.label("office"), other.c.office.label("other_office"))
                          .join(mine, mine.c.id == duplicate_flags.c.case_id)
                          .join(other, other.c.id == duplicate_flags.c.other_case_id)
                          .where(duplicate_flags.c.id == flag_id)).first()
    if not decision or row is None or principal.organisation not in (row.office, row.other_office):
        raise AccessDenied("duplicates.resolve", "duplicate_flag", flag_id,
                           decision.reason if not decision else "outside-office", 404)
    now = ctx.clock()
    session.execute(update(duplicate_flags).where(duplicate_flags.c.id == flag_id).values(
        status=body.resolution, resolved_by=principal.subject, resolved_at=now))
    ctx.allow(uow, principal, "duplicates.resolve", "duplicate_flag", flag_id, decision, key=row.case_id)
    return {"id": row.id, "case_id": row.case_id, "office": row.office, "other_case_id": row.other_case_id,
            "other_office": row.other_office, "matched_on": row.matched_on, "status": body.resolution,
            "created_at": row.created_at}


_ = aliased
