"""The intake HTTP API (`/v1`). Every route authenticates with the realm's tokens, checks roles at
the door (`runtime.require_roles`, the platform contract, which records its own denials), and leaves row and field access
to `intake.policy` through the use cases, which record every decision."""

import csv
import io
from typing import Annotated, Literal
from uuid import UUID

from careroute_platform.auth import Principal
from careroute_platform.http import create_app as platform_app
from careroute_platform.http import etag, problem_response, require_if_match
from careroute_platform.problems import Problem
from careroute_platform.runtime import ServiceRuntime, current_traceparent
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from .. import schemas as s
from ..domain.errors import DomainError
from ..domain.geography import CANTON_LABELS, PROVINCES, languages, nationalities
from ..domain.statistics import DIMENSIONS
from ..domain.vocabulary import LABELS, VOCABULARIES, AccessPurpose, CaseStatus, RiskLevel
from ..service_layer import cases as case_uc
from ..service_layer import consents as consent_uc
from ..service_layer import identity as identity_uc
from ..service_layer import notes as note_uc
from ..service_layer import reports as report_uc
from ..service_layer import sharing as sharing_uc
from ..service_layer import transfers as transfer_uc
from ..service_layer.context import AccessDenied, intake_context
from careroute_platform.ratelimit import rate_limited

PROBLEM = {"model": s.ProblemOut, "content": {"application/problem+json": {}}}
COMMON_ERRORS = {401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 422: PROBLEM}
UPDATE_ERRORS = {**COMMON_ERRORS, 409: PROBLEM, 410: PROBLEM, 412: PROBLEM, 428: PROBLEM}

CaseId = Annotated[UUID, Path(description="case id")]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
IF_MATCH_DOC = Header(alias="If-Match", description="the ETag of the version read (required)")


