"""HTTP API of the referral service: the service directory, referrals and their lifecycle, and the
coordination figures. Routers are thin: they check roles, parse input and call the use cases."""

import csv
import io
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from careroute_platform.auth import Principal
from careroute_platform.http import create_app as platform_app
from careroute_platform.problems import Problem
from careroute_platform.runtime import ServiceRuntime, current_traceparent
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from .. import policy
from ..adapters import repository as repo
from ..adapters.orm import unmet_needs
from ..domain.clock import Clock
from ..domain.places import is_canton_code
from ..domain.referral import Side
from ..domain.statistics import to_csv_rows
from ..domain.vocabulary import LABELS, OrganisationKind, Priority, ReferralStatus, ServiceType
from ..service_layer import directory as directory_uc
from ..service_layer import hsds
from ..service_layer import referrals as referral_uc
from ..service_layer.context import Context
from ..service_layer.statistics import referral_figures
from . import schemas

CSV = "text/csv; charset=utf-8"


def create_app(runtime: ServiceRuntime, *, clock: Clock | None = None) -> FastAPI:
    app = platform_app(title="Care Route referral API", readiness=runtime.readiness_checks(),
                       max_body_bytes=runtime.settings.max_body_bytes,
                       description="Service directory (Open Referral HSDS), referrals with consent, lifecycle and "
                                   "counter-referrals, clocks, coordination figures.")
    ctx = Context(runtime, clock) if clock is not None else Context(runtime)
    app.state.runtime = runtime
    app.state.ctx = ctx
    if runtime.settings.seed_directory:
        from ..service_layer.seed import seed_directory
        seed_directory(runtime, now=ctx.clock.now())
    app.include_router(directory_router(ctx))
    app.include_router(referral_router(ctx))
    app.include_router(statistics_router(ctx))
    return app


def _page(limit: int, offset: int):
    return limit, offset


Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]


def _etag_response(body: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"etag": body["etag"], **(headers or {})})


# -- directory --------------------------------------------------------------------------------------
NON_NULLABLE = {"group_path", "name", "description", "status", "service_type", "accepts_referrals", "languages",
                "cost", "eligibility", "open_24_7", "schedules", "locations", "contacts"}


def _patch_body(model) -> dict:
    body = model.model_dump(mode="json", exclude_unset=True)
    nulls = sorted(k for k, v in body.items() if v is None and k in NON_NULLABLE)
    if nulls:
        raise Problem(422, "validation", detail={"es": "Estos campos no pueden quedar vacíos.",
                                                 "en": "These fields cannot be empty."},
                      errors=[{"field": f"body.{k}", "code": "not_nullable"} for k in nulls])
    if not body:
        raise Problem(422, "validation", detail={"es": "No hay cambios.", "en": "There is nothing to change."})
    return body


