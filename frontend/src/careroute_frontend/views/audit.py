"""Auditors: search the audit trail (who did what to which record, when — never case content), see
an entry's inclusion proof verified against the latest signed checkpoint, and download the
checkpoint, the proof and the keys to verify offline with `careroute-audit-verify`.

Verification runs here, server-side, with the audit package's own verifier library — the same code
an offline auditor runs. The trusted keys come from FRONTEND_AUDIT_VERIFIER_KEYS when configured (a
channel independent of the audit service); otherwise from the audit service's /keys, and the page
says so."""
from __future__ import annotations

import json
import re
from datetime import datetime

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from .. import i18n
from ..clients import ApiError, items
from ..web import Ctx, NotFound, csrf_protect, redirect, render, require_roles

router = APIRouter(dependencies=[Depends(csrf_protect)])
auditor = require_roles("auditor")
FILTERS = {
    "subject": re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$"),
    "organisation": re.compile(r"^/(iom|government|civil-society)(/[a-z0-9-]+)*$"),
    "resource_type": re.compile(r"^[a-z][a-z0-9_.-]{0,63}$"),
    "resource_id": re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+{}-]{0,199}$"),
    "action": re.compile(r"^[\x20-\x7e]{1,120}$"),
    "outcome": re.compile(r"^(allowed|denied|recorded)$"),
    "service": re.compile(r"^[a-z][a-z0-9-]{0,31}$"),
    "event_type": re.compile(r"^org\.iom\.careroute\.[a-z0-9_.]+$"),
}


def _filters(params: dict) -> tuple[dict, dict]:
    chosen, invalid = {}, {}
    for name, pattern in FILTERS.items():
        value = (params.get(name) or "").strip()
        if not value:
            continue
        if pattern.match(value):
            chosen[name] = value
        else:
            invalid[name] = value
    for name, api_name in (("from", "from"), ("to", "to")):
        value = (params.get(name) or "").strip()
        if value:
            try:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=i18n.LOCAL_TZ)
                chosen[api_name] = moment.isoformat()
            except ValueError:
                invalid[name] = value
    if chosen.get("resource_id") and not chosen.get("resource_type"):
        chosen["resource_type"] = "case"
    return chosen, invalid


@router.get("/audit")
def search(ctx: Ctx = Depends(auditor), offset: int = 0):
    params = dict(ctx.request.query_params)
    chosen, invalid = _filters(params)
    errors = {name: ctx._("This value is not valid for the search.") for name in invalid}
    page, entries = None, []
    searched = bool(chosen) or params.get("all") == "1"
    if searched and not errors:
        page = ctx.api.get("audit", "/entries", params={**chosen, "limit": 50, "offset": max(offset, 0),
                                                          "order": "desc", "purpose": "audit trail search"})
        entries = items(page)
    query = "&".join(f"{k}={v}" for k, v in params.items() if k != "offset")
    return render(ctx.request, "audit/search.html", active="audit", entries=entries,
                  total=(page or {}).get("total", 0), offset=max(offset, 0), limit=50, values=params,
                  errors=errors, searched=searched, query=query)


def _trusted_keys(ctx: Ctx) -> tuple[list[str], str]:
    configured = ctx.request.app.state.frontend.settings.audit_verifier_keys
    if configured:
        return list(configured), "configured"
    described = ctx.api.get("audit", "/keys", params={"purpose": "verify inclusion proof"})
    return [k["key"] for k in described.get("keys", []) if k.get("key")], "service"


def verify(answer: dict, keys: list[str]) -> dict:
    """Check the entry's inclusion in the log the signed checkpoint commits to."""
    from audit.verifier import InclusionProof, verify_entry_inclusion

    try:
        proof = InclusionProof.from_json({"leaf_index": answer["leaf_index"], "tree_size": answer["tree_size"],
                                          "hashes": answer["hashes"]})
        report = verify_entry_inclusion(answer["checkpoint"], keys, answer["entry"], answer["index"], proof)
    except Exception as exc:  # noqa: BLE001 - a malformed answer is a failed verification, never a crash
        return {"ok": False, "problems": [type(exc).__name__], "signed_by": [], "size": None}
    return {"ok": report.ok, "problems": [p.message for p in report.problems],
            "signed_by": list(report.signed_by),
            "size": report.checkpoint.size if report.checkpoint else None}


