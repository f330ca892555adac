"""Everyone: profile — language and which notifications arrive by which channel (inbox, e-mail).
Emergency notices (overdue referrals, clinical windows) cannot be switched off; notify enforces it."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from .. import i18n
from ..clients import ApiError, items
from ..forms import Form
from ..web import Ctx, csrf_protect, current, redirect, render, state

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/profile")
def profile(ctx: Ctx = Depends(current)):
    try:
        prefs = items(ctx.api.get("notify", "/v1/preferences"))
    except ApiError as exc:
        if exc.status < 500:
            raise
        prefs = []
    return render(ctx.request, "profile.html", active="profile", prefs=prefs)


@router.post("/profile")
async def save_profile(request: Request, ctx: Ctx = Depends(current)):
    form = await Form.read(request)
    locale = form.get("locale")
    if locale in i18n.LOCALES:
        ctx.session.locale = locale
        request.state.set_lang = locale
        request.state.locale = locale
    prefs = items(ctx.api.get("notify", "/v1/preferences"))
    failed = []
    for pref in prefs:
        kind = pref["kind"]
        wanted = {"inbox": form.checked(f"{kind}.inbox"), "email": form.checked(f"{kind}.email")}
        if pref.get("locked"):
            continue
        if wanted != {"inbox": pref.get("inbox"), "email": pref.get("email")}:
            try:
                ctx.api.put("notify", f"/v1/preferences/{kind}", json=wanted)
            except ApiError as exc:
                if exc.status not in (400, 404, 422):
                    raise
                failed.append(kind)
    state(request).store.save(ctx.session)
    if failed:
        ctx.flash("error", i18n.tr(request.state.locale, "Some preferences could not be saved."))
    else:
        ctx.flash("success", i18n.tr(request.state.locale, "Your profile was saved."))
    return redirect("/profile")