def directory_router(ctx: Context) -> APIRouter:
    runtime = ctx.runtime
    router = APIRouter(prefix="/v1/directory", tags=["directory"])
    Staff = Annotated[Principal, Depends(runtime.require_roles(*policy.STAFF_ROLES))]
    Admin = Annotated[Principal, Depends(runtime.require_roles("directory-admin"))]

    @router.get("/organisations", summary="List organisations (staff)")
    def list_organisations(principal: Staff, kind: OrganisationKind | None = None,
                           limit: Limit = 20, offset: Offset = 0):
        with runtime.uow() as uow:
            orgs, _ = directory_uc.load_directory(uow.session)
        items = sorted((directory_uc.organisation_view(o) for o in orgs.values()), key=lambda o: o["name"]["es"])
        if kind:
            items = [o for o in items if o["kind"] == kind.value]
        return {"items": items[offset:offset + limit], "total": len(items), "limit": limit, "offset": offset}

    @router.get("/organisations/{organisation_id}", summary="One organisation (staff)")
    def get_organisation(principal: Staff, organisation_id: UUID):
        with runtime.uow() as uow:
            orgs, _ = directory_uc.load_directory(uow.session, organisation_ids=[str(organisation_id)])
        if not orgs:
            raise Problem(404)
        return _etag_response(directory_uc.organisation_view(orgs[str(organisation_id)]))

    @router.post("/organisations", status_code=201, summary="Add an organisation (directory-admin)")
    def create_organisation(request: Request, principal: Admin, body: schemas.OrganisationIn):
        decision = policy.can_admin_directory(principal)
        now = ctx.clock.now()
        with runtime.uow(current_traceparent(request)) as uow:
            view, event = directory_uc.create_organisation(uow.session, body.model_dump(mode="json"), now=now)
            uow.publish(event)
            uow.publish(runtime.access(principal, "directory.organisation.create", "directory.organisation",
                                       view["id"], decision, purpose="directory-admin"))
            uow.commit()
        return _etag_response(view, 201, {"location": f"/v1/directory/organisations/{view['id']}"})

    @router.patch("/organisations/{organisation_id}", summary="Change an organisation (directory-admin, If-Match)")
    def update_organisation(request: Request, principal: Admin, organisation_id: UUID, body: schemas.OrganisationPatch,
                            if_match: Annotated[str | None, Header()] = None):
        decision = policy.can_admin_directory(principal)
        data = _patch_body(body)
        now = ctx.clock.now()
        with runtime.uow(current_traceparent(request)) as uow:
            view, event = directory_uc.update_organisation(uow.session, str(organisation_id), data,
                                                           if_match=if_match, now=now)
            uow.publish(event)
            uow.publish(runtime.access(principal, "directory.organisation.update", "directory.organisation",
                                       view["id"], decision, purpose="directory-admin"))
            uow.commit()
        return _etag_response(view)

    @router.get("/services", summary="Search services (staff): type, place, open now, eligibility for a case")
    def search_services(request: Request, principal: Staff,
                        service_type: ServiceType | None = None,
                        province: Annotated[str | None, Query(max_length=80)] = None,
                        canton: Annotated[str | None, Query(max_length=80)] = None,
                        open_now: bool = False, open_at: datetime | None = None,
                        case_id: Annotated[str | None, Query(pattern=schemas.CASE_ID)] = None,
                        include_ineligible: bool = False, referable_only: bool = False,
                        language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}$")] = None,
                        organisation_kind: OrganisationKind | None = None,
                        q: Annotated[str | None, Query(max_length=80)] = None,
                        limit: Limit = 20, offset: Offset = 0):
        now = ctx.clock.now()
        if open_at is not None and open_at.tzinfo is None:
            raise Problem(422, "validation", detail={"es": "open_at necesita zona horaria.",
                                                     "en": "open_at needs a time zone."},
                          errors=[{"field": "query.open_at", "code": "timezone_required"}])
        traceparent = current_traceparent(request)
        with runtime.uow(traceparent) as uow:
            case = None
            if case_id is not None:
                # Searching for a case reads the case projection: only its office may, and it is audited.
                case = repo.get_case(uow.session, case_id)
                decision = policy.can_act_for_case(principal, case)
                if not decision:
                    raise runtime.deny(principal, "directory.search_for_case", "case", case_id, decision.reason,
                                       status=404, traceparent=traceparent)
                uow.publish(runtime.access(principal, "directory.search_for_case", "case", case_id, decision,
                                           purpose="find-service", key=case_id))
            items = directory_uc.search_services(
                uow.session, now=now, service_type=service_type.value if service_type else None, province=province,
                canton=canton, open_at=open_at, open_now=open_now, case=case, include_ineligible=include_ineligible,
                referable_only=referable_only, language=language,
                organisation_kind=organisation_kind.value if organisation_kind else None, q=q)
            if (case is not None and service_type is not None and is_canton_code(case.canton)
                    and not directory_uc.available_in_canton(uow.session, service_type.value, case.canton)):
                    from sqlalchemy.dialects.postgresql import insert as pg_insert
                    uow.session.execute(pg_insert(unmet_needs).values(
                        case_id=case.case_id, service_type=service_type.value, province=case.province or "",
                        canton=case.canton, source="search", recorded_at=now).on_conflict_do_nothing())
            uow.commit()
        return {"items": items[offset:offset + limit], "total": len(items), "limit": limit, "offset": offset}

    @router.get("/services/{service_id}", summary="One service (staff)")
    def get_service(principal: Staff, service_id: UUID):
        with runtime.uow() as uow:
            _, svcs = directory_uc.load_directory(uow.session, service_ids=[str(service_id)])
        if not svcs:
            raise Problem(404)
        return _etag_response(directory_uc.service_view(svcs[0], now=ctx.clock.now(),
                                                        reveal_confidential=principal.has_role("directory-admin")))

    @router.post("/services", status_code=201, summary="Add a service (directory-admin)")
    def create_service(request: Request, principal: Admin, body: schemas.ServiceIn):
        decision = policy.can_admin_directory(principal)
        now = ctx.clock.now()
        with runtime.uow(current_traceparent(request)) as uow:
            view, event = directory_uc.create_service(uow.session, body.model_dump(mode="json"), now=now)
            uow.publish(event)
            uow.publish(runtime.access(principal, "directory.service.create", "directory.service", view["id"],
                                       decision, purpose="directory-admin"))
            uow.commit()
        return _etag_response(view, 201, {"location": f"/v1/directory/services/{view['id']}"})

    @router.patch("/services/{service_id}", summary="Change a service, e.g. its status (directory-admin, If-Match)")
    def update_service(request: Request, principal: Admin, service_id: UUID, body: schemas.ServicePatch,
                       if_match: Annotated[str | None, Header()] = None):
        decision = policy.can_admin_directory(principal)
        data = _patch_body(body)
        now = ctx.clock.now()
        with runtime.uow(current_traceparent(request)) as uow:
            view, event = directory_uc.update_service(uow.session, str(service_id), data, if_match=if_match, now=now)
            uow.publish(event)
            uow.publish(runtime.access(principal, "directory.service.update", "directory.service", view["id"],
                                       decision, purpose="directory-admin"))
            uow.commit()
        return _etag_response(view)

    @router.get("/export/hsds.json", summary="Open Referral HSDS 3.0 export (JSON service list)")
    def export_json(principal: Staff, lang: Literal["es", "en"] = "es"):
        with runtime.uow() as uow:
            orgs, svcs = directory_uc.load_directory(uow.session)
        return hsds.compiled_services(orgs, svcs, lang=lang)

    @router.get("/export/hsds.zip", summary="Open Referral HSDS 3.0 tabular export (CSV files + datapackage.json)")
    def export_zip(principal: Staff, lang: Literal["es", "en"] = "es"):
        with runtime.uow() as uow:
            orgs, svcs = directory_uc.load_directory(uow.session)
        return Response(hsds.datapackage_zip(orgs, svcs, lang=lang, now=ctx.clock.now()), media_type="application/zip",
                        headers={"content-disposition": 'attachment; filename="careroute-hsds.zip"'})

    @router.get("/export/hsds/{table}.csv", summary="One HSDS table as CSV")
    def export_csv(principal: Staff, table: Annotated[str, Path(pattern=r"^[a-z_]{3,40}$")],
                   lang: Literal["es", "en"] = "es"):
        with runtime.uow() as uow:
            orgs, svcs = directory_uc.load_directory(uow.session)
        tables = hsds.tables(orgs, svcs, lang=lang)
        if table not in tables:
            raise Problem(404)
        return PlainTextResponse(hsds.to_csv(tables[table]), media_type=CSV,
                                 headers={"content-disposition": f'attachment; filename="{table}.csv"'})

    return router


