"""Supervisors: the office dashboard (overdue and near-deadline referrals, high-risk cases, open
clinical windows, possible duplicates) and data-subject requests under the LOPDP (export,
rectification, erasure with a confirmation step)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .. import i18n
from ..clients import ApiError, items
from ..forms import Errors, Form, api_errors
from ..web import Ctx, csrf_protect, redirect, render, require_roles

router = APIRouter(dependencies=[Depends(csrf_protect)])
supervisor = require_roles("supervisor")
SURVIVOR_CODE = re.compile(r"^[A-Z]{3}-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{6}$")
IDENTITY_FIELDS = ("given_names", "family_names", "date_of_birth", "phone", "address", "document_type",
                   "document_number")


def _safe(call, default):
    try:
        return call()
    except ApiError as exc:
        if exc.status in (403, 404) or exc.status >= 500:
            return default
        raise


@router.get("/supervision")
def dashboard(ctx: Ctx = Depends(supervisor)):
    now = datetime.now(UTC)
    overdue = items(_safe(lambda: ctx.api.get("referral", "/v1/referrals", params={"overdue": "true", "limit": 100}),
                          {}))
    overdue = [r for r in overdue if r.get("status") == "pending"]
    pending = items(_safe(lambda: ctx.api.get("referral", "/v1/referrals", params={"status": "pending", "limit": 100}),
                          {}))
    near = [r for r in pending if not r.get("overdue")
            and (i18n.parse_time(r.get("response_due_at")) or now + timedelta(days=99)) - now <= timedelta(hours=24)]
    open_cases = items(_safe(lambda: ctx.api.get("intake", "/v1/cases", params={"status": "open", "limit": 100}), {}))
    high_risk = [c for c in open_cases if c.get("risk_level") == "high"]
    windows = [c for c in open_cases if (c.get("clinical_window") or {}).get("ec_open")]
    duplicates = items(_safe(lambda: ctx.api.get("intake", "/v1/duplicates", params={"limit": 50}), {}))
    return render(ctx.request, "supervision/dashboard.html", active="supervision", overdue=overdue, near=near,
                  high_risk=high_risk, windows=windows, duplicates=duplicates)


@router.post("/supervision/duplicates/{flag_id}")
async def resolve_duplicate(flag_id: str, request: Request, ctx: Ctx = Depends(supervisor)):
    form = await Form.read(request)
    resolution = form.get("resolution")
    if resolution not in ("not_duplicate", "confirmed"):
        ctx.flash("error", ctx._("Choose whether the cases are the same person."))
        return redirect("/supervision#duplicates")
    ctx.api.post("intake", f"/v1/duplicates/{flag_id}/resolve", json={"resolution": resolution})
    ctx.flash("success", ctx._("The possible duplicate was resolved."))
    return redirect("/supervision#duplicates")


# -------------------------------------------------------------------------- data-subject requests
@router.get("/dsr")
def dsr_find(ctx: Ctx = Depends(supervisor), code: str = ""):
    found, error = None, None
    code = code.strip().upper()
    if code:
        if not SURVIVOR_CODE.match(code):
            error = ctx._("A survivor code looks like TUL-2025-7K3M9Q.")
        else:
            found = items(ctx.api.get("intake", "/v1/cases", params={"survivor_code": code, "limit": 5}))
            if not found:
                error = ctx._("No case of your office has this survivor code.")
    return render(ctx.request, "supervision/dsr.html", active="dsr", code=code, found=found,
                  errors={"code": error} if error else {})


@router.get("/dsr/{case_id}")
def dsr_case(case_id: str, ctx: Ctx = Depends(supervisor)):
    case, etag = ctx.api.get_with_etag("intake", f"/v1/cases/{case_id}")
    return render(ctx.request, "supervision/dsr_case.html", active="dsr", case=case, etag=etag)


@router.get("/dsr/{case_id}/export")
def dsr_export(case_id: str, ctx: Ctx = Depends(supervisor)):
    """The survivor's right of access: everything held about her, as JSON (the read is audited)."""
    response = ctx.api.get("intake", f"/v1/cases/{case_id}/export", raw=True)
    return Response(response.content, media_type="application/json",
                    headers={"content-disposition": f'attachment; filename="careroute-export-{case_id}.json"',
                             "cache-control": "no-store"})


