"""Caseworkers: register a case in steps (consent first), the case page (consents, clinical windows,
referrals and their clocks, counter-referrals, timeline), refer to a service from the directory
within consent, record or withdraw consent, close a case."""
from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request

from .. import geography, i18n
from ..clients import ApiError, items
from ..forms import (
    Errors,
    Form,
    api_errors,
    local_now_input,
    parse_date,
    parse_int,
    parse_local_datetime,
    parse_time,
)
from ..web import Ctx, NotFound, csrf_protect, redirect, render, require_roles

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(csrf_protect)])
STAFF = ("caseworker", "supervisor")
caseworker_only = require_roles("caseworker")
staff = require_roles(*STAFF)

SURVIVOR_CODE = re.compile(r"^[A-Z]{3}-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{6}$")
STEPS = ("consent", "survivor", "incident", "risk", "needs", "review")
STEP_TITLES = {
    "consent": i18n.N_("Consent"), "survivor": i18n.N_("Survivor"), "incident": i18n.N_("Incident"),
    "risk": i18n.N_("Risk and safety plan"), "needs": i18n.N_("Needs"), "review": i18n.N_("Review and register"),
}
SHARING_ROWS = 3
MULTI = ("profile.disability", "profile.languages", "incident.context_flags", "incident.legal_types",
         "incident.reported_to", "needs") + tuple(f"consent.sharing.{i}.categories" for i in range(SHARING_ROWS))
FIELDS = {
    "consent": ["consent.given_by", "consent.child_assent", "consent.caregiver_relationship", "consent.given_at",
                "consent.registration", "consent.reporting"]
    + [f"consent.sharing.{i}.{f}" for i in range(SHARING_ROWS) for f in ("recipient", "categories")],
    "survivor": ["survivor.given_names", "survivor.family_names", "survivor.date_of_birth", "survivor.phone",
                 "survivor.address", "survivor.document_type", "survivor.document_number",
                 "survivor.caregiver.given_names", "survivor.caregiver.family_names",
                 "survivor.caregiver.relationship", "survivor.caregiver.phone",
                 "profile.age_years", "profile.age_band", "profile.sex", "profile.gender_identity",
                 "profile.nationality", "profile.ethnicity", "profile.mobility_status", "profile.disability",
                 "profile.languages", "profile.province", "profile.canton"],
    "incident": ["incident.record", "incident.occurred_on", "incident.time_of_day", "incident.local_time",
                 "incident.location_type", "incident.province", "incident.canton", "incident.gbvims_type",
                 "incident.context_flags", "incident.legal_types", "incident.perpetrators.count",
                 "incident.perpetrators.sex", "incident.perpetrators.age_group",
                 "incident.perpetrators.relationship", "incident.reported_to"],
    "risk": ["risk.level", "risk.safety_plan"],
    "needs": ["needs"],
    "review": [],
}
ALL_FIELDS = {f for fields in FIELDS.values() for f in fields}
_draft_locks: dict[str, threading.Lock] = {}
_draft_locks_guard = threading.Lock()


def _draft_lock(draft_id: str) -> threading.Lock:
    with _draft_locks_guard:
        if len(_draft_locks) > 10_000:
            _draft_locks.clear()
        return _draft_locks.setdefault(draft_id, threading.Lock())


# ------------------------------------------------------------------------------------------ lists
@router.get("/cases")
def case_list(ctx: Ctx = Depends(staff), status: str = "", risk: str = "", q: str = "", offset: int = 0):
    code = q.strip().upper()
    params = {"status": status or None, "risk_level": risk or None, "limit": 25, "offset": max(offset, 0)}
    if code:
        if not SURVIVOR_CODE.match(code):
            ctx.flash("error", ctx._("A survivor code looks like TUL-2025-7K3M9Q."))
        else:
            params["survivor_code"] = code
    page = ctx.api.get("intake", "/v1/cases", params=params)
    cases = items(page)
    total = page.get("total", len(cases)) if isinstance(page, dict) else len(cases)
    template = "cases/_list_rows.html" if ctx.request.headers.get("hx-request") else "cases/list.html"
    return render(ctx.request, template, active="cases", cases=cases, total=total, offset=max(offset, 0),
                  filters={"status": status, "risk": risk, "q": q}, limit=25)


