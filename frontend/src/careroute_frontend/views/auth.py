"""Sign-in (authorization code + PKCE S256), sign-out (RP-initiated logout), the one-click lock for
shared computers and the language switch."""
from __future__ import annotations

import logging
import time
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from .. import i18n
from ..oidc import OidcError
from ..security import safe_return_path, same_origin_referer_path
from ..web import csrf_protect, locale_of, redirect, render, session_of, state

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(csrf_protect)])
MAX_PENDING_LOGINS = 5


@router.get("/login")
def login(request: Request, next_path: str = Query("/", alias="next"), reason: str | None = None):
    session = session_of(request)
    return_to = safe_return_path(next_path)
    if session is not None and session.authenticated:
        return redirect(return_to)
    if session is not None and session.locked:
        return redirect(f"/locked?next={quote(return_to, safe='')}")
    if reason in ("expired", "locked") or (session is not None and session.expired_return_to):
        if session is not None and session.expired_return_to and return_to == "/":
            return_to = safe_return_path(session.expired_return_to)
        return render(request, "login.html", reason="expired", next=return_to,
                      start_url=f"/auth/start?next={quote(return_to, safe='')}")
    return redirect(f"/auth/start?next={quote(return_to, safe='')}")


@router.get("/auth/start")
def start(request: Request, next_path: str = Query("/", alias="next"), relogin: int = 0):
    st = state(request)
    session = session_of(request, create=True)
    return_to = safe_return_path(next_path)
    hint = None
    prompt = None
    if relogin and session.locked_username:
        hint, prompt = session.locked_username, "login"
    tx, url = st.oidc.begin(return_to, locale=locale_of(request), prompt=prompt, login_hint=hint)
    now = time.time()
    session.logins = {k: v for k, v in session.logins.items()
                      if now - v.created < st.settings.login_transaction_seconds}
    while len(session.logins) >= MAX_PENDING_LOGINS:
        session.logins.pop(next(iter(session.logins)))
    session.logins[tx.state] = tx
    st.store.save(session)
    return RedirectResponse(url, status_code=303)


@router.get("/auth/callback")
async def callback(request: Request):
    st = state(request)
    params = request.query_params
    state_value = params.get("state")
    session = session_of(request)
    tx = session.logins.pop(state_value, None) if session is not None and state_value else None
    if tx is None or time.time() - tx.created > st.settings.login_transaction_seconds:
        log.info("login callback refused", extra={"outcome": "unknown-state"})
        return render(request, "login.html", reason="failed", status_code=400, next="/",
                      start_url="/auth/start?next=%2F")
    if params.get("error") or not params.get("code"):
        return render(request, "login.html", reason="failed", status_code=400, next=tx.return_to,
                      start_url=f"/auth/start?next={quote(tx.return_to, safe='')}")
    try:
        result = await run_in_threadpool(st.oidc.finish, tx, params["code"])
    except OidcError as exc:
        log.warning("login failed", extra={"outcome": str(exc)[:60]})
        return render(request, "login.html", reason="failed", status_code=400, next=tx.return_to,
                      start_url=f"/auth/start?next={quote(tx.return_to, safe='')}")
    previous = session.locked_subject
    if previous is not None and previous != result.user.subject:
        session.drafts.clear()  # another person at the same computer: nothing of the last one stays
    session.user = result.user
    session.tokens = result.tokens
    session.locked = False
    session.locked_subject = session.locked_username = session.locked_return_to = None
    session.expired_return_to = None
    session.last_seen = time.time()
    session.logins.clear()
    st.store.rotate(session)  # a fresh id after login: no session fixation
    log.info("signed in", extra={"outcome": "ok"})
    return redirect(safe_return_path(tx.return_to))


@router.post("/logout")
async def logout(request: Request):
    st = state(request)
    session = session_of(request)
    id_token = session.tokens.id_token if session is not None and session.tokens else None
    locale = locale_of(request)
    if session is not None:
        st.store.delete(session.id)
        request.state.session = None
        request.state.session_delete = True
    if id_token is None:
        return redirect("/signed-out")
    return RedirectResponse(st.oidc.end_session_url(id_token, locale=locale), status_code=303)


@router.get("/signed-out")
def signed_out(request: Request):
    return render(request, "signed_out.html")


@router.post("/lock")
async def lock(request: Request):
    """Locks the screen of a shared computer in one click: the tokens are dropped here and the IdP
    session is ended, so only a new sign-in (password) opens it again. Work in progress (drafts)
    is kept for the same person only."""
    st = state(request)
    session = session_of(request)
    if session is None or session.user is None:
        return redirect("/")
    back = same_origin_referer_path(request.headers.get("referer"), st.settings.public_origin) or "/"
    tokens = session.tokens
    session.locked = True
    session.locked_subject = session.user.subject
    session.locked_username = session.user.username
    session.locked_return_to = back
    session.clear_identity()
    st.store.save(session)
    await run_in_threadpool(st.oidc.revoke, tokens)
    log.info("session locked", extra={"outcome": "locked"})
    return redirect("/locked")


@router.get("/locked")
def locked(request: Request, next_path: str | None = Query(None, alias="next")):
    session = session_of(request)
    if session is None or not session.locked:
        return redirect("/")
    return_to = safe_return_path(next_path or session.locked_return_to)
    return render(request, "locked.html", username=session.locked_username,
                  relogin_url=f"/auth/start?relogin=1&next={quote(return_to, safe='')}",
                  other_url=f"/auth/start?next={quote(return_to, safe='')}")


@router.get("/session/timeout")
def timeout(request: Request, next_path: str = Query("/", alias="next")):
    session = session_of(request)
    return_to = safe_return_path(next_path)
    if session is not None and session.authenticated:
        return redirect(return_to)
    return render(request, "login.html", reason="expired", next=return_to,
                  start_url=f"/auth/start?next={quote(return_to, safe='')}")


@router.post("/session/ping")
def ping(request: Request):
    """The browser's sign of life while someone types a long form (counts as activity)."""
    from fastapi.responses import Response

    session = session_of(request)
    if session is None or not session.authenticated:
        return Response(status_code=401)
    return Response(status_code=204)


@router.post("/lang")
async def switch_language(request: Request):
    form = await request.form()
    wanted = i18n.pick(str(form.get("lang", "")))
    session = session_of(request, create=True)
    session.locale = wanted
    request.state.set_lang = wanted
    state(request).store.save(session)
    back = safe_return_path(str(form.get("next") or "")) if form.get("next") else None
    back = back or same_origin_referer_path(request.headers.get("referer"), state(request).settings.public_origin)
    return redirect(back or "/")
