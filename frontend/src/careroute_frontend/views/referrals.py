"""Service providers (and institutions): the organisation's referral inbox with only the consented
data; accept, decline with a reason, complete with a counter-referral, close without service.
A stale page answering an already-answered referral gets a clear message (409/412 from referral)."""
from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request

from .. import geography
from ..clients import ApiError, items
from ..forms import Errors, Form, api_errors
from ..web import Ctx, csrf_protect, redirect, render, require_roles

router = APIRouter(dependencies=[Depends(csrf_protect)])
receiver = require_roles("service-provider", "government-official")
provider = require_roles("service-provider")
party = require_roles("service-provider", "government-official", "caseworker", "supervisor")
ACTIONS = ("accept", "decline", "complete", "close")


@router.get("/referrals")
def inbox(ctx: Ctx = Depends(receiver), status: str = "", priority: str = "", overdue: str = "", offset: int = 0):
    params = {"status": status or None, "priority": priority or None, "overdue": "true" if overdue else None,
              "limit": 25, "offset": max(offset, 0)}
    refused = False
    try:
        page = ctx.api.get("referral", "/v1/referrals/inbox", params=params)
    except ApiError as exc:
        if exc.status != 403:
            raise
        page, refused = {"items": [], "total": 0}, True
    referrals = items(page)
    template = "referrals/_rows.html" if ctx.request.headers.get("hx-request") else "referrals/inbox.html"
    return render(ctx.request, template, active="referrals", referrals=referrals, total=page.get("total", 0),
                  offset=max(offset, 0), limit=25, refused=refused,
                  filters={"status": status, "priority": priority, "overdue": overdue})


def _shared_data(ctx: Ctx, referral: dict) -> tuple[dict | None, str | None]:
    """What intake lets this organisation read about the survivor: only after acceptance, only the
    consented categories. Intake decides (and records the read); we only show its answer."""
    if referral.get("side") != "receiving" or referral.get("status") not in ("accepted", "completed"):
        return None, None
    # Intake learns of the acceptance through the referral service's events, a moment later: right
    # after accepting, wait a few seconds for it rather than show an empty page.
    for attempt in range(8):
        try:
            return ctx.api.get("intake", f"/v1/referrals/{referral['id']}/shared-data"), None
        except ApiError as exc:
            if exc.status == 403:
                return None, ctx._("The survivor has not consented to share any information with your "
                                   "organisation for this referral (or withdrew her consent).")
            if exc.status not in (404, 409, 410):
                raise
            if exc.status == 404 and attempt < 7:
                time.sleep(0.5)
                continue
            return None, ctx._("The consented information is not available yet, or no longer. Reload the page "
                               "in a moment; if it stays empty, the consent or the referral has ended.")
    return None, None


@router.get("/referrals/{referral_id}")
def referral_page(referral_id: str, ctx: Ctx = Depends(party)):
    referral, etag = ctx.api.get_with_etag("referral", f"/v1/referrals/{referral_id}")
    if referral.get("side") == "referring":
        # notifications link every referral here; the referring side follows it on the case page
        return redirect(f"/cases/{referral['case_id']}#referral-{referral['id']}")
    shared, shared_refusal = _shared_data(ctx, referral)
    return render(ctx.request, "referrals/detail.html", active="referrals", referral=referral, etag=etag,
                  shared=shared, shared_refusal=shared_refusal, errors={}, values={},
                  canton_name=geography.canton_name, province_name=geography.province_name,
                  nationality_name=lambda c: geography.nationality_name(c, ctx.locale))


@router.post("/referrals/{referral_id}/{action}")
async def answer(referral_id: str, action: str, request: Request, ctx: Ctx = Depends(provider)):
    if action not in ACTIONS:
        from ..web import NotFound
        raise NotFound()
    form = await Form.read(request, multi=("follow_up_service_types",))
    errors = Errors()
    body: dict = {}
    if action == "decline":
        if not form.get("reason_code"):
            errors["reason_code"] = ctx._("Choose why the referral is declined.")
        elif form.get("reason_code") == "other" and not form.get("note"):
            errors["note"] = ctx._("With the reason 'other', explain in a note.")
        body = {"reason_code": form.get("reason_code"), "note": form.get("note") or None}
    elif action == "close":
        if not form.get("reason_code"):
            errors["close_reason_code"] = ctx._("Choose why the referral is closed without service.")
        body = {"reason_code": form.get("reason_code"), "note": form.get("note") or None}
    elif action == "complete":
        if form.get("service_delivered") not in ("yes", "no"):
            errors["service_delivered"] = ctx._("Say whether the service was delivered.")
        if not form.get("outcome_code"):
            errors["outcome_code"] = ctx._("Choose the outcome.")
        body = {"service_delivered": form.get("service_delivered") == "yes",
                "outcome_code": form.get("outcome_code"),
                "follow_up_advised": form.checked("follow_up_advised") or bool(form.getlist("follow_up_service_types")),
                "follow_up_service_types": form.getlist("follow_up_service_types"),
                "note": form.get("note") or None}
    if not errors:
        try:
            ctx.api.post("referral", f"/v1/referrals/{referral_id}/{action}",
                         json={k: v for k, v in body.items() if v is not None} if action != "accept" else None,
                         headers={"If-Match": form.get("etag") or "*"})
        except ApiError as exc:
            if exc.status in (409, 412):
                # Someone (or this person in another tab) answered first: say so plainly.
                ctx.flash("error", _stale_message(ctx, exc))
                return redirect(f"/referrals/{referral_id}")
            if exc.status not in (400, 422):
                raise
            errors = api_errors(exc, ctx.locale, {"reason_code", "note", "service_delivered", "outcome_code",
                                                  "follow_up_service_types"})
        else:
            ctx.flash("success", {
                "accept": ctx._("Referral accepted. The referring caseworker has been notified."),
                "decline": ctx._("Referral declined. The referring caseworker has been notified."),
                "complete": ctx._("Counter-referral sent. The referring caseworker has been notified."),
                "close": ctx._("Referral closed without service."),
            }[action])
            return redirect(f"/referrals/{referral_id}")
    referral, etag = ctx.api.get_with_etag("referral", f"/v1/referrals/{referral_id}")
    shared, shared_refusal = _shared_data(ctx, referral)
    return render(request, "referrals/detail.html", status_code=422, active="referrals", referral=referral,
                  etag=etag, shared=shared, shared_refusal=shared_refusal, errors=errors, values=form.data,
                  open_action=action, canton_name=geography.canton_name, province_name=geography.province_name,
                  nationality_name=lambda c: geography.nationality_name(c, ctx.locale))


def _stale_message(ctx: Ctx, exc: ApiError) -> str:
    from .. import labels

    current = exc.problem.get("current_status")
    if current:
        return ctx._("This referral was already answered (it is now: %(status)s). The page you had open was "
                     "out of date; here is its current state.",
                     status=labels.label("referral_status", current, ctx.locale))
    return ctx._("Someone else changed this referral in the meantime. Here is its current state; check it "
                 "before answering again.")