# ----------------------------------------------------------------------------------- registration
def _drafts(ctx: Ctx) -> dict:
    now = time.time()
    # drafts hold personal data: they live 8 hours at most, and are dropped once registered
    for key in [k for k, d in ctx.session.drafts.items() if now - d.get("created", now) > 8 * 3600]:
        del ctx.session.drafts[key]
    return ctx.session.drafts


def _draft(ctx: Ctx, draft_id: str) -> dict:
    draft = _drafts(ctx).get(draft_id)
    if draft is None or draft.get("kind") != "registration":
        raise NotFound()
    return draft


@router.get("/cases/new")
def new_case(ctx: Ctx = Depends(caseworker_only)):
    draft_id = uuid.uuid4().hex
    _drafts(ctx)[draft_id] = {"kind": "registration", "created": time.time(), "data": {},
                              "idempotency_key": str(uuid.uuid4()), "done": [], "errors": {}}
    return redirect(f"/cases/new/{draft_id}/consent")


def _recipients(ctx: Ctx) -> list[tuple[str, str]]:
    """Who a survivor may agree to share with: a type of service (any provider of it) or a named
    organisation from the directory."""
    from .. import labels

    out = [(f"type:{code}", ctx._("Any provider of: %(service)s", service=text))
           for code, text in labels.options("service_type", ctx.locale)]
    for org in _organisations(ctx):
        path = org.get("group_path")
        if path and org.get("status", "active") == "active":
            out.append((f"org:{path}", _name(org.get("name"), ctx.locale) or path))
    return out


def _organisations(ctx: Ctx) -> list[dict]:
    try:
        orgs = items(ctx.api.get("referral", "/v1/directory/organisations", params={"limit": 100}))
    except ApiError:
        return []
    st = ctx.request.app.state.frontend
    for org in orgs:
        if org.get("group_path") and isinstance(org.get("name"), dict):
            st.org_names[org["group_path"]] = org["name"]
    return orgs


def _name(value, locale: str) -> str:
    if isinstance(value, dict):
        return value.get(locale) or value.get("es") or value.get("en") or ""
    return value or ""


def _step_context(ctx: Ctx, step: str) -> dict:
    base = {"steps": [(s, ctx._(STEP_TITLES[s])) for s in STEPS], "step": step,
            "provinces": geography.province_options(), "cantons": geography.canton_options(),
            "nationalities": geography.nationality_options(ctx.locale),
            "languages": geography.language_options(ctx.locale), "sharing_rows": range(SHARING_ROWS)}
    if step in ("consent", "review"):
        base["recipients"] = _recipients(ctx)
    return base


@router.get("/cases/new/{draft_id}/{step}")
def wizard_step(draft_id: str, step: str, ctx: Ctx = Depends(caseworker_only)):
    if step not in STEPS:
        raise NotFound()
    draft = _draft(ctx, draft_id)
    if draft.get("case_id"):
        return redirect(f"/cases/{draft['case_id']}")
    values = dict(draft["data"])
    if step == "consent" and not values.get("consent.given_at"):
        values["consent.given_at"] = local_now_input()
    if step == "incident" and not values.get("incident.record"):
        values["incident.record"] = "yes"
    errors = {k: v for k, v in draft.get("errors", {}).items() if k in FIELDS[step] or k == "_form"}
    context = _step_context(ctx, step)
    if step == "review":
        context["payload"] = _payload(draft["data"])
        context["recipient_labels"] = dict(context["recipients"])
    return render(ctx.request, f"cases/new_{step}.html", active="new-case", draft_id=draft_id, values=values,
                  errors=errors, done=draft.get("done", []), **context)


@router.post("/cases/new/{draft_id}/register")
def register(draft_id: str, ctx: Ctx = Depends(caseworker_only)):
    draft = _draft(ctx, draft_id)
    with _draft_lock(draft_id):
        # A double click sends two requests: the second finds the case already registered.
        if draft.get("case_id"):
            return redirect(f"/cases/{draft['case_id']}")
        for step in STEPS[:-1]:
            errors = _validate(step, Form(draft["data"]), ctx.locale)
            if errors:
                draft["errors"] = dict(errors)
                return redirect(f"/cases/new/{draft_id}/{step}")
        try:
            created = ctx.api.post("intake", "/v1/cases", json=_payload(draft["data"]),
                                   headers={"Idempotency-Key": draft["idempotency_key"]})
        except ApiError as exc:
            if exc.status in (400, 422):
                errors = api_errors(exc, ctx.locale, ALL_FIELDS)
                errors = {(_form_field(k) if k != "_form" else k): v for k, v in errors.items()}
                draft["errors"] = errors
                step = next((s for s in STEPS if any(k in FIELDS[s] for k in errors)), "review")
                if step == "review":
                    ctx.flash("error", errors.get("_form") or ctx._("The case could not be registered."))
                return redirect(f"/cases/new/{draft_id}/{step}")
            raise
        case_id = created["id"]
        # The personal data typed into the form is not kept here once the case exists.
        draft.clear()
        draft.update({"kind": "registration", "created": time.time(), "case_id": case_id, "data": {}})
    ctx.flash("success", ctx._("Case registered. Survivor code: %(code)s", code=created.get("survivor_code", "")))
    return redirect(f"/cases/{case_id}")


