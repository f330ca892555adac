"""Everyone: the notification inbox, and a live unread count. The browser opens a server-sent event
stream here; the frontend relays only the unread count from notify's stream (opened with the
user's token, renewed when it expires), so no notification content travels to a page that did not
ask for it. Without JavaScript the count is rendered with every page and refreshed with it."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..clients import ApiError
from ..security import safe_return_path
from ..web import (
    Ctx,
    LoginRequired,
    _token_source,
    csrf_protect,
    current,
    locale_of,
    redirect,
    render,
    session_of,
    state,
)

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(csrf_protect)])


def _path_of(link: str | None) -> str:
    """Notify links point at this frontend; keep only the path (never navigate off-site)."""
    if not link:
        return "/notifications"
    parts = urlsplit(link)
    return safe_return_path(parts.path + (f"?{parts.query}" if parts.query else ""), default="/notifications")


@router.get("/notifications")
def inbox(ctx: Ctx = Depends(current), unread_only: str = "", offset: int = 0):
    page = ctx.api.get("notify", "/v1/inbox", params={"limit": 30, "offset": max(offset, 0),
                                                       "unread_only": "true" if unread_only else None})
    entries = page.get("items") or []
    for entry in entries:
        entry["path"] = _path_of(entry.get("link"))
    ctx.request.state.unread = page.get("unread")
    return render(ctx.request, "notifications.html", active="notifications", entries=entries,
                  total=page.get("total", 0), unread=page.get("unread"), offset=max(offset, 0), limit=30,
                  unread_only=bool(unread_only))


@router.post("/notifications/{notification_id}/open")
def open_notification(notification_id: str, ctx: Ctx = Depends(current)):
    entry = ctx.api.get("notify", f"/v1/inbox/{notification_id}")
    if not entry.get("read"):
        ctx.api.post("notify", f"/v1/inbox/{notification_id}/read")
        ctx.session.unread_cache = None
    return redirect(_path_of(entry.get("link")))


@router.post("/notifications/read-all")
def read_all(ctx: Ctx = Depends(current)):
    ctx.api.post("notify", "/v1/inbox/read-all")
    ctx.session.unread_cache = None
    ctx.flash("success", ctx._("All notifications are marked as read."))
    return redirect("/notifications")


@router.get("/notifications/count")
def count(request: Request):
    """Polling fallback for browsers without EventSource. Passive: does not extend the session."""
    session = session_of(request)
    if session is None or not session.authenticated:
        return JSONResponse({"unread": None}, status_code=401)
    try:
        ctx = current(request)
        body = ctx.api.get("notify", "/v1/inbox/unread-count")
    except (ApiError, LoginRequired):
        return JSONResponse({"unread": None}, status_code=503)
    return JSONResponse({"unread": body.get("unread")})


def _frame(event: str, data) -> str:
    return f"event: {event}\ndata: {data}\n\n"


@router.get("/notifications/stream")
async def stream(request: Request):
    st = state(request)
    session = session_of(request)
    if session is None or not session.authenticated:
        return Response(status_code=204)  # EventSource stops reconnecting on 204
    token_source = _token_source(request, session)
    url = st.settings.notify_url.rstrip("/") + "/v1/inbox/stream"
    idle = st.settings.session_idle_timeout_seconds
    locale = locale_of(request)

    def still_valid() -> bool:
        return session.authenticated and time.time() - session.last_seen <= idle

    async def relay():
        yield "retry: 10000\n\n"
        failures = 0
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=45.0)) as client:
            while still_valid() and not await request.is_disconnected():
                try:
                    token = await run_in_threadpool(token_source)
                except LoginRequired:
                    break
                try:
                    async with client.stream("GET", url, headers={"Authorization": f"Bearer {token}",
                                                                  "Accept": "text/event-stream",
                                                                  "Accept-Language": locale}) as upstream:
                        if upstream.status_code != 200:
                            raise httpx.HTTPStatusError("stream refused", request=upstream.request,
                                                        response=upstream)
                        failures = 0
                        event = None
                        async for line in upstream.aiter_lines():
                            if not still_valid() or await request.is_disconnected():
                                break
                            if line.startswith("event:"):
                                event = line[6:].strip()
                            elif line.startswith("data:") and event == "unread":
                                try:
                                    unread = int(json.loads(line[5:].strip()).get("unread"))
                                except (ValueError, TypeError, AttributeError):
                                    continue
                                yield _frame("unread", unread)
                            elif line.startswith("data:") and event == "reauthenticate":
                                break  # the token expired: reconnect with a fresh one
                            elif line == "":
                                event = None
                            elif line.startswith(":"):
                                yield ": keep-alive\n\n"
                except (httpx.HTTPError, httpx.StreamError) as exc:
                    failures += 1
                    log.info("inbox stream interrupted", extra={"error_type": type(exc).__name__, "count": failures})
                    if failures >= 3:
                        break
                    await asyncio.sleep(min(2 * failures, 10))
        yield _frame("end", "{}")

    return StreamingResponse(relay(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})
