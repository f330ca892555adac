"""The auditor's API. Every route needs the `auditor` role, and every call is itself audited: an
`access.recorded` event written through the outbox in the same transaction as the read, which
comes back through careroute.access into this very log.

Proofs and exports are in the formats `careroute-audit-verify` reads, so what an auditor downloads
can be checked offline with nothing but the log's public key.
"""

import io
import tempfile
import zipfile
from datetime import UTC, datetime
from typing import Annotated, Literal

from careroute_platform.access import ALLOW
from careroute_platform.auth import Principal
from careroute_platform.http import create_app as platform_app
from careroute_platform.problems import Problem
from careroute_platform.runtime import ServiceRuntime, current_traceparent
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from .. import metrics
from ..adapters.keys import LogKeys, load_keys
from ..adapters.store import LogRepository
from ..service_layer import checkpoints as cps
from ..service_layer import proofs

ORG_PATTERN = r"^/(iom|government|civil-society)(/[a-z0-9-]+)*$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/+{}-]*$"
MAX_SIZE = (1 << 63) - 1

PageLimit = Annotated[int, Query(ge=1, le=100, description="page size (1..100)")]
PageOffset = Annotated[int, Query(ge=0, le=10_000_000)]
Purpose = Annotated[str | None, Query(max_length=500, description="why you are looking (recorded in the log)")]
TreeSize = Annotated[int | None, Query(ge=0, le=MAX_SIZE, description="tree size (default: latest checkpoint)")]


SUBJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"


class EntryFilters(BaseModel):
    subject: str | None = None
    organisation: str | None = None
    include_sub_organisations: bool = False
    resource_type: str | None = None
    resource_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    event_type: str | None = None
    service: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict:
        d = self.model_dump()
        d["organisation_prefix"] = d.pop("include_sub_organisations")
        for key in ("since", "until"):
            if d[key] is not None and d[key].tzinfo is None:
                d[key] = d[key].replace(tzinfo=UTC)
        return d

    @property
    def empty(self) -> bool:
        return not any(v for k, v in self.model_dump().items() if k != "include_sub_organisations")


