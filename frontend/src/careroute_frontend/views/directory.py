"""The service directory: staff browse it (filters by type, canton, open now); directory admins
manage organisations, services and their locations (HSDS-shaped, in the referral service)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from .. import geography
from ..clients import ApiError, items
from ..forms import Errors, Form, api_errors, parse_int
from ..web import Ctx, csrf_protect, redirect, render, require_roles

router = APIRouter(dependencies=[Depends(csrf_protect)])
browser = require_roles("caseworker", "supervisor", "directory-admin", "service-provider")
admin = require_roles("directory-admin")
LOCATION_ROWS = 3
WEEKDAYS = range(7)


@router.get("/directory")
def browse(ctx: Ctx = Depends(browser), service_type: str = "", canton: str = "", open_now: str = "", q: str = ""):
    params = {"service_type": service_type or None, "canton": canton or None,
              "open_now": "true" if open_now else None, "q": q[:80] or None, "limit": 100}
    services = items(ctx.api.get("referral", "/v1/directory/services", params=params))
    template = "directory/_results.html" if ctx.request.headers.get("hx-request") else "directory/browse.html"
    return render(ctx.request, template, active="directory", services=services, cantons=geography.canton_options(),
                  filters={"service_type": service_type, "canton": canton, "open_now": open_now, "q": q})


# ------------------------------------------------------------------------------------------ admin
@router.get("/directory/admin")
def admin_home(ctx: Ctx = Depends(admin)):
    orgs = items(ctx.api.get("referral", "/v1/directory/organisations", params={"limit": 100}))
    services = items(ctx.api.get("referral", "/v1/directory/services", params={"limit": 100}))
    return render(ctx.request, "directory/admin.html", active="directory-admin", organisations=orgs,
                  services=services)


def _org_values(org: dict) -> dict:
    name, desc = org.get("name") or {}, org.get("description") or {}
    return {"group_path": org.get("group_path", ""), "name.es": name.get("es", ""), "name.en": name.get("en", ""),
            "description.es": desc.get("es", ""), "description.en": desc.get("en", ""),
            "email": org.get("email") or "", "phone": org.get("phone") or "", "website": org.get("website") or "",
            "status": org.get("status", "active")}


def _org_body(form: Form) -> dict:
    body = {"group_path": form.get("group_path"),
            "name": {"es": form.get("name.es"), "en": form.get("name.en")},
            "description": {"es": form.get("description.es"), "en": form.get("description.en")},
            "email": form.get("email") or None, "phone": form.get("phone") or None,
            "website": form.get("website") or None, "status": form.get("status") or "active"}
    return {k: v for k, v in body.items() if v is not None}


def _check_org(form: Form, ctx: Ctx) -> Errors:
    errors = Errors()
    for name in ("group_path", "name.es", "name.en", "description.es", "description.en"):
        errors.require(form, name, ctx.locale)
    return errors


@router.get("/directory/admin/organisations/new")
def org_new(ctx: Ctx = Depends(admin)):
    return render(ctx.request, "directory/org_form.html", active="directory-admin", org=None, etag=None,
                  values={"status": "active"}, errors={})


@router.get("/directory/admin/organisations/{org_id}")
def org_edit(org_id: str, ctx: Ctx = Depends(admin)):
    org, etag = ctx.api.get_with_etag("referral", f"/v1/directory/organisations/{org_id}")
    return render(ctx.request, "directory/org_form.html", active="directory-admin", org=org, etag=etag,
                  values=_org_values(org), errors={})


@router.post("/directory/admin/organisations")
@router.post("/directory/admin/organisations/{org_id}")
async def org_save(request: Request, ctx: Ctx = Depends(admin), org_id: str | None = None):
    form = await Form.read(request)
    errors = _check_org(form, ctx)
    if not errors:
        try:
            if org_id:
                ctx.api.patch("referral", f"/v1/directory/organisations/{org_id}", json=_org_body(form),
                              headers={"If-Match": form.get("etag") or "*"})
            else:
                ctx.api.post("referral", "/v1/directory/organisations", json=_org_body(form))
            ctx.flash("success", ctx._("The organisation was saved."))
            return redirect("/directory/admin")
        except ApiError as exc:
            if exc.status not in (400, 409, 422):
                raise
            errors = api_errors(exc, ctx.locale, set(_org_values({})) | {"name.es", "name.en"})
    return render(request, "directory/org_form.html", status_code=422, active="directory-admin",
                  org={"id": org_id} if org_id else None, etag=form.get("etag"), values=form.data, errors=errors)


def _service_values(svc: dict) -> dict:
    name, desc = svc.get("name") or {}, svc.get("description") or {}
    elig = svc.get("eligibility") or {}
    values = {"organisation_id": (svc.get("organisation") or {}).get("id", ""), "service_type": svc.get("service_type", ""),
              "name.es": name.get("es", ""), "name.en": name.get("en", ""), "description.es": desc.get("es", ""),
              "description.en": desc.get("en", ""), "status": svc.get("status", "available"),
              "accepts_referrals": "1" if svc.get("accepts_referrals", True) else "",
              "open_24_7": "1" if (svc.get("hours") or {}).get("open_24_7") else "",
              "languages": svc.get("languages") or ["es"], "email": svc.get("email") or "",
              "phone": svc.get("phone") or "", "min_age": elig.get("min_age") if elig.get("min_age") is not None else "",
              "max_age": elig.get("max_age") if elig.get("max_age") is not None else "",
              "sexes": elig.get("sexes") or []}
    for i, loc in enumerate((svc.get("locations") or [])[:LOCATION_ROWS]):
        for key in ("name", "canton_code", "address"):
            values[f"locations.{i}.{key}"] = loc.get(key) or ""
        values[f"locations.{i}.confidential"] = "1" if loc.get("confidential") else ""
    weekly = (svc.get("hours") or {}).get("weekly") or []
    values["days"] = [str(h["weekday"]) for h in weekly]
    if weekly:
        values["opens_at"], values["closes_at"] = weekly[0]["opens_at"], weekly[0]["closes_at"]
    return values


def _service_body(form: Form, *, creating: bool) -> dict:
    locations = []
    for i in range(LOCATION_ROWS):
        if form.get(f"locations.{i}.name"):
            code = form.get(f"locations.{i}.canton_code")
            loc = {"name": form.get(f"locations.{i}.name"), "canton_code": code,
                   "canton": geography.canton_name(code), "province": geography.province_name(code[:2]),
                   "address": form.get(f"locations.{i}.address") or None,
                   "confidential": form.checked(f"locations.{i}.confidential")}
            locations.append({k: v for k, v in loc.items() if v is not None})
    schedules = [{"weekday": int(d), "opens_at": form.get("opens_at"), "closes_at": form.get("closes_at")}
                 for d in form.getlist("days") if d.isdigit() and form.get("opens_at") and form.get("closes_at")]
    body = {"service_type": form.get("service_type"),
            "name": {"es": form.get("name.es"), "en": form.get("name.en")},
            "description": {"es": form.get("description.es"), "en": form.get("description.en")},
            "status": form.get("status") or "available", "accepts_referrals": form.checked("accepts_referrals"),
            "languages": form.getlist("languages") or ["es"], "open_24_7": form.checked("open_24_7"),
            "schedules": schedules, "locations": locations,
            "eligibility": {"min_age": parse_int(form.get("min_age")), "max_age": parse_int(form.get("max_age")),
                            "sexes": form.getlist("sexes")},
            "email": form.get("email") or None, "phone": form.get("phone") or None}
    if creating:
        body["organisation_id"] = form.get("organisation_id")
    return {k: v for k, v in body.items() if v is not None}


def _patch_body(ctx: Ctx, service_id: str, form: Form) -> dict:
    """The form shows a simplified view of hours and eligibility: what it does not show, or what the
    admin did not touch, is left as stored (a PATCH replaces the lists it carries)."""
    current = ctx.api.get("referral", f"/v1/directory/services/{service_id}")
    before = _service_values(current)
    body = _service_body(form, creating=False)
    hours_now = (sorted(form.getlist("days")), form.get("opens_at"), form.get("closes_at"))
    hours_before = (sorted(before.get("days", [])), before.get("opens_at", ""), before.get("closes_at", ""))
    if hours_now == hours_before:
        body.pop("schedules", None)
    stored = current.get("eligibility") or {}
    body["eligibility"] = {**{k: stored.get(k) for k in ("nationalities", "mobility_statuses", "description")
                              if stored.get(k)}, **body["eligibility"]}
    return body


def _check_service(form: Form, ctx: Ctx, creating: bool) -> Errors:
    errors = Errors()
    names = ["service_type", "name.es", "name.en", "description.es", "description.en"]
    if creating:
        names.insert(0, "organisation_id")
    for name in names:
        errors.require(form, name, ctx.locale)
    if not form.get("locations.0.name"):
        errors["locations.0.name"] = ctx._("A service needs at least one location.")
    for i in range(LOCATION_ROWS):
        if form.get(f"locations.{i}.name"):
            errors.require(form, f"locations.{i}.canton_code", ctx.locale)
    if form.getlist("days") and not (form.get("opens_at") and form.get("closes_at")):
        errors["opens_at"] = ctx._("Give the opening and closing time for the days chosen.")
    return errors


def _service_form(ctx: Ctx, request: Request, *, svc, etag, values, errors, status_code=200):
    orgs = items(ctx.api.get("referral", "/v1/directory/organisations", params={"limit": 100}))
    org_choices = [(o["id"], (o.get("name") or {}).get(ctx.locale) or o.get("group_path")) for o in orgs]
    return render(request, "directory/service_form.html", status_code=status_code, active="directory-admin",
                  svc=svc, etag=etag, values=values, errors=errors, org_choices=org_choices,
                  location_rows=range(LOCATION_ROWS), weekdays=WEEKDAYS,
                  cantons=geography.canton_options(),
                  languages=geography.language_options(ctx.locale))


@router.get("/directory/admin/services/new")
def service_new(ctx: Ctx = Depends(admin)):
    return _service_form(ctx, ctx.request, svc=None, etag=None, errors={},
                         values={"status": "available", "accepts_referrals": "1", "languages": ["es"]})


@router.get("/directory/admin/services/{service_id}")
def service_edit(service_id: str, ctx: Ctx = Depends(admin)):
    svc, etag = ctx.api.get_with_etag("referral", f"/v1/directory/services/{service_id}")
    return _service_form(ctx, ctx.request, svc=svc, etag=etag, values=_service_values(svc), errors={})


@router.post("/directory/admin/services")
@router.post("/directory/admin/services/{service_id}")
async def service_save(request: Request, ctx: Ctx = Depends(admin), service_id: str | None = None):
    form = await Form.read(request, multi=("languages", "days", "sexes"))
    creating = service_id is None
    errors = _check_service(form, ctx, creating)
    if not errors:
        try:
            if creating:
                ctx.api.post("referral", "/v1/directory/services", json=_service_body(form, creating=True))
            else:
                ctx.api.patch("referral", f"/v1/directory/services/{service_id}",
                              json=_patch_body(ctx, service_id, form), headers={"If-Match": form.get("etag") or "*"})
            ctx.flash("success", ctx._("The service was saved."))
            return redirect("/directory/admin")
        except ApiError as exc:
            if exc.status not in (400, 409, 422):
                raise
            known = set(_service_values({})) | {"name.es", "name.en", "description.es", "description.en",
                                                  "organisation_id", "opens_at", "days"}
            known |= {f"locations.{i}.{k}" for i in range(LOCATION_ROWS)
                      for k in ("name", "canton_code", "address")}
            errors = api_errors(exc, ctx.locale, known)
    return _service_form(ctx, request, svc={"id": service_id} if service_id else None, etag=form.get("etag"),
                         values=form.data, errors=errors, status_code=422)