@router.get("/dsr/{case_id}/rectify")
def rectify_form(case_id: str, ctx: Ctx = Depends(supervisor)):
    identity, etag = ctx.api.get_with_etag("intake", f"/v1/cases/{case_id}/identity",
                                           params={"purpose": "data_subject_request"})
    values = {f"identity.{k}": identity.get(k) or "" for k in IDENTITY_FIELDS}
    return render(ctx.request, "supervision/rectify.html", active="dsr", case_id=case_id, etag=etag,
                  survivor_code=identity.get("survivor_code"), values=values, errors={})


@router.post("/dsr/{case_id}/rectify")
async def rectify(case_id: str, request: Request, ctx: Ctx = Depends(supervisor)):
    form = await Form.read(request)
    body = {k: (form.get(f"identity.{k}") or None) for k in IDENTITY_FIELDS}
    errors = Errors()
    if body["document_number"] and not body["document_type"]:
        errors["identity.document_type"] = ctx._("Say which document the number belongs to.")
    if not errors:
        try:
            ctx.api.put("intake", f"/v1/cases/{case_id}/identity", json={k: v for k, v in body.items() if v},
                        headers={"If-Match": form.get("etag") or "*"})
            ctx.flash("success", ctx._("The identity was rectified."))
            return redirect(f"/dsr/{case_id}")
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            raw = api_errors(exc, ctx.locale)
            errors = Errors({(f"identity.{k}" if k in IDENTITY_FIELDS else
                              (f"identity.{k.split('.', 1)[-1]}" if k.split('.', 1)[-1] in IDENTITY_FIELDS else k)): v
                             for k, v in raw.items()})
    return render(request, "supervision/rectify.html", status_code=422, active="dsr", case_id=case_id,
                  etag=form.get("etag"), survivor_code=form.get("survivor_code"), values=form.data, errors=errors)


@router.get("/dsr/{case_id}/erase")
def erase_confirm(case_id: str, ctx: Ctx = Depends(supervisor)):
    case, etag = ctx.api.get_with_etag("intake", f"/v1/cases/{case_id}")
    return render(ctx.request, "supervision/erase.html", active="dsr", case=case, etag=etag, errors={}, values={})


@router.post("/dsr/{case_id}/erase")
async def erase(case_id: str, request: Request, ctx: Ctx = Depends(supervisor)):
    """Erasure is irreversible (crypto-shredding): a second step asks for the survivor code typed
    again and the legal reason before anything is sent."""
    form = await Form.read(request)
    case, etag = ctx.api.get_with_etag("intake", f"/v1/cases/{case_id}")
    errors = Errors()
    if form.get("confirm_code").strip().upper() != str(case.get("survivor_code", "")).upper():
        errors["confirm_code"] = ctx._("Type the survivor code exactly to confirm the erasure.")
    if not form.get("reason"):
        errors["reason"] = ctx._("Choose the reason for the erasure.")
    if not errors:
        try:
            ctx.api.post("intake", f"/v1/cases/{case_id}/erase", json={"reason": form.get("reason")},
                         headers={"If-Match": form.get("etag") or etag or "*"})
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            errors = api_errors(exc, ctx.locale, {"reason"})
        else:
            ctx.flash("success", ctx._("The survivor's data was erased. Only a de-identified trace remains."))
            return redirect("/dsr")
    return render(request, "supervision/erase.html", status_code=422, active="dsr", case=case, etag=etag,
                  errors=errors, values=form.data)