# -- referrals --------------------------------------------------------------------------------------
def referral_router(ctx: Context) -> APIRouter:
    runtime = ctx.runtime
    router = APIRouter(prefix="/v1", tags=["referrals"])
    Referrer = Annotated[Principal, Depends(runtime.require_roles(*policy.REFERRER_ROLES))]
    Receiver = Annotated[Principal, Depends(runtime.require_roles(*policy.RECEIVER_READ_ROLES))]
    Party = Annotated[Principal, Depends(runtime.require_roles(*policy.REFERRER_ROLES, *policy.RECEIVER_READ_ROLES))]

    @router.get("/vocabularies", tags=["vocabularies"], summary="Codes and their Spanish/English labels")
    def vocabularies(principal: Annotated[Principal, Depends(runtime.require_roles(*policy.STAFF_ROLES))]):
        return LABELS

    @router.post("/referrals", status_code=201, summary="Refer a case to an organisation's service "
                                                       "(the case's office: caseworker, supervisor)")
    def create(request: Request, principal: Referrer, body: schemas.CreateReferralIn,
               idempotency_key: Annotated[str | None, Header()] = None):
        new = referral_uc.NewReferral(
            case_id=body.case_id, service_id=str(body.service_id), priority=body.priority,
            categories=[c.value for c in body.categories], services_requested=[s.value for s in body.services_requested],
            reason=body.reason, override_requested=body.override is not None,
            override_justification=body.override.justification if body.override else None,
            override_legal_basis=body.override.legal_basis if body.override else None)
        status, view = referral_uc.create_referral(ctx, principal=principal, new=new,
                                                   payload=body.model_dump(mode="json"),
                                                   idempotency_key=idempotency_key,
                                                   traceparent=current_traceparent(request))
        return _etag_response(view, status, {"location": f"/v1/referrals/{view['id']}"})

    @router.get("/referrals", summary="The referring office's referrals (caseworker, supervisor)")
    def list_sent(request: Request, principal: Referrer,
                  case_id: Annotated[str | None, Query(pattern=schemas.CASE_ID)] = None,
                  status: Annotated[list[ReferralStatus] | None, Query()] = None,
                  priority: Priority | None = None, service_type: ServiceType | None = None,
                  overdue: bool | None = None, limit: Limit = 20, offset: Offset = 0):
        filters = {"case_id": case_id, "status": [s.value for s in status or []],
                   "priority": priority.value if priority else None,
                   "service_type": service_type.value if service_type else None, "overdue": overdue}
        return referral_uc.list_referrals(ctx, principal=principal, side=Side.REFERRING, filters=filters,
                                          limit=limit, offset=offset, traceparent=current_traceparent(request))

    @router.get("/referrals/inbox", summary="Referrals addressed to the caller's organisation "
                                            "(service-provider, institutional clients; government officials read only)")
    def inbox(request: Request, principal: Receiver,
              status: Annotated[list[ReferralStatus] | None, Query()] = None,
              priority: Priority | None = None, service_type: ServiceType | None = None,
              overdue: bool | None = None, limit: Limit = 20, offset: Offset = 0):
        filters = {"status": [s.value for s in status or []], "priority": priority.value if priority else None,
                   "service_type": service_type.value if service_type else None, "overdue": overdue}
        return referral_uc.list_referrals(ctx, principal=principal, side=Side.RECEIVING, filters=filters,
                                          limit=limit, offset=offset, traceparent=current_traceparent(request))

    @router.get("/referrals/{referral_id}", summary="One referral, as the caller's side may see it")
    def read(request: Request, principal: Party, referral_id: UUID):
        view = referral_uc.read_referral(ctx, principal=principal, referral_id=str(referral_id),
                                         traceparent=current_traceparent(request))
        return _etag_response(view)

    def _transition(request: Request, principal: Principal, referral_id: UUID, action: str, payload: dict,
                    if_match: str | None) -> JSONResponse:
        view = referral_uc.transition(ctx, principal=principal, referral_id=str(referral_id), action=action,
                                      if_match=if_match, payload=payload, traceparent=current_traceparent(request))
        return _etag_response(view)

    IfMatch = Annotated[str | None, Header(description="The ETag you read; required")]

    @router.post("/referrals/{referral_id}/accept", summary="Accept (receiving organisation only)")
    def accept(request: Request, principal: Party, referral_id: UUID, if_match: IfMatch = None):
        return _transition(request, principal, referral_id, "accept", {}, if_match)

    @router.post("/referrals/{referral_id}/decline", summary="Decline with a reason code (receiving organisation only)")
    def decline(request: Request, principal: Party, referral_id: UUID, body: schemas.DeclineIn,
                if_match: IfMatch = None):
        return _transition(request, principal, referral_id, "decline", body.model_dump(mode="json"), if_match)

    @router.post("/referrals/{referral_id}/complete",
                 summary="Complete with the counter-referral (receiving organisation only)")
    def complete(request: Request, principal: Party, referral_id: UUID, body: schemas.CompleteIn,
                 if_match: IfMatch = None):
        return _transition(request, principal, referral_id, "complete", body.model_dump(mode="json"), if_match)

    @router.post("/referrals/{referral_id}/close", summary="Close without service (receiving organisation only)")
    def close(request: Request, principal: Party, referral_id: UUID, body: schemas.CloseIn, if_match: IfMatch = None):
        return _transition(request, principal, referral_id, "close", body.model_dump(mode="json"), if_match)

    @router.post("/referrals/{referral_id}/revoke", summary="Revoke (referring office only; never after completion)")
    def revoke(request: Request, principal: Party, referral_id: UUID, body: schemas.RevokeIn, if_match: IfMatch = None):
        return _transition(request, principal, referral_id, "revoke", body.model_dump(mode="json"), if_match)

    return router