@router.post("/cases/new/{draft_id}/{step}")
async def wizard_save(draft_id: str, step: str, request: Request, ctx: Ctx = Depends(caseworker_only)):
    if step not in STEPS or step == "review":
        raise NotFound()
    draft = _draft(ctx, draft_id)
    if draft.get("case_id"):
        return redirect(f"/cases/{draft['case_id']}")
    form = await Form.read(request, multi=MULTI)
    for name in FIELDS[step]:
        draft["data"][name] = form.data.get(name, [] if name in MULTI else "")
    errors = _validate(step, Form(draft["data"]), ctx.locale)
    draft["errors"] = {k: v for k, v in draft.get("errors", {}).items() if k not in FIELDS[step]}
    going_back = form.get("go") == "back"
    if errors and not going_back:
        context = _step_context(ctx, step)
        return render(request, f"cases/new_{step}.html", status_code=422, active="new-case", draft_id=draft_id,
                      values=draft["data"], errors=errors, done=draft.get("done", []), **context)
    if not errors and step not in draft["done"]:
        draft["done"].append(step)
    index = STEPS.index(step)
    target = STEPS[max(index - 1, 0)] if going_back else STEPS[index + 1]
    return redirect(f"/cases/new/{draft_id}/{target}")


def _validate(step: str, f: Form, locale: str) -> Errors:
    _ = lambda m, **p: i18n.tr(locale, m, **p)
    e = Errors()
    if step == "consent":
        if not f.checked("consent.registration"):
            e["consent.registration"] = _("A case can only be registered with the survivor's informed consent.")
        e.require(f, "consent.given_by", locale, _("Say who gave the consent."))
        if f.get("consent.given_by") == "caregiver":
            e.require(f, "consent.caregiver_relationship", locale, _("Say how the caregiver is related to the child."))
            if not f.checked("consent.child_assent"):
                e["consent.child_assent"] = _("For a child, record the child's assent as well as the caregiver's consent.")
        when = parse_local_datetime(f.get("consent.given_at"))
        if when is None:
            e["consent.given_at"] = _("Enter the date and time the consent was given.")
        elif when > datetime.now(UTC):
            e["consent.given_at"] = _("The consent cannot be given in the future.")
        for i in range(SHARING_ROWS):
            recipient, cats = f.get(f"consent.sharing.{i}.recipient"), f.getlist(f"consent.sharing.{i}.categories")
            if recipient and not cats:
                e[f"consent.sharing.{i}.categories"] = _("Choose what may be shared with this recipient.")
            if cats and not recipient:
                e[f"consent.sharing.{i}.recipient"] = _("Choose who the data may be shared with.")
    elif step == "survivor":
        e.require(f, "profile.sex", locale)
        e.require(f, "profile.nationality", locale)
        e.require(f, "profile.mobility_status", locale)
        dob = f.get("survivor.date_of_birth")
        if dob and parse_date(dob) is None:
            e["survivor.date_of_birth"] = _("Enter a valid date.")
        age = f.get("profile.age_years")
        if age and (parse_int(age) is None or not 0 <= parse_int(age) <= 120):
            e["profile.age_years"] = _("Enter an age between 0 and 120.")
        if not (dob or age or f.get("profile.age_band")):
            e["profile.age_band"] = _("Give the age, the date of birth or at least the age band.")
        if f.get("survivor.document_number") and not f.get("survivor.document_type"):
            e["survivor.document_type"] = _("Say which document the number belongs to.")
        canton = f.get("profile.canton")
        if canton and f.get("profile.province") and canton[:2] != f.get("profile.province"):
            e["profile.canton"] = _("The canton is not in the province chosen.")
    elif step == "incident":
        if f.get("incident.record", "yes") == "yes":
            occurred = f.get("incident.occurred_on")
            if not occurred:
                e["incident.occurred_on"] = _("Enter the date of the incident.")
            elif parse_date(occurred) is None:
                e["incident.occurred_on"] = _("Enter a valid date.")
            elif parse_date(occurred) > datetime.now(i18n.LOCAL_TZ).date():
                e["incident.occurred_on"] = _("The incident cannot be in the future.")
            if f.get("incident.local_time") and parse_time(f.get("incident.local_time")) is None:
                e["incident.local_time"] = _("Enter a valid time.")
            e.require(f, "incident.location_type", locale)
            e.require(f, "incident.gbvims_type", locale, _("Choose the GBVIMS type (the first that applies)."))
            count = parse_int(f.get("incident.perpetrators.count"))
            if count is None or not 1 <= count <= 50:
                e["incident.perpetrators.count"] = _("Enter the number of perpetrators (1 to 50).")
            for name in ("incident.perpetrators.sex", "incident.perpetrators.age_group",
                         "incident.perpetrators.relationship"):
                e.require(f, name, locale)
            if "not_reported" in f.getlist("incident.reported_to") and len(f.getlist("incident.reported_to")) > 1:
                e["incident.reported_to"] = _("'Not reported' cannot be combined with other answers.")
    elif step == "risk":
        e.require(f, "risk.level", locale, _("Assess the risk level."))
        if f.get("risk.level") == "high" and not f.get("risk.safety_plan"):
            e["risk.safety_plan"] = _("A high-risk case needs a safety plan.")
    return e


