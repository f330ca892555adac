"""The notify HTTP API: the caller's inbox (list, unread count, mark read, live stream), their
notification preferences, and their organisation's webhook endpoints with the delivery log.

Every read of an inbox and every webhook administration act is recorded as an access event; a record
outside the caller's scope answers 404 (and the denial is recorded) so its existence does not leak."""
# No `from __future__ import annotations` here: FastAPI must evaluate the dependency aliases defined
# inside create_app (Caller, Admin) when the routes are declared.

import asyncio
import json
import time
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from careroute_platform.access import Decision
from careroute_platform.auth import Principal
from careroute_platform.http import create_app as platform_app, etag, require_if_match
from careroute_platform.idempotency import claim, remember
from careroute_platform.problems import negotiate
from careroute_platform.runtime import ServiceRuntime, current_traceparent

from .. import policy
from ..adapters.templates import NoticeView
from ..bootstrap import Components, components
from ..domain.kinds import label
from ..metrics import SSE_STREAMS
from ..service_layer import inbox as inbox_service
from ..service_layer import webhooks as webhook_service
from ..service_layer.notices import WORK_CHANNEL, wake
from .stream import InboxHub

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]


class PreferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inbox: StrictBool
    email: StrictBool


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2048)
    event_types: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=20)


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, min_length=8, max_length=2048)
    event_types: list[Annotated[str, Field(max_length=64)]] | None = Field(None, min_length=1, max_length=20)
    status: Literal["active", "disabled"] | None = None


def locale_of(request: Request, principal: Principal) -> str:
    if request.headers.get("accept-language"):
        return negotiate(request.headers.get("accept-language"))
    return principal.locale if principal.locale in ("es", "en") else "es"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def entry_json(row, c: Components, locale: str) -> dict:
    link = c.settings.public_base_url.rstrip("/") + row.link_path
    view = NoticeView(kind=row.kind, reference=row.reference, link=link, priority=row.priority,
                      mandatory=row.mandatory, deadline=row.deadline, params=row.params)
    return {
        "id": row.id, "kind": row.kind, "kind_label": label("kind", row.kind, locale),
        "title": c.renderer.subject(view, locale), "reference": row.reference, "priority": row.priority,
        "mandatory": row.mandatory, "deadline": _iso(row.deadline), "link": link, "case_id": row.case_id,
        "referral_id": row.referral_id, "scope": "user" if row.subject else "organisation",
        "organisation": row.organisation, "params": row.params, "created_at": _iso(row.created_at),
        "read": row.read_at is not None, "read_at": _iso(row.read_at),
    }


def endpoint_json(row) -> dict:
    return {
        "id": row.id, "organisation": row.organisation, "url": row.url, "event_types": list(row.event_types),
        "status": row.status, "disabled_reason": row.disabled_reason, "disabled_at": _iso(row.disabled_at),
        "consecutive_failures": row.consecutive_failures, "failing_since": _iso(row.failing_since),
        "previous_secret_expires_at": _iso(row.previous_secret_expires_at),
        "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at), "version": row.version,
    }


def delivery_json(row, attempts: list | None = None) -> dict:
    body = {
        "id": row.id, "endpoint_id": row.endpoint_id, "event_id": row.event_id, "event_type": row.event_type,
        "status": row.status, "attempts": row.attempts,
        "next_attempt_at": _iso(row.next_attempt_at) if row.status == "pending" else None,
        "last_status_code": row.last_status_code, "last_error": row.last_error,
        "created_at": _iso(row.created_at), "delivered_at": _iso(row.delivered_at), "payload": row.payload,
    }
    if attempts is not None:
        body["attempt_log"] = [{"attempt": a.attempt, "started_at": _iso(a.started_at), "duration_ms": a.duration_ms,
                                "outcome": a.outcome, "status_code": a.status_code, "error_class": a.error_class}
                               for a in attempts]
    return body