def create_app(runtime: ServiceRuntime) -> FastAPI:
    ctx = intake_context(runtime)  # a missing KEK in production fails here, at startup
    app = platform_app(title="Care Route intake API", readiness=runtime.readiness_checks(),
                       max_body_bytes=runtime.settings.max_body_bytes,
                       description="Survivors, cases, incidents, consent, the encrypted identity vault and "
                                   "de-identified statistics.")
    app.state.runtime = runtime
    app.state.intake = ctx

    @app.exception_handler(AccessDenied)
    def _denied(request: Request, exc: AccessDenied):  # sync: Starlette runs it in the threadpool (DB write)
        runtime.record_denied(getattr(request.state, "principal", None), exc.action, exc.resource_type,
                              exc.resource_id, exc.reason, current_traceparent(request))
        return problem_response(request, Problem(exc.status, exc.code))

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        return problem_response(request, Problem(exc.status, exc.code, detail={"es": exc.es, "en": exc.en},
                                                 errors=[{"field": exc.field, "code": exc.rule}]))

    staff = Annotated[Principal, Depends(runtime.require_roles("caseworker", "supervisor"))]
    supervisor = Annotated[Principal, Depends(runtime.require_roles("supervisor"))]
    provider = Annotated[Principal, Depends(runtime.require_roles("service-provider"))]
    statistician = Annotated[Principal, Depends(runtime.require_roles("government-official", "supervisor"))]
    # Reads that reveal identity are rate-limited per caller: a stolen session cannot scrape the vault.
    identity_reader = Annotated[Principal, Depends(rate_limited(
        runtime.require_roles("caseworker", "supervisor"), "identity", runtime.settings.identity_reads_per_minute))]
    exporter = Annotated[Principal, Depends(rate_limited(
        runtime.require_roles("supervisor"), "export", runtime.settings.exports_per_minute))]
    # Case notes are the survivor's own story: limited like identity.
    notes_reader = Annotated[Principal, Depends(rate_limited(
        runtime.require_roles("caseworker", "supervisor"), "notes", runtime.settings.identity_reads_per_minute))]
    shared_data_reader = Annotated[Principal, Depends(rate_limited(
        runtime.require_roles("service-provider"), "shared-data", runtime.settings.identity_reads_per_minute))]
    anyone = Annotated[Principal, Depends(runtime.principal_dependency())]

    def run(request: Request, use_case, **kwargs):
        with runtime.uow(current_traceparent(request)) as uow:
            result = use_case(ctx=ctx, uow=uow, **kwargs)
            uow.commit()
        return result

    def if_match(request: Request):
        return lambda version: require_if_match(request, version)

    def with_etag(response: Response, body: dict) -> dict:
        response.headers["ETag"] = etag(body["version"])
        return body

    v1 = APIRouter(prefix="/v1")

    # ------------------------------------------------------------------------------------ cases
    @v1.post("/cases", status_code=201, response_model=s.CaseOut, tags=["cases"],
             responses={**COMMON_ERRORS, 400: PROBLEM}, summary="Register a survivor (consent first)")
    def register(request: Request, body: s.RegistrationIn, principal: staff,
                 idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None):
        status, out = run(request, case_uc.register_case, principal=principal, body=body,
                          idempotency_key=idempotency_key)
        return JSONResponse(out, status_code=status, headers={"ETag": etag(out["version"]),
                                                              "Location": f"/v1/cases/{out['id']}"})

    @v1.get("/cases", response_model=s.CaseListOut, tags=["cases"], responses=COMMON_ERRORS,
            summary="Cases of the caller's office (paginated)")
    def list_cases(request: Request, principal: staff, status: CaseStatus | None = None,
                   risk_level: RiskLevel | None = None,
                   survivor_code: Annotated[str | None, Query(pattern=r"^[A-Z]{3}-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{6}$")] = None,
                   assigned_to_me: bool = False, limit: Limit = 20, offset: Offset = 0):
        return run(request, case_uc.list_cases, principal=principal, status=status, risk_level=risk_level,
                   survivor_code=survivor_code, assigned_to_me=assigned_to_me, limit=limit, offset=offset)

    @v1.get("/cases/{case_id}", response_model=s.CaseOut, tags=["cases"], responses={**COMMON_ERRORS, 410: PROBLEM})
    def get_case(request: Request, response: Response, case_id: CaseId, principal: staff):
        return with_etag(response, run(request, case_uc.get_case, principal=principal, case_id=str(case_id)))

    @v1.patch("/cases/{case_id}", response_model=s.CaseOut, tags=["cases"], responses=UPDATE_ERRORS,
              summary="Update the profile, needs, risk, status or assignment (If-Match)")
    def update_case(request: Request, response: Response, case_id: CaseId, body: s.CaseUpdateIn, principal: staff,
                    _if_match: Annotated[str | None, IF_MATCH_DOC] = None):
        return with_etag(response, run(request, case_uc.update_case, principal=principal, case_id=str(case_id),
                                       body=body, if_match=if_match(request)))

    @v1.post("/cases/{case_id}/close", response_model=s.CaseOut, tags=["cases"], responses=UPDATE_ERRORS)
    def close_case(request: Request, response: Response, case_id: CaseId, body: s.CloseIn, principal: staff,
                   _if_match: Annotated[str | None, IF_MATCH_DOC] = None):
        return with_etag(response, run(request, case_uc.close_case, principal=principal, case_id=str(case_id),
                                       body=body, if_match=if_match(request)))

    # -------------------------------------------------------------------------------- incidents
    @v1.get("/cases/{case_id}/incidents", response_model=list[s.IncidentOut], tags=["incidents"],
            responses={**COMMON_ERRORS, 410: PROBLEM})
    def list_incidents(request: Request, case_id: CaseId, principal: staff):
        return run(request, case_uc.list_incidents, principal=principal, case_id=str(case_id))

    @v1.post("/cases/{case_id}/incidents", status_code=201, response_model=s.IncidentOut, tags=["incidents"],
             responses={**COMMON_ERRORS, 409: PROBLEM, 410: PROBLEM})
    def record_incident(request: Request, case_id: CaseId, body: s.IncidentIn, principal: staff):
        return run(request, case_uc.record_incident, principal=principal, case_id=str(case_id), body=body)

    # --------------------------------------------------------------------------------- consents
    @v1.get("/cases/{case_id}/consents", response_model=s.ConsentListOut, tags=["consent"],
            responses={**COMMON_ERRORS, 410: PROBLEM})
    def list_consents(request: Request, case_id: CaseId, principal: staff):
        return run(request, consent_uc.list_consents, principal=principal, case_id=str(case_id))

    @v1.post("/cases/{case_id}/consents", status_code=201, response_model=s.ConsentOut, tags=["consent"],
             responses={**COMMON_ERRORS, 410: PROBLEM})
    def grant_consent(request: Request, case_id: CaseId, body: s.ConsentGrantIn, principal: staff):
        return run(request, consent_uc.grant_consent, principal=principal, case_id=str(case_id), body=body)

    @v1.delete("/cases/{case_id}/consents/{consent_id}", response_model=s.ConsentOut, tags=["consent"],
               responses={**COMMON_ERRORS, 410: PROBLEM}, summary="Withdraw a consent (takes effect everywhere)")
    def withdraw_consent(request: Request, case_id: CaseId, consent_id: UUID, principal: staff):
        return run(request, consent_uc.withdraw_consent, principal=principal, case_id=str(case_id),
                   consent_id=str(consent_id))

    # --------------------------------------------------------------------------------- identity
    @v1.get("/cases/{case_id}/identity", response_model=s.IdentityOut, tags=["identity"],
            responses={**COMMON_ERRORS, 410: PROBLEM, 429: PROBLEM}, summary="Read the survivor's identity (audited, with a purpose)")
    def read_identity(request: Request, response: Response, case_id: CaseId, principal: identity_reader,
                      purpose: AccessPurpose | None = None,
                      purpose_header: Annotated[AccessPurpose | None, Header(alias="X-Access-Purpose")] = None):
        chosen = purpose or purpose_header
        if chosen is None:
            raise Problem(422, "validation", detail={"es": "Indique el propósito del acceso (purpose).",
                                                     "en": "State the purpose of access (purpose)."},
                          errors=[{"field": "query.purpose", "code": "missing"}])
        return with_etag(response, run(request, identity_uc.read_identity, principal=principal,
                                       case_id=str(case_id), purpose=str(chosen)))

    @v1.put("/cases/{case_id}/identity", response_model=s.IdentityOut, tags=["identity"], responses=UPDATE_ERRORS,
            summary="Rectify the identity (LOPDP; If-Match)")
    def rectify_identity(request: Request, response: Response, case_id: CaseId, body: s.SurvivorIdentityIn,
                         principal: staff, _if_match: Annotated[str | None, IF_MATCH_DOC] = None):
        return with_etag(response, run(request, identity_uc.rectify_identity, principal=principal,
                                       case_id=str(case_id), body=body, if_match=if_match(request)))

    @v1.get("/cases/{case_id}/export", tags=["data-subject rights"],
            responses={**COMMON_ERRORS, 410: PROBLEM, 200: {"description": "careroute-intake-export/v1 JSON: case, "
                       "identity, safety plan, incidents, consents, notes, transfers, referrals"}},
            summary="Everything held about the survivor (supervisor of the owning office)")
    def export_case(request: Request, case_id: CaseId, principal: exporter):
        from fastapi.encoders import jsonable_encoder

        body = run(request, identity_uc.export_case, principal=principal, case_id=str(case_id))
        return JSONResponse(jsonable_encoder(body), headers={
            "Content-Disposition": f'attachment; filename="careroute-export-{case_id}.json"'})

    @v1.post("/cases/{case_id}/erase", response_model=s.ErasureOut, tags=["data-subject rights"], responses=UPDATE_ERRORS,
             summary="Erase by crypto-shredding (supervisor of the owning office; If-Match)")
    def erase_case(request: Request, case_id: CaseId, body: s.EraseIn, principal: supervisor,
                   _if_match: Annotated[str | None, IF_MATCH_DOC] = None):
        return run(request, identity_uc.erase_case, principal=principal, case_id=str(case_id), body=body,
                   if_match=if_match(request))

    # ------------------------------------------------------------------------------------ notes
    @v1.get("/cases/{case_id}/notes", response_model=s.NoteListOut, tags=["notes"],
            responses={**COMMON_ERRORS, 410: PROBLEM, 429: PROBLEM})
    def list_notes(request: Request, case_id: CaseId, principal: notes_reader, limit: Limit = 20, offset: Offset = 0):
        return run(request, note_uc.list_notes, principal=principal, case_id=str(case_id), limit=limit, offset=offset)

    @v1.post("/cases/{case_id}/notes", status_code=201, response_model=s.NoteOut, tags=["notes"],
             responses={**COMMON_ERRORS, 410: PROBLEM})
    def add_note(request: Request, case_id: CaseId, body: s.NoteIn, principal: staff):
        return run(request, note_uc.add_note, principal=principal, case_id=str(case_id), body=body)

    # -------------------------------------------------------------------------------- transfers
    @v1.post("/cases/{case_id}/transfers", status_code=201, response_model=s.TransferOut, tags=["transfers"],
             responses={**COMMON_ERRORS, 409: PROBLEM, 410: PROBLEM})
    def request_transfer(request: Request, response: Response, case_id: CaseId, body: s.TransferIn, principal: staff):
        return with_etag(response, run(request, transfer_uc.request_transfer, principal=principal,
                                       case_id=str(case_id), body=body))

    @v1.get("/cases/{case_id}/transfers/{transfer_id}", response_model=s.TransferOut, tags=["transfers"],
            responses=COMMON_ERRORS)
    def get_transfer(request: Request, response: Response, case_id: CaseId, transfer_id: UUID, principal: staff):
        return with_etag(response, run(request, transfer_uc.get_transfer, principal=principal, case_id=str(case_id),
                                       transfer_id=str(transfer_id)))

    @v1.post("/cases/{case_id}/transfers/{transfer_id}/accept", response_model=s.TransferOut, tags=["transfers"],
             responses=UPDATE_ERRORS, summary="The receiving office accepts (If-Match: the transfer's ETag)")
    def accept_transfer(request: Request, response: Response, case_id: CaseId, transfer_id: UUID, principal: staff,
                        _if_match: Annotated[str | None, IF_MATCH_DOC] = None):
        return with_etag(response, run(request, transfer_uc.accept_transfer, principal=principal,
                                       case_id=str(case_id), transfer_id=str(transfer_id), if_match=if_match(request)))

    @v1.post("/cases/{case_id}/transfers/{transfer_id}/decline", response_model=s.TransferOut, tags=["transfers"],
             responses=UPDATE_ERRORS)
    def decline_transfer(request: Request, response: Response, case_id: CaseId, transfer_id: UUID,
                         body: s.TransferDeclineIn, principal: staff,
                         _if_match: Annotated[str | None, IF_MATCH_DOC] = None):
        return with_etag(response, run(request, transfer_uc.decline_transfer, principal=principal,
                                       case_id=str(case_id), transfer_id=str(transfer_id), body=body,
                                       if_match=if_match(request)))

    @v1.get("/transfers", response_model=s.TransferListOut, tags=["transfers"], responses=COMMON_ERRORS,
            summary="Transfers to (incoming) or from (outgoing) the caller's office")
    def list_transfers(request: Request, principal: staff, direction: Literal["incoming", "outgoing"] = "incoming",
                       status: Literal["pending", "accepted", "declined", "expired"] | None = None,
                       limit: Limit = 20, offset: Offset = 0):
        return run(request, transfer_uc.list_transfers, principal=principal, direction=direction, status=status,
                   limit=limit, offset=offset)

    # ------------------------------------------------------------------------- referred cases
    @v1.get("/referrals/{referral_id}/shared-data", response_model=s.SharedDataOut, response_model_exclude_none=True,
            tags=["sharing"], responses=COMMON_ERRORS,
            summary="A receiving organisation reads a referred case: consented categories only")
    def shared_data(request: Request, principal: shared_data_reader,
                    referral_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]):
        return run(request, sharing_uc.shared_data, principal=principal, referral_id=referral_id)

    # ------------------------------------------------------------------------------ statistics
    @v1.get("/statistics/incidents", response_model=s.StatisticsOut, tags=["statistics"],
            responses={**COMMON_ERRORS, 200: {"content": {"text/csv": {}}}},
            summary="De-identified counts (reporting consent only, small cells suppressed); ?format=csv")
    def statistics(request: Request, principal: statistician,
                   group_by: Annotated[list[Literal[DIMENSIONS]], Query(max_length=3)] = [],  # noqa: B006
                   from_month: Annotated[str | None, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")] = None,
                   to_month: Annotated[str | None, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")] = None,
                   format: Literal["json", "csv"] = "json"):
        if len(set(group_by)) != len(group_by):
            raise Problem(422, "validation", errors=[{"field": "query.group_by", "code": "unique"}])
        body = run(request, report_uc.incident_statistics, principal=principal, group_by=list(group_by),
                   from_month=from_month, to_month=to_month)
        if format == "csv" or "text/csv" in request.headers.get("accept", ""):
            return Response(_csv(body), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="careroute-incidents.csv"'})
        return body

    # ------------------------------------------------------------------------------ duplicates
    @v1.get("/duplicates", response_model=s.DuplicateListOut, tags=["duplicates"], responses=COMMON_ERRORS,
            summary="Possible duplicates involving the supervisor's office")
    def list_duplicates(request: Request, principal: supervisor,
                        status: Literal["open", "not_duplicate", "confirmed"] = "open",
                        limit: Limit = 20, offset: Offset = 0):
        return run(request, report_uc.list_duplicates, principal=principal, status=status, limit=limit, offset=offset)

    @v1.post("/duplicates/{flag_id}/resolve", response_model=s.DuplicateOut, tags=["duplicates"],
             responses=COMMON_ERRORS)
    def resolve_duplicate(request: Request, flag_id: UUID, body: s.DuplicateResolveIn, principal: supervisor):
        return run(request, report_uc.resolve_duplicate, principal=principal, flag_id=str(flag_id), body=body)

    # ----------------------------------------------------------------------------- vocabularies
    @v1.get("/vocabularies", tags=["vocabularies"], responses={401: PROBLEM},
            summary="Codes with Spanish and English labels (for forms)")
    def vocabularies(principal: anyone):
        out = {name: [{"code": m.value, "labels": LABELS[name][m.value]} for m in enum]
               for name, enum in VOCABULARIES.items()}
        out["province"] = [{"code": c, "labels": {"es": n, "en": n}} for c, n in PROVINCES.items()]
        out["canton"] = [{"code": c, "labels": {"es": n, "en": n}} for c, n in CANTON_LABELS.items()]
        out["nationality"] = [{"code": c, "labels": lab} for c, lab in nationalities().items()]
        out["language"] = [{"code": c, "labels": lab} for c, lab in languages().items()]
        return out

    app.include_router(v1)
    return app


def _csv(body: dict) -> str:
    buffer = io.StringIO()
    names = body["group_by"] or ["all"]
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*names, "count", "suppressed"])
    for cell in body["cells"]:
        writer.writerow([*(cell["key"].get(n) or "" for n in names), "" if cell["count"] is None else cell["count"],
                         "true" if cell["suppressed"] else "false"])
    writer.writerow([*(["total"] + [""] * (len(names) - 1)), "" if body["total"] is None else body["total"],
                     "true" if body["total"] is None else "false"])
    return buffer.getvalue()