def filters_dependency(
    subject: Annotated[str | None, Query(max_length=64, pattern=SUBJECT_PATTERN, description="actor's subject id")] = None,
    organisation: Annotated[str | None, Query(max_length=200, pattern=ORG_PATTERN,
                                              description="actor's organisation (group path)")] = None,
    include_sub_organisations: Annotated[bool, Query(description="organisation matches its sub-offices too")] = False,
    resource_type: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")] = None,
    resource_id: Annotated[str | None, Query(max_length=200, pattern=ID_PATTERN,
                                             description="with resource_type=case, also finds entries about the "
                                                         "case's referrals, consents and incidents")] = None,
    action: Annotated[str | None, Query(max_length=120, pattern=r"^[\x20-\x7e]+$")] = None,
    outcome: Literal["allowed", "denied", "recorded"] | None = None,
    event_type: Annotated[str | None, Query(max_length=160, pattern=r"^org\.iom\.careroute\.[a-z0-9_.]+$")] = None,
    service: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z][a-z0-9-]*$")] = None,
    since: Annotated[datetime | None, Query(alias="from", description="event time from (inclusive)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="event time to (exclusive)")] = None,
) -> EntryFilters:
    return EntryFilters(subject=subject, organisation=organisation, include_sub_organisations=include_sub_organisations,
                        resource_type=resource_type, resource_id=resource_id, action=action, outcome=outcome,
                        event_type=event_type, service=service, since=since, until=until)


class CosignatureIn(BaseModel):
    cosignature: str = Field(..., min_length=10, max_length=600,
                             description="one signed-note signature line: '— <key name> <base64>'")


def _out_of_range(exc: "proofs.OutOfRange") -> Problem:
    return Problem(422, "out-of-range", detail={"es": exc.es, "en": exc.en})


def _no_checkpoint() -> Problem:
    return Problem(409, "no-checkpoint", detail={"es": "Aún no hay un punto de control firmado; intente en unos segundos.",
                                                 "en": "No checkpoint has been signed yet; try again in a few seconds."})


def _not_found(what_es: str, what_en: str) -> Problem:
    return Problem(404, detail={"es": f"{what_es} no existe.", "en": f"{what_en} does not exist."})


def create_app(runtime: ServiceRuntime) -> FastAPI:
    settings = runtime.settings
    keys: LogKeys = load_keys(settings)
    app = platform_app(title="Care Route audit API", readiness=runtime.readiness_checks(),
                       max_body_bytes=settings.max_body_bytes,
                       description="Tamper-evident audit log: search, proofs, checkpoints, exports. Auditors only.")
    app.state.runtime = runtime
    app.state.keys = keys
    metrics.watch(runtime.engine)
    auditor = runtime.require_roles("auditor")
    Auditor = Annotated[Principal, Depends(auditor)]
    router = APIRouter(tags=["audit"])

    def run(request, principal, action, resource_type, resource_id, purpose, work):
        """Do `work(session)` and record this (allowed) access in the same transaction."""
        with runtime.uow(current_traceparent(request)) as uow:
            uow.publish(runtime.access(principal, action, resource_type, resource_id, ALLOW, purpose=purpose,
                                       key=resource_id))
            try:
                result = work(uow.session)
            except (Problem, proofs.OutOfRange, proofs.NoCheckpoint) as exc:
                # The request fails, but the auditor's attempt is still recorded.
                uow.session.rollback()
                uow.commit()
                if isinstance(exc, proofs.OutOfRange):
                    raise _out_of_range(exc) from None
                if isinstance(exc, proofs.NoCheckpoint):
                    raise _no_checkpoint() from None
                raise
            uow.commit()
            return result

    # -- entries --------------------------------------------------------------------------------
    @router.get("/entries", summary="Search entries (actor, organisation, resource, action, outcome, time)")
    def search_entries(request: Request, principal: Auditor, filters: Annotated[EntryFilters, Depends(filters_dependency)],
                       limit: PageLimit = 20, offset: PageOffset = 0, order: Literal["asc", "desc"] = "asc",
                       purpose: Purpose = None):
        def work(session):
            total, rows = LogRepository(session).search(filters.as_dict(), limit=limit, offset=offset,
                                                        descending=order == "desc")
            return {"items": [proofs.entry_json(r) for r in rows], "total": total, "limit": limit, "offset": offset}
        return run(request, principal, "audit.entries.search", "audit_log", None, purpose, work)

    @router.get("/entries/by-event/{event_id}", summary="The entry recording one event")
    def entry_by_event(request: Request, principal: Auditor,
                       event_id: Annotated[str, Path(max_length=128, pattern=r"^[\x21-\x7e]+$")], purpose: Purpose = None):
        def work(session):
            row = LogRepository(session).entry_by_event(event_id)
            if row is None:
                raise _not_found("La entrada", "The entry")
            return proofs.entry_json(row)
        return run(request, principal, "audit.entry.read", "audit_entry", None, purpose, work)

    @router.get("/entries/by-event/{event_id}/inclusion-proof", summary="Inclusion proof of the entry of an event")
    def inclusion_by_event(request: Request, principal: Auditor,
                           event_id: Annotated[str, Path(max_length=128, pattern=r"^[\x21-\x7e]+$")],
                           tree_size: TreeSize = None, purpose: Purpose = None):
        def work(session):
            answer = proofs.inclusion(session, event_id=event_id, tree_size=tree_size)
            if answer is None:
                raise _not_found("La entrada", "The entry")
            return answer
        return run(request, principal, "audit.proof.inclusion", "audit_entry", None, purpose, work)

    @router.get("/entries/{index}", summary="One entry by its index")
    def entry(request: Request, principal: Auditor, index: Annotated[int, Path(ge=0, le=MAX_SIZE)],
              purpose: Purpose = None):
        def work(session):
            row = LogRepository(session).entry(index)
            if row is None:
                raise _not_found("La entrada", "The entry")
            return proofs.entry_json(row)
        return run(request, principal, "audit.entry.read", "audit_entry", str(index), purpose, work)

    @router.get("/entries/{index}/inclusion-proof",
                summary="Inclusion proof of an entry against a tree size (default: the latest checkpoint)")
    def inclusion_by_index(request: Request, principal: Auditor, index: Annotated[int, Path(ge=0, le=MAX_SIZE)],
                           tree_size: TreeSize = None, purpose: Purpose = None):
        def work(session):
            answer = proofs.inclusion(session, index=index, tree_size=tree_size)
            if answer is None:
                raise proofs.OutOfRange("the entry index is beyond the end of the log",
                                        "El índice de la entrada está más allá del final del registro.")
            return answer
        return run(request, principal, "audit.proof.inclusion", "audit_entry", str(index), purpose, work)

    @router.get("/proofs/consistency", summary="Consistency proof between two tree sizes")
    def consistency(request: Request, principal: Auditor, size1: Annotated[int, Query(ge=0, le=MAX_SIZE)],
                    size2: TreeSize = None, purpose: Purpose = None):
        return run(request, principal, "audit.proof.consistency", "audit_log", None, purpose,
                   lambda session: proofs.consistency(session, size1=size1, size2=size2))

    # -- checkpoints ----------------------------------------------------------------------------
    def checkpoint_response(session, row, fmt: str):
        cos = LogRepository(session).cosignatures([row.size]).get(row.size, [])
        if fmt == "note":
            return PlainTextResponse(cps.full_note(row, cos), media_type="text/plain; charset=utf-8")
        return cps.describe(row, cos)

    @router.get("/checkpoints", summary="Historical checkpoints, newest first")
    def list_checkpoints(request: Request, principal: Auditor, limit: PageLimit = 20, offset: PageOffset = 0,
                         purpose: Purpose = None):
        def work(session):
            repo = LogRepository(session)
            total, rows = repo.checkpoints_page(limit=limit, offset=offset)
            cos = repo.cosignatures([r.size for r in rows])
            return {"items": [cps.describe(r, cos.get(r.size, [])) for r in rows], "total": total, "limit": limit,
                    "offset": offset}
        return run(request, principal, "audit.checkpoint.list", "checkpoint", None, purpose, work)

    @router.get("/checkpoints/latest", summary="The latest signed checkpoint (format=note: the signed note as text)")
    def latest_checkpoint(request: Request, principal: Auditor, format: Literal["json", "note"] = "json",
                          purpose: Purpose = None):
        def work(session):
            row = LogRepository(session).latest_checkpoint()
            if row is None:
                raise proofs.NoCheckpoint()
            return checkpoint_response(session, row, format)
        return run(request, principal, "audit.checkpoint.read", "checkpoint", None, purpose, work)

    @router.get("/checkpoints/{size}", summary="The checkpoint issued for a tree size")
    def checkpoint(request: Request, principal: Auditor, size: Annotated[int, Path(ge=0, le=MAX_SIZE)],
                   format: Literal["json", "note"] = "json", purpose: Purpose = None):
        def work(session):
            row = LogRepository(session).checkpoint(size)
            if row is None:
                raise _not_found("El punto de control", "The checkpoint")
            return checkpoint_response(session, row, format)
        return run(request, principal, "audit.checkpoint.read", "checkpoint", str(size), purpose, work)

    @router.post("/checkpoints/{size}/cosignatures", status_code=201,
                 summary="Add another organisation's cosignature to a stored checkpoint")
    def cosign(request: Request, principal: Auditor, size: Annotated[int, Path(ge=0, le=MAX_SIZE)],
               body: CosignatureIn, purpose: Purpose = None):
        def work(session):
            try:
                added = cps.add_cosignature(session, keys, size=size, line=body.cosignature,
                                            submitted_by=principal.subject)
            except LookupError:
                raise _not_found("El punto de control", "The checkpoint") from None
            except cps.CosignatureRejected as exc:
                status = 409 if exc.code == "conflict" else 422
                raise Problem(status, "cosignature-rejected", detail={
                    "es": "La cofirma no corresponde a una clave de cofirmante configurada o no verifica.",
                    "en": "The cosignature is not by a configured cosigner key or does not verify."},
                    reason=exc.code) from None
            row = LogRepository(session).checkpoint(size)
            return {"added": added, **checkpoint_response(session, row, "json")}
        return run(request, principal, "audit.checkpoint.cosign", "checkpoint", str(size), purpose, work)

    @router.get("/keys", summary="Public keys that verify this log's checkpoints (format=text: a key file)")
    def verifier_keys(request: Request, principal: Auditor, format: Literal["json", "text"] = "json",
                      purpose: Purpose = None):
        def work(session):
            described = keys.describe()
            if format == "text":
                lines = [f"# {described['origin']} checkpoint keys (current first)"]
                lines += [k["key"] for k in described["keys"]]
                return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; charset=utf-8")
            return described
        return run(request, principal, "audit.keys.read", "audit_log", None, purpose, work)

    # -- export ---------------------------------------------------------------------------------
    @router.get("/export", summary="Export entries with proofs: jsonl (verifier format), csv, or bundle (zip with "
                                   "export.jsonl, checkpoint.txt, keys.txt)")
    def export(request: Request, principal: Auditor, filters: Annotated[EntryFilters, Depends(filters_dependency)],
               format: Literal["jsonl", "csv", "bundle"] = "jsonl", tree_size: TreeSize = None,
               proofs_per_entry: Annotated[bool | None, Query(alias="proofs", description="inclusion proof on every "
                                                              "line (default: when filtered)")] = None,
               purpose: Purpose = None):
        with_proofs = (not filters.empty) if proofs_per_entry is None else proofs_per_entry
        filter_dict = filters.as_dict()

        def work(session):
            repo = LogRepository(session)
            size, cp = proofs.resolve_size(repo, tree_size)
            if cp is None:
                raise _not_found("El punto de control para ese tamaño", "A checkpoint for that tree size")
            count = size if filters.empty else repo.count({**filter_dict, "before_index": size})
            if count > settings.export_max_entries:
                raise Problem(422, "export-too-large", detail={
                    "es": "La exportación supera el máximo; acote la búsqueda.",
                    "en": "The export exceeds the maximum; narrow the search."})
            return size, cps.full_note(cp, repo.cosignatures([size]).get(size, []))

        size, note = run(request, principal, "audit.export", "audit_log", None, purpose, work)
        headers = {"audit-tree-size": str(size), "audit-checkpoint-size": str(size)}
        if format == "bundle":
            return _bundle(runtime, keys, filter_dict, size, note, with_proofs, headers)
        media = "application/x-ndjson" if format == "jsonl" else "text/csv; charset=utf-8"
        ext = "jsonl" if format == "jsonl" else "csv"
        headers["content-disposition"] = f'attachment; filename="careroute-audit-{size}.{ext}"'
        return StreamingResponse(_stream(runtime, filter_dict, size, format, with_proofs), media_type=media,
                                 headers=headers)

    app.include_router(router)
    return app


def _lines(session, filters: dict, size: int, fmt: str, with_proofs: bool):
    rows = proofs.export_rows(session, filters, size)
    if fmt == "csv":
        yield proofs.csv_header()
    paired = proofs.with_proofs(session, rows, size) if with_proofs else ((r, None) for r in rows)
    for row, proof in paired:
        if fmt == "csv":
            yield proofs.csv_line(row, proof)
        else:
            yield proofs.jsonl_line(row.index, row.entry, row.leaf_hash, proof)


def _stream(runtime, filters: dict, size: int, fmt: str, with_proofs: bool):
    with runtime.session_factory() as session:
        buffer: list[str] = []
        for line in _lines(session, filters, size, fmt, with_proofs):
            buffer.append(line)
            if len(buffer) >= 500:
                yield "".join(buffer).encode()
                buffer.clear()
        if buffer:
            yield "".join(buffer).encode()


BUNDLE_README = """Care Route audit log export
===========================
export.jsonl    entries {{"index", "entry", "leaf_hash"[, "proof"]}} in index order ({what})
checkpoint.txt  the signed checkpoint (C2SP signed note) for tree size {size}, with any cosignatures
keys.txt        the log's public verifier keys as served by the audit service; compare them with
                the keys your organisation obtained through a separate, trusted channel

Verify offline (pip install careroute-audit, or use the service's virtualenv):

    {command}
"""


def _bundle(runtime, keys: LogKeys, filters: dict, size: int, note: str, with_proofs: bool, headers: dict):
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 - closed by the stream
    full = all(not v for k, v in filters.items() if k != "organisation_prefix")
    command = ("careroute-audit-verify export --key keys.txt --checkpoint checkpoint.txt export.jsonl" if full
               else "careroute-audit-verify entries --key keys.txt --checkpoint checkpoint.txt export.jsonl")
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        with runtime.session_factory() as session, bundle.open("export.jsonl", "w") as out:
            text = io.TextIOWrapper(out, encoding="utf-8", newline="")
            for line in _lines(session, filters, size, "jsonl", with_proofs or not full):
                text.write(line)
            text.flush()
            text.detach()
        bundle.writestr("checkpoint.txt", note)
        bundle.writestr("keys.txt", "\n".join(k.key_string() for k in keys.trusted) + "\n")
        bundle.writestr("README.txt", BUNDLE_README.format(
            what="the whole log" if full else "entries matching the search, each with its inclusion proof",
            size=size, command=command))
    spool.seek(0)

    def chunks():
        try:
            while chunk := spool.read(64 * 1024):
                yield chunk
        finally:
            spool.close()

    headers = {**headers, "content-disposition": f'attachment; filename="careroute-audit-{size}.zip"'}
    return StreamingResponse(chunks(), media_type="application/zip", headers=headers)