def _clean(d: dict) -> dict:
    return {k: v for k, v in d.items() if v not in (None, "", [], {})}


def _payload(data: dict) -> dict:
    f = Form(data)
    given_by = f.get("consent.given_by")
    sharing = []
    for i in range(SHARING_ROWS):
        recipient, cats = f.get(f"consent.sharing.{i}.recipient"), f.getlist(f"consent.sharing.{i}.categories")
        if not recipient or not cats:
            continue
        kind, _, value = recipient.partition(":")
        scope = {"recipient_organisation": value} if kind == "org" else {"recipient_service_type": value}
        sharing.append({**scope, "categories": cats})
    when = parse_local_datetime(f.get("consent.given_at")) or datetime.now(UTC)
    consent = {"given_by": given_by or None, "given_at": when.isoformat(), "registration": True,
               "reporting": f.checked("consent.reporting"), "sharing": sharing}
    if given_by == "caregiver":
        consent["child_assent"] = f.checked("consent.child_assent")
        consent["caregiver_relationship"] = f.get("consent.caregiver_relationship") or None
    caregiver = _clean({"given_names": f.get("survivor.caregiver.given_names"),
                        "family_names": f.get("survivor.caregiver.family_names"),
                        "relationship": f.get("survivor.caregiver.relationship"),
                        "phone": f.get("survivor.caregiver.phone")})
    survivor = _clean({
        "given_names": f.get("survivor.given_names"), "family_names": f.get("survivor.family_names"),
        "date_of_birth": f.get("survivor.date_of_birth"), "phone": f.get("survivor.phone"),
        "address": f.get("survivor.address"), "document_type": f.get("survivor.document_type"),
        "document_number": f.get("survivor.document_number"),
        "caregiver": caregiver if caregiver.get("relationship") else None,
    })
    profile = _clean({
        "age_years": parse_int(f.get("profile.age_years")), "age_band": f.get("profile.age_band"),
        "sex": f.get("profile.sex"), "gender_identity": f.get("profile.gender_identity"),
        "nationality": f.get("profile.nationality"), "ethnicity": f.get("profile.ethnicity"),
        "mobility_status": f.get("profile.mobility_status"), "disability": f.getlist("profile.disability"),
        "languages": f.getlist("profile.languages"), "province": f.get("profile.province"),
        "canton": f.get("profile.canton"),
    })
    if profile.get("canton") and not profile.get("province"):
        profile["province"] = profile["canton"][:2]
    payload = {"consent": consent, "survivor": survivor, "profile": profile,
               "needs": f.getlist("needs"),
               "risk": _clean({"level": f.get("risk.level"), "safety_plan": f.get("risk.safety_plan")})}
    if f.get("incident.record", "yes") == "yes" and f.get("incident.occurred_on"):
        incident = _clean({
            "occurred_on": f.get("incident.occurred_on"), "time_of_day": f.get("incident.time_of_day") or "unknown",
            "local_time": f.get("incident.local_time"), "location_type": f.get("incident.location_type"),
            "province": f.get("incident.province"), "canton": f.get("incident.canton"),
            "gbvims_type": f.get("incident.gbvims_type"), "context_flags": f.getlist("incident.context_flags"),
            "legal_types": f.getlist("incident.legal_types"), "reported_to": f.getlist("incident.reported_to"),
            "perpetrators": _clean({"count": parse_int(f.get("incident.perpetrators.count")),
                                    "sex": f.get("incident.perpetrators.sex"),
                                    "age_group": f.get("incident.perpetrators.age_group"),
                                    "relationship": f.get("incident.perpetrators.relationship")}),
        })
        if incident.get("canton") and not incident.get("province"):
            incident["province"] = incident["canton"][:2]
        payload["incident"] = incident
    return payload