# -- coordination figures -----------------------------------------------------------------------
def statistics_router(ctx: Context) -> APIRouter:
    runtime = ctx.runtime
    router = APIRouter(prefix="/v1/statistics", tags=["statistics"])
    Coordinator = Annotated[Principal, Depends(runtime.require_roles(*policy.STATISTICS_ROLES))]

    @router.get("/referrals", summary="De-identified referral figures, small cells suppressed (JSON or CSV)")
    def figures(request: Request, principal: Coordinator,
                since: Annotated[datetime | None, Query(alias="from")] = None,
                until: Annotated[datetime | None, Query(alias="to")] = None,
                province: Annotated[str | None, Query(pattern=r"^\d{2}$", description="INEC province code")] = None,
                service_type: ServiceType | None = None,
                format: Literal["json", "csv"] = "json"):
        for name, value in (("from", since), ("to", until)):
            if value is not None and value.tzinfo is None:
                raise Problem(422, "validation", detail={"es": "Las fechas necesitan zona horaria.",
                                                         "en": "Dates need a time zone."},
                              errors=[{"field": f"query.{name}", "code": "timezone_required"}])
        decision = policy.can_read_statistics(principal)
        with runtime.uow(current_traceparent(request)) as uow:
            data = referral_figures(uow.session, since=since, until=until, province=province,
                                    service_type=service_type.value if service_type else None,
                                    min_cell=ctx.settings.statistics_min_cell)
            uow.publish(runtime.access(principal, "statistics.referrals", "statistics", "referrals", decision,
                                       purpose="coordination"))
            uow.commit()
        if format == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=["section", "dimension", "metric", "value", "suppressed"],
                                    lineterminator="\n")
            writer.writeheader()
            writer.writerows(to_csv_rows(data))
            return PlainTextResponse(buffer.getvalue(), media_type=CSV,
                                     headers={"content-disposition": 'attachment; filename="referral-figures.csv"'})
        return data

    return router