def create_app(runtime: ServiceRuntime) -> FastAPI:
    app = platform_app(title="Care Route notify API", readiness=runtime.readiness_checks(),
                       max_body_bytes=runtime.settings.max_body_bytes,
                       description="Inbox, notification preferences and webhook endpoints. "
                                   "Notifications carry references, priorities, deadlines and links only.")
    app.state.runtime = runtime
    c = components(runtime)
    hub = InboxHub(runtime.engine)
    app.state.inbox_hub = hub
    authenticated = runtime.principal_dependency()
    Caller = Annotated[Principal, Depends(authenticated)]
    settings = c.settings

    def audit(uow, principal, action, resource_type, resource_id, decision, *, key=None, purpose=None):
        uow.publish(runtime.access(principal, action, resource_type, resource_id, decision, purpose=purpose, key=key))

    # =========================================================================== inbox
    inbox = APIRouter(prefix="/v1/inbox", tags=["inbox"])

    @inbox.get("")
    def list_inbox(request: Request, principal: Caller, limit: Limit = 20, offset: Offset = 0,
                   unread_only: bool = False, kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$")] = None):
        locale = locale_of(request, principal)
        with runtime.uow(current_traceparent(request)) as uow:
            rows, total = inbox_service.list_entries(uow.session, principal, limit=limit, offset=offset,
                                                     unread_only=unread_only, kind=kind)
            unread = inbox_service.unread_count(uow.session, principal)
            audit(uow, principal, "inbox.list", "inbox", principal.subject, policy.OWN_ENTRY, key=principal.subject)
            uow.commit()
        return {"items": [entry_json(r, c, locale) for r in rows], "total": total, "limit": limit,
                "offset": offset, "unread": unread}

    @inbox.get("/unread-count")
    def unread_count(request: Request, principal: Caller):
        with runtime.uow(current_traceparent(request)) as uow:
            unread = inbox_service.unread_count(uow.session, principal)
            audit(uow, principal, "inbox.count", "inbox", principal.subject, policy.OWN_ENTRY, key=principal.subject)
            uow.commit()
        return {"unread": unread}

    @inbox.post("/read-all")
    def read_all(request: Request, principal: Caller):
        with runtime.uow(current_traceparent(request)) as uow:
            marked = inbox_service.mark_all_read(uow.session, principal, c.clock())
            audit(uow, principal, "inbox.mark_all_read", "inbox", principal.subject, policy.OWN_ENTRY,
                  key=principal.subject)
            uow.commit()
        return {"marked": marked}

    @inbox.get("/stream", response_class=StreamingResponse,
               responses={200: {"content": {"text/event-stream": {}},
                                "description": "Server-sent events: `unread` and `notification`"}})
    async def stream(request: Request, principal: Caller,
                     last_event_id: Annotated[str | None, Header(alias="last-event-id")] = None):
        locale = locale_of(request, principal)
        traceparent = current_traceparent(request)
        resume = int(last_event_id) if last_event_id and last_event_id.isdigit() else None

        def open_stream() -> int:
            with runtime.uow(traceparent) as uow:
                audit(uow, principal, "inbox.stream", "inbox", principal.subject, policy.OWN_ENTRY,
                      key=principal.subject, purpose="live inbox updates")
                latest = inbox_service.latest_seq(uow.session, principal)
                uow.commit()
            return latest

        def fetch(after: int) -> tuple[list[dict], int, int]:
            with runtime.session_factory() as session:
                rows = inbox_service.entries_after(session, principal, after)
                unread = inbox_service.unread_count(session, principal)
            items = [(r.seq, entry_json(r, c, locale)) for r in rows]
            last = max([after, *[s for s, _ in items]])
            return [dict(item, seq=s) for s, item in items], unread, last

        latest = await run_in_threadpool(open_stream)
        seq = resume if resume is not None and resume <= latest else latest
        keys = {f"user:{principal.subject}"}
        if principal.organisation:
            keys.add(f"org:{principal.organisation}")
        expires_at = principal.claims.get("exp")

        def frame(event: str, data: dict, event_id: int | None = None) -> str:
            head = f"id: {event_id}\n" if event_id is not None else ""
            return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"

        async def events():
            nonlocal seq
            token, woken = hub.subscribe(keys)
            SSE_STREAMS.inc()
            try:
                yield f"retry: {settings.sse_retry_ms}\n\n"
                items, unread, seq = await run_in_threadpool(fetch, seq)
                for item in items:
                    yield frame("notification", item, item["seq"])
                yield frame("unread", {"unread": unread}, seq)
                last_sent = last_fetch = time.monotonic()
                while True:
                    if await request.is_disconnected():
                        break
                    if isinstance(expires_at, (int, float)) and time.time() >= expires_at:
                        # the token this stream was opened with has expired: the client reconnects with a fresh one
                        yield frame("reauthenticate", {"reason": "token-expired"})
                        break
                    now = time.monotonic()
                    timeout = min(settings.sse_keepalive_seconds - (now - last_sent),
                                  settings.sse_poll_seconds - (now - last_fetch), 1.0)
                    try:
                        await asyncio.wait_for(woken.wait(), timeout=max(0.05, timeout))
                        woken.clear()
                        due = True
                    except asyncio.TimeoutError:
                        # no wake-up: poll now and then anyway, in case the LISTEN connection was lost
                        due = time.monotonic() - last_fetch >= settings.sse_poll_seconds
                    if due:
                        last_fetch = time.monotonic()
                        items, unread_now, new_seq = await run_in_threadpool(fetch, seq)
                        if items or unread_now != unread:
                            for item in items:
                                yield frame("notification", item, item["seq"])
                            seq, unread = new_seq, unread_now
                            yield frame("unread", {"unread": unread}, seq)
                            last_sent = time.monotonic()
                    if time.monotonic() - last_sent >= settings.sse_keepalive_seconds:
                        yield ": keep-alive\n\n"
                        last_sent = time.monotonic()
            finally:
                hub.unsubscribe(token)
                SSE_STREAMS.dec()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    @inbox.get("/{notification_id}")
    def get_entry(request: Request, principal: Caller, notification_id: str):
        locale = locale_of(request, principal)
        with runtime.uow(current_traceparent(request)) as uow:
            row = _load_entry(uow.session, request, principal, notification_id)
            audit(uow, principal, "inbox.read", "notification", row.id, policy.can_see(principal, row),
                  key=row.case_id or row.id)
            uow.commit()
        return entry_json(row, c, locale)

    @inbox.post("/{notification_id}/read", status_code=204)
    def mark_read(request: Request, principal: Caller, notification_id: str):
        with runtime.uow(current_traceparent(request)) as uow:
            row = _load_entry(uow.session, request, principal, notification_id, action="inbox.mark_read")
            inbox_service.mark_read(uow.session, principal, row.id, c.clock())
            audit(uow, principal, "inbox.mark_read", "notification", row.id, policy.can_see(principal, row),
                  key=row.case_id or row.id)
            uow.commit()
        return Response(status_code=204)

    def _load_entry(session, request: Request, principal: Principal, notification_id: str,
                    action: str = "inbox.read"):
        row = None
        if _is_uuid(notification_id):
            row = inbox_service.load(session, principal, notification_id)
        decision = policy.can_see(principal, row) if row is not None else Decision(False, "not-found")
        if not decision:
            raise runtime.deny(principal, action, "notification", notification_id if row is not None else None,
                               decision.reason, status=404, traceparent=current_traceparent(request))
        return row

    app.include_router(inbox)

    # =========================================================================== preferences
    prefs = APIRouter(prefix="/v1/preferences", tags=["preferences"])

    @prefs.get("")
    def get_preferences(request: Request, principal: Caller):
        with runtime.uow(current_traceparent(request)) as uow:
            items = inbox_service.get_preferences(uow.session, principal.subject)
            audit(uow, principal, "preferences.read", "preferences", principal.subject, policy.OWN_ENTRY,
                  key=principal.subject)
            uow.commit()
        return {"items": items}

    @prefs.put("/{kind}")
    def put_preference(request: Request, principal: Caller, kind: str, body: PreferenceIn):
        with runtime.uow(current_traceparent(request)) as uow:
            item = inbox_service.set_preference(uow.session, principal.subject, kind, inbox=body.inbox,
                                                email=body.email, now=c.clock())
            audit(uow, principal, "preferences.update", "preferences", principal.subject, policy.OWN_ENTRY,
                  key=principal.subject)
            uow.commit()
        return item

    app.include_router(prefs)

    # =========================================================================== webhooks
    hooks = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
    admin_roles = settings.webhook_admin_roles

    def administrator(request: Request, principal: Caller) -> Principal:
        decision = policy.can_administer_webhooks(principal, admin_roles)
        if not decision:
            raise runtime.deny(principal, f"{request.method} webhooks", "webhook_endpoint", None, decision.reason,
                               status=403, traceparent=current_traceparent(request))
        return principal

    Admin = Annotated[Principal, Depends(administrator)]

    def own_endpoint(session, request: Request, principal: Principal, endpoint_id: str, action: str):
        endpoint = webhook_service.load_endpoint(session, endpoint_id)
        decision = policy.can_manage_endpoint(principal, endpoint, admin_roles)
        if not decision:
            raise runtime.deny(principal, action, "webhook_endpoint", endpoint_id if endpoint else None,
                               decision.reason, status=404, traceparent=current_traceparent(request))
        return endpoint, decision

    @hooks.post("/endpoints", status_code=201)
    def create_endpoint(request: Request, response: Response, principal: Admin, body: EndpointIn,
                        idempotency_key: Annotated[str | None, Header(alias="idempotency-key")] = None):
        with runtime.uow(current_traceparent(request)) as uow:
            earlier = claim(uow.session, runtime.idempotency_table, subject=principal.subject, key=idempotency_key,
                            payload=body.model_dump())
            if earlier is not None:
                uow.commit()
                response.status_code = earlier[0]
                return earlier[1]
            row, secret = webhook_service.create_endpoint(
                uow.session, organisation=principal.organisation, created_by=principal.subject, url=body.url,
                event_types=body.event_types, settings=settings, box=c.secretbox, policy=c.target_policy(),
                now=c.clock())
            result = endpoint_json(row)
            # the stored response never holds the secret: a repeated request must rotate to get a new one
            remember(uow.session, runtime.idempotency_table, subject=principal.subject, key=idempotency_key,
                     status=201, body={**result, "secret": None})
            audit(uow, principal, "webhook.create", "webhook_endpoint", row.id, Decision(True, "own-organisation"),
                  key=principal.organisation)
            uow.commit()
        response.headers["etag"] = etag(row.version)
        response.headers["location"] = f"/v1/webhooks/endpoints/{row.id}"
        return {**result, "secret": secret}

    @hooks.get("/endpoints")
    def list_endpoints(request: Request, principal: Admin, limit: Limit = 20, offset: Offset = 0):
        with runtime.uow(current_traceparent(request)) as uow:
            rows, total = webhook_service.list_endpoints(uow.session, principal.organisation, limit=limit,
                                                         offset=offset)
            audit(uow, principal, "webhook.list", "webhook_endpoint", None, Decision(True, "own-organisation"),
                  key=principal.organisation)
            uow.commit()
        return {"items": [endpoint_json(r) for r in rows], "total": total, "limit": limit, "offset": offset}

    @hooks.get("/endpoints/{endpoint_id}")
    def get_endpoint(request: Request, response: Response, principal: Admin, endpoint_id: str):
        with runtime.uow(current_traceparent(request)) as uow:
            row, decision = own_endpoint(uow.session, request, principal, endpoint_id, "webhook.read")
            audit(uow, principal, "webhook.read", "webhook_endpoint", row.id, decision, key=row.organisation)
            uow.commit()
        response.headers["etag"] = etag(row.version)
        return endpoint_json(row)

    @hooks.patch("/endpoints/{endpoint_id}")
    def patch_endpoint(request: Request, response: Response, principal: Admin, endpoint_id: str,
                       body: EndpointPatch):
        with runtime.uow(current_traceparent(request)) as uow:
            row, decision = own_endpoint(uow.session, request, principal, endpoint_id, "webhook.update")
            require_if_match(request, row.version)
            row = webhook_service.update_endpoint(uow, row, url=body.url, event_types=body.event_types,
                                                  status=body.status, policy=c.target_policy(), now=c.clock())
            audit(uow, principal, "webhook.update", "webhook_endpoint", row.id, decision, key=row.organisation)
            if row.status == "active":
                wake(uow.session, WORK_CHANNEL, "webhook")
            uow.commit()
        response.headers["etag"] = etag(row.version)
        return endpoint_json(row)

    @hooks.delete("/endpoints/{endpoint_id}", status_code=204)
    def delete_endpoint(request: Request, principal: Admin, endpoint_id: str):
        with runtime.uow(current_traceparent(request)) as uow:
            row, decision = own_endpoint(uow.session, request, principal, endpoint_id, "webhook.delete")
            webhook_service.delete_endpoint(uow.session, row)
            audit(uow, principal, "webhook.delete", "webhook_endpoint", row.id, decision, key=row.organisation)
            uow.commit()
        return Response(status_code=204)

    @hooks.post("/endpoints/{endpoint_id}/rotate-secret")
    def rotate_secret(request: Request, response: Response, principal: Admin, endpoint_id: str):
        with runtime.uow(current_traceparent(request)) as uow:
            row, decision = own_endpoint(uow.session, request, principal, endpoint_id, "webhook.rotate_secret")
            row, secret = webhook_service.rotate_secret(uow.session, row, box=c.secretbox, settings=settings,
                                                        now=c.clock())
            audit(uow, principal, "webhook.rotate_secret", "webhook_endpoint", row.id, decision,
                  key=row.organisation)
            uow.commit()
        response.headers["etag"] = etag(row.version)
        return {**endpoint_json(row), "secret": secret}

    @hooks.get("/endpoints/{endpoint_id}/deliveries")
    def list_deliveries(request: Request, principal: Admin, endpoint_id: str, limit: Limit = 20, offset: Offset = 0,
                        status: Literal["pending", "delivered", "failed", "dead"] | None = None):
        with runtime.uow(current_traceparent(request)) as uow:
            row, decision = own_endpoint(uow.session, request, principal, endpoint_id, "webhook.deliveries")
            rows, total = webhook_service.list_deliveries(uow.session, row.id, status=status, limit=limit,
                                                          offset=offset)
            audit(uow, principal, "webhook.deliveries", "webhook_endpoint", row.id, decision, key=row.organisation)
            uow.commit()
        return {"items": [delivery_json(r) for r in rows], "total": total, "limit": limit, "offset": offset}

    def own_delivery(session, request: Request, principal: Principal, delivery_id: str, action: str):
        delivery = webhook_service.load_delivery(session, delivery_id)
        endpoint = webhook_service.load_endpoint(session, delivery.endpoint_id) if delivery is not None else None
        decision = policy.can_manage_endpoint(principal, endpoint, admin_roles)
        if not decision:
            raise runtime.deny(principal, action, "webhook_delivery", delivery_id if delivery else None,
                               decision.reason, status=404, traceparent=current_traceparent(request))
        return delivery, decision

    @hooks.get("/deliveries/{delivery_id}")
    def get_delivery(request: Request, principal: Admin, delivery_id: str):
        with runtime.uow(current_traceparent(request)) as uow:
            row, decision = own_delivery(uow.session, request, principal, delivery_id, "webhook.delivery_read")
            attempts = webhook_service.attempts_of(uow.session, row.id)
            audit(uow, principal, "webhook.delivery_read", "webhook_delivery", row.id, decision,
                  key=row.organisation)
            uow.commit()
        return delivery_json(row, attempts)

    @hooks.post("/deliveries/{delivery_id}/replay", status_code=202)
    def replay_delivery(request: Request, principal: Admin, delivery_id: str):
        with runtime.uow(current_traceparent(request)) as uow:
            row, decision = own_delivery(uow.session, request, principal, delivery_id, "webhook.replay")
            webhook_service.replay(uow.session, row, now=c.clock())
            audit(uow, principal, "webhook.replay", "webhook_delivery", row.id, decision, key=row.organisation)
            wake(uow.session, WORK_CHANNEL, "webhook")
            uow.commit()
            row = webhook_service.load_delivery(uow.session, row.id)
        return delivery_json(row)

    @hooks.get("/event-types")
    def event_types(principal: Admin):
        from ..domain.kinds import WEBHOOK_EVENT_TYPES

        return {"items": list(WEBHOOK_EVENT_TYPES)}

    app.include_router(hooks)

    return app


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False