def _form_field(api_name: str) -> str:
    name = api_name.replace("recipient_organisation", "recipient").replace("recipient_service_type", "recipient")
    if name.startswith("risk") and name not in ALL_FIELDS:
        return "risk.level"
    return name


# -------------------------------------------------------------------------------------- case page
def _case(ctx: Ctx, case_id: str) -> tuple[dict, str | None]:
    return ctx.api.get_with_etag("intake", f"/v1/cases/{case_id}")


def _timeline(case: dict, consents: list[dict], referrals: list[dict], locale: str) -> list[dict]:
    from .. import labels

    _ = lambda m, **p: i18n.tr(locale, m, **p)
    events = [{"at": case.get("created_at"), "text": _("Case registered")}]
    for incident in case.get("incidents") or []:
        events.append({"at": incident.get("recorded_at"),
                       "text": _("Incident recorded: %(type)s",
                                  type=labels.label("gbvims_type", incident.get("gbvims_type"), locale))})
    for consent in consents:
        what = _consent_recipient(consent, locale)
        events.append({"at": consent.get("given_at"), "text": _("Consent given: %(what)s", what=what)})
        if consent.get("withdrawn_at"):
            events.append({"at": consent.get("withdrawn_at"), "text": _("Consent withdrawn: %(what)s", what=what)})
    for referral in referrals:
        service = labels.label("service_type", (referral.get("service") or {}).get("type"), locale)
        events.append({"at": referral.get("created_at"), "text": _("Referral sent: %(service)s", service=service)})
        answer = referral.get("answer") or {}
        for key, message in (("accepted_at", _("Referral accepted: %(service)s", service=service)),
                             ("declined_at", _("Referral declined: %(service)s", service=service)),
                             ("completed_at", _("Counter-referral received: %(service)s", service=service)),
                             ("closed_at", _("Referral closed: %(service)s", service=service)),
                             ("revoked_at", _("Referral revoked: %(service)s", service=service)),
                             ("expired_at", _("Referral expired without answer: %(service)s", service=service))):
            if answer.get(key):
                events.append({"at": answer[key], "text": message})
    if case.get("closed_at"):
        events.append({"at": case["closed_at"], "text": _("Case closed: %(reason)s", reason=labels.label(
            "closure_reason", case.get("closure_reason"), locale))})
    return sorted(events, key=lambda e: i18n.parse_time(e["at"]) or datetime.min.replace(tzinfo=UTC),
                  reverse=True)


def _consent_recipient(consent: dict, locale: str) -> str:
    from .. import labels

    if consent.get("purpose") == "registration":
        return i18n.tr(locale, "registration and case management")
    if consent.get("recipient_service_type"):
        return i18n.tr(locale, "any provider of %(service)s",
                       service=labels.label("service_type", consent["recipient_service_type"], locale))
    return consent.get("recipient_organisation") or "—"


def _case_referrals(ctx: Ctx, case_id: str) -> list[dict]:
    try:
        return items(ctx.api.get("referral", "/v1/referrals", params={"case_id": case_id, "limit": 100}))
    except ApiError as exc:
        if exc.status in (403, 404):
            return []
        raise