def _inclusion(ctx: Ctx, index: int) -> dict:
    try:
        return ctx.api.get("audit", f"/entries/{index}/inclusion-proof", params={"purpose": "verify inclusion proof"})
    except ApiError as exc:
        if exc.status == 422:
            raise NotFound() from None
        raise


@router.get("/audit/entries/{index}")
def entry(index: int, ctx: Ctx = Depends(auditor)):
    if index < 0:
        raise NotFound()
    try:
        answer = _inclusion(ctx, index)
    except ApiError as exc:
        if exc.status != 409:  # no checkpoint signed yet
            raise
        ctx.flash("warning", ctx._("No checkpoint covers this entry yet; try again in a few seconds."))
        single = ctx.api.get("audit", f"/entries/{index}", params={"purpose": "audit trail search"})
        return render(ctx.request, "audit/entry.html", active="audit", answer=single, result=None,
                      key_source=None, entry_json=json.dumps(single.get("entry"), indent=2, ensure_ascii=False))
    keys, source = _trusted_keys(ctx)
    result = verify(answer, keys)
    return render(ctx.request, "audit/entry.html", active="audit", answer=answer, result=result, key_source=source,
                  entry_json=json.dumps(answer.get("entry"), indent=2, ensure_ascii=False))


def _download(body: str | bytes, filename: str, media_type: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"})


@router.get("/audit/entries/{index}/proof.json")
def proof_file(index: int, ctx: Ctx = Depends(auditor)):
    answer = _inclusion(ctx, index)
    body = {"leaf_index": answer["leaf_index"], "tree_size": answer["tree_size"], "hashes": answer["hashes"]}
    return _download(json.dumps(body, indent=2) + "\n", f"careroute-proof-{index}.json", "application/json")


@router.get("/audit/entries/{index}/entry.json")
def entry_file(index: int, ctx: Ctx = Depends(auditor)):
    answer = _inclusion(ctx, index)
    return _download(json.dumps(answer["entry"], ensure_ascii=False) + "\n", f"careroute-entry-{index}.json",
                     "application/json")


@router.get("/audit/entries/{index}/checkpoint.txt")
def checkpoint_file(index: int, ctx: Ctx = Depends(auditor)):
    answer = _inclusion(ctx, index)
    return _download(answer["checkpoint"], f"careroute-checkpoint-{answer['tree_size']}.txt",
                     "text/plain; charset=utf-8")


@router.get("/audit/checkpoint.txt")
def latest_checkpoint(ctx: Ctx = Depends(auditor)):
    response = ctx.api.get("audit", "/checkpoints/latest", params={"format": "note", "purpose": "download"},
                           raw=True)
    return _download(response.content, "careroute-checkpoint.txt", "text/plain; charset=utf-8")


@router.get("/audit/keys.txt")
def keys_file(ctx: Ctx = Depends(auditor)):
    response = ctx.api.get("audit", "/keys", params={"format": "text", "purpose": "download"}, raw=True)
    return _download(response.content, "careroute-audit-keys.txt", "text/plain; charset=utf-8")


@router.get("/audit/export.zip")
def export_bundle(ctx: Ctx = Depends(auditor)):
    chosen, invalid = _filters(dict(ctx.request.query_params))
    if invalid:
        ctx.flash("error", ctx._("This value is not valid for the search."))
        return redirect("/audit")
    response = ctx.api.get("audit", "/export", params={**chosen, "format": "bundle", "purpose": "offline verification"},
                           raw=True, timeout=60.0)
    return _download(response.content, "careroute-audit-export.zip", "application/zip")


@router.get("/oversight/anomalies")
def anomalies(ctx: Ctx = Depends(auditor)):
    """Where notify's anomaly notices link to: the trail filtered to anomaly events."""
    return redirect("/audit?event_type=org.iom.careroute.anomaly.detected.v1")
