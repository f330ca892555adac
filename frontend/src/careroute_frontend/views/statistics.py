"""Government officials and supervisors: de-identified statistics (incidents by type, month and
province from intake; referral acceptance and response times from referral), drawn as inline SVG
with the data table next to each chart. Small cells arrive already suppressed by the services."""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from .. import charts, geography, i18n, labels
from ..clients import ApiError
from ..web import Ctx, csrf_protect, render, require_roles

router = APIRouter(dependencies=[Depends(csrf_protect)])
coordinator = require_roles("government-official", "supervisor")
MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


def _month_label(code: str | None, locale: str) -> str:
    if not code:
        return "—"
    from datetime import date

    from babel.dates import format_date

    try:
        year, month = code.split("-")
        return format_date(date(int(year), int(month), 1), "MMM y", locale=locale)
    except (ValueError, TypeError):
        return code


def _incident_rows(ctx: Ctx, dimension: str, body: dict) -> list[charts.Row]:
    rows = []
    cells = body.get("cells") or []
    if dimension == "month":
        cells = sorted(cells, key=lambda c: (c.get("key") or {}).get("month") or "")
    else:
        cells = sorted(cells, key=lambda c: -(c.get("count") or 0))
    for cell in cells:
        code = (cell.get("key") or {}).get(dimension)
        if dimension == "incident_type":
            text = labels.label("gbvims_type", code, ctx.locale)
        elif dimension == "province":
            text = geography.province_name(code)
        elif dimension == "month":
            text = _month_label(code, ctx.locale)
        else:
            text = str(code)
        value = None if cell.get("suppressed") else cell.get("count")
        rows.append(charts.Row(text, value, i18n.fmt_number(value, ctx.locale) if value is not None else "—"))
    return rows


@router.get("/statistics")
def statistics(ctx: Ctx = Depends(coordinator), from_month: str = "", to_month: str = ""):
    params = {"from_month": from_month if MONTH.match(from_month) else None,
              "to_month": to_month if MONTH.match(to_month) else None}
    suppressed = ctx._("withheld (fewer than %(n)s)", n=5)
    incident_charts = []
    titles = {"incident_type": ctx._("Incidents by type (GBVIMS)"), "month": ctx._("Incidents by month"),
              "province": ctx._("Incidents by province")}
    unavailable = []
    for dimension in ("incident_type", "month", "province"):
        try:
            body = ctx.api.get("intake", "/v1/statistics/incidents", params={**params, "group_by": dimension})
        except ApiError as exc:
            if exc.status >= 500 or exc.status in (403, 404):
                unavailable.append(titles[dimension])
                continue
            raise
        rows = _incident_rows(ctx, dimension, body)
        min_cell = body.get("min_cell", 5)
        suppressed = ctx._("withheld (fewer than %(n)s)", n=min_cell)
        incident_charts.append({
            "title": titles[dimension], "rows": rows, "total": body.get("total"), "dimension": dimension,
            "svg": charts.bar_chart(titles[dimension], rows, suppressed_text=suppressed, description=ctx._(
                "Bar chart of %(n)s values; the same figures are in the table below.", n=len(rows))),
        })
    referral = None
    try:
        referral = ctx.api.get("referral", "/v1/statistics/referrals")
    except ApiError as exc:
        if not (exc.status >= 500 or exc.status in (403, 404)):
            raise
        unavailable.append(ctx._("Referral figures"))
    referral_charts = []
    if referral:
        rows = []
        for row in referral.get("by_service_type") or []:
            value = row.get("referrals")
            rows.append(charts.Row(labels.label("service_type", row.get("service_type"), ctx.locale), value,
                                   i18n.fmt_number(value, ctx.locale) if value is not None else "—"))
        title = ctx._("Referrals by type of service")
        referral_charts.append({"title": title, "rows": rows, "svg": charts.bar_chart(
            title, rows, suppressed_text=suppressed,
            description=ctx._("Bar chart of %(n)s values; the same figures are in the table below.", n=len(rows)))})
        rows = []
        for row in referral.get("time_to_first_answer") or []:
            value = row.get("median_hours_to_first_answer")
            rows.append(charts.Row(labels.label("priority", row.get("priority"), ctx.locale), value,
                                   ctx._("%(h)s h", h=i18n.fmt_number(value, ctx.locale)) if value is not None else "—"))
        title = ctx._("Median time to first answer, by priority")
        referral_charts.append({"title": title, "rows": rows, "svg": charts.bar_chart(
            title, rows, suppressed_text=suppressed,
            description=ctx._("Bar chart of %(n)s values; the same figures are in the table below.", n=len(rows)))})
    return render(ctx.request, "statistics.html", active="statistics", incident_charts=incident_charts,
                  referral=referral, referral_charts=referral_charts, unavailable=unavailable,
                  filters={"from_month": from_month, "to_month": to_month})


@router.get("/statistics/incidents.csv")
def incidents_csv(ctx: Ctx = Depends(coordinator), group_by: str = "incident_type"):
    if group_by not in ("incident_type", "month", "province", "canton", "nationality", "age_band", "sex"):
        group_by = "incident_type"
    response = ctx.api.get("intake", "/v1/statistics/incidents", params={"group_by": group_by, "format": "csv"},
                           raw=True)
    return Response(response.content, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="careroute-incidents-{group_by}.csv"'})


@router.get("/statistics/referrals.csv")
def referrals_csv(ctx: Ctx = Depends(coordinator)):
    response = ctx.api.get("referral", "/v1/statistics/referrals", params={"format": "csv"}, raw=True)
    return Response(response.content, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="careroute-referral-figures.csv"'})