@router.get("/cases/{case_id}")
def case_page(case_id: str, ctx: Ctx = Depends(staff)):
    case, etag = _case(ctx, case_id)
    consents = items(ctx.api.get("intake", f"/v1/cases/{case_id}/consents"))
    referrals = _case_referrals(ctx, case_id)
    st = ctx.request.app.state.frontend
    if not st.org_names:
        _organisations(ctx)
    return render(ctx.request, "cases/detail.html", active="cases", case=case, etag=etag, consents=consents,
                  referrals=referrals, timeline=_timeline(case, consents, referrals, ctx.locale),
                  canton_name=geography.canton_name,
                  province_name=geography.province_name,
                  nationality_name=lambda c: geography.nationality_name(c, ctx.locale),
                  consent_recipient=lambda c: _consent_recipient(c, ctx.locale),
                  recipients=_recipients(ctx), errors={}, values={}, consent_key=str(uuid.uuid4()))


@router.get("/cases/{case_id}/identity")
def identity(case_id: str, ctx: Ctx = Depends(staff), purpose: str = ""):
    """The survivor's name and contact, read from intake's vault only with a stated purpose (the
    read and its purpose are recorded in the audit log)."""
    from .. import labels

    if purpose not in labels.VOCABULARIES["access_purpose"]:
        ctx.flash("error", ctx._("Say why you need to see her identity."))
        return redirect(f"/cases/{case_id}#identity")
    person = ctx.api.get("intake", f"/v1/cases/{case_id}/identity", params={"purpose": purpose})
    return render(ctx.request, "cases/identity.html", active="cases", case_id=case_id, person=person,
                  purpose=purpose, nationality_name=lambda c: geography.nationality_name(c, ctx.locale))


@router.post("/cases/{case_id}/close")
async def close_case(case_id: str, request: Request, ctx: Ctx = Depends(staff)):
    form = await Form.read(request)
    reason = form.get("closure_reason")
    if not reason:
        ctx.flash("error", ctx._("Choose why the case is being closed."))
        return redirect(f"/cases/{case_id}#close")
    ctx.api.post("intake", f"/v1/cases/{case_id}/close", json={"closure_reason": reason},
                 headers={"If-Match": form.get("etag") or "*"})
    ctx.flash("success", ctx._("The case was closed."))
    return redirect(f"/cases/{case_id}")


@router.post("/cases/{case_id}/consents")
async def grant_consent(case_id: str, request: Request, ctx: Ctx = Depends(staff)):
    """A new sharing consent (or a changed one: consent is recorded again with the new scope)."""
    form = await Form.read(request, multi=("categories",))
    recipient, cats = form.get("recipient"), form.getlist("categories")
    errors = Errors()
    if not recipient:
        errors["recipient"] = ctx._("Choose who the data may be shared with.")
    if not cats:
        errors["categories"] = ctx._("Choose what may be shared with this recipient.")
    given_by = form.get("given_by") or "survivor"
    when = parse_local_datetime(form.get("given_at")) or datetime.now(UTC)
    if not errors:
        kind, _, value = recipient.partition(":")
        body = {"purpose": "sharing", "given_by": given_by, "given_at": when.isoformat(), "categories": cats,
                ("recipient_organisation" if kind == "org" else "recipient_service_type"): value}
        if given_by == "caregiver":
            body["child_assent"] = form.checked("child_assent")
            body["caregiver_relationship"] = form.get("caregiver_relationship") or None
        try:
            ctx.api.post("intake", f"/v1/cases/{case_id}/consents", json=body)
            ctx.flash("success", ctx._("The consent was recorded."))
            return redirect(f"/cases/{case_id}#consents")
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            errors = api_errors(exc, ctx.locale, {"recipient", "categories", "given_by", "given_at"})
    ctx.flash("error", " ".join(errors.values()))
    return redirect(f"/cases/{case_id}#consents")


@router.get("/cases/{case_id}/consents/{consent_id}/withdraw")
def withdraw_confirm(case_id: str, consent_id: str, ctx: Ctx = Depends(staff)):
    consents = items(ctx.api.get("intake", f"/v1/cases/{case_id}/consents"))
    consent = next((c for c in consents if c.get("id") == consent_id), None)
    if consent is None:
        raise NotFound()
    return render(ctx.request, "cases/withdraw.html", active="cases", case_id=case_id, consent=consent,
                  recipient=_consent_recipient(consent, ctx.locale))


@router.post("/cases/{case_id}/consents/{consent_id}/withdraw")
def withdraw_consent(case_id: str, consent_id: str, ctx: Ctx = Depends(staff)):
    ctx.api.delete("intake", f"/v1/cases/{case_id}/consents/{consent_id}")
    ctx.flash("success", ctx._("The consent was withdrawn. Referrals that depended on it are revoked everywhere."))
    return redirect(f"/cases/{case_id}#consents")


# ----------------------------------------------------------------------------------------- refer
def _consented_categories(consents: list[dict], service: dict) -> set[str]:
    org = (service.get("organisation") or {}).get("group_path")
    stype = service.get("service_type")
    allowed: set[str] = set()
    for c in consents:
        if not c.get("active", True) or c.get("withdrawn_at") or c.get("purpose") != "sharing":
            continue
        if (org and c.get("recipient_organisation") == org) or (stype and c.get("recipient_service_type") == stype):
            allowed.update(c.get("categories") or [])
    return allowed


@router.get("/cases/{case_id}/refer")
def refer_form(case_id: str, ctx: Ctx = Depends(caseworker_only), service_type: str = "", canton: str = "",
               open_now: str = "", all_services: str = "", service_id: str = ""):
    case, _etag = _case(ctx, case_id)
    consents = items(ctx.api.get("intake", f"/v1/cases/{case_id}/consents"))
    profile = case.get("profile") or {}
    if not service_type and not ctx.request.query_params:
        service_type = (case.get("needs") or [""])[0]
    if not canton and not ctx.request.query_params:
        canton = profile.get("canton") or ""
    params = {"service_type": service_type or None, "canton": canton or None,
              "open_now": "true" if open_now else None, "case_id": case_id,
              "referable_only": None if all_services else "true", "limit": 50}
    services = items(ctx.api.get("referral", "/v1/directory/services", params=params))
    for svc in services:
        svc["_consented"] = sorted(_consented_categories(consents, svc))
    chosen = next((s for s in services if s.get("id") == service_id), None)
    template = "cases/_refer_results.html" if ctx.request.headers.get("hx-request") else "cases/refer.html"
    return render(ctx.request, template, active="cases", case=case, services=services, chosen=chosen,
                  filters={"service_type": service_type, "canton": canton, "open_now": open_now,
                           "all_services": all_services},
                  cantons=geography.canton_options(), idempotency_key=str(uuid.uuid4()), errors={}, values={})


@router.post("/cases/{case_id}/refer")
async def refer(case_id: str, request: Request, ctx: Ctx = Depends(caseworker_only)):
    form = await Form.read(request, multi=("categories",))
    errors = Errors()
    if not form.get("service_id"):
        errors["service_id"] = ctx._("Choose a service.")
    if not form.get("priority"):
        errors["priority"] = ctx._("Choose the priority.")
    if not form.getlist("categories"):
        errors["categories"] = ctx._("Choose what to share (only what the survivor agreed to).")
    if not errors:
        body = {"case_id": case_id, "service_id": form.get("service_id"), "priority": form.get("priority"),
                "categories": form.getlist("categories"), "reason": form.get("reason") or None,
                "services_requested": [form.get("service_type")] if form.get("service_type") else []}
        try:
            created = ctx.api.post("referral", "/v1/referrals", json={k: v for k, v in body.items() if v is not None},
                                   headers={"Idempotency-Key": form.get("idempotency_key") or str(uuid.uuid4())})
            ctx.flash("success", ctx._("The referral was sent. The receiving organisation has been notified."))
            return redirect(f"/cases/{case_id}#referral-{created.get('id', '')}")
        except ApiError as exc:
            if exc.status not in (400, 409, 422):
                raise
            errors = api_errors(exc, ctx.locale, {"service_id", "priority", "categories", "reason"})
    case, _etag = _case(ctx, case_id)
    consents = items(ctx.api.get("intake", f"/v1/cases/{case_id}/consents"))
    services = []
    if form.get("service_id"):
        try:
            svc = ctx.api.get("referral", f"/v1/directory/services/{form.get('service_id')}")
            svc["_consented"] = sorted(_consented_categories(consents, svc))
            services = [svc]
        except ApiError:
            services = []
    return render(request, "cases/refer.html", status_code=422, active="cases", case=case, services=services,
                  chosen=services[0] if services else None, filters={}, cantons=geography.canton_options(),
                  idempotency_key=form.get("idempotency_key") or str(uuid.uuid4()), errors=errors, values=form.data)
