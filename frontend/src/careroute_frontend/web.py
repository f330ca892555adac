"""What every view needs: the session, the locale, the signed-in user, the services called with the
user's token, CSRF protection, rendering and flash messages."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from . import i18n
from .clients import UserApi
from .oidc import OidcError
from .security import UNSAFE_METHODS, csrf_valid, origin_allowed, same_origin_referer_path
from .sessions import Session, User

log = logging.getLogger(__name__)


class LoginRequired(Exception):
    def __init__(self, return_to: str = "/", reason: str = "required") -> None:
        super().__init__(reason)
        self.return_to = return_to
        self.reason = reason


class Forbidden(Exception):
    pass


class CsrfRefused(Exception):
    pass


class NotFound(Exception):
    pass


def state(request: Request):
    return request.app.state.frontend


def session_of(request: Request, *, create: bool = False) -> Session | None:
    session = getattr(request.state, "session", None)
    if session is None and create:
        session = state(request).store.create()
        request.state.session = session
        request.state.session_new = True
    return session


def locale_of(request: Request) -> str:
    return getattr(request.state, "locale", None) or i18n.DEFAULT_LOCALE


def flash(request: Request, kind: str, message: str) -> None:
    session = session_of(request, create=True)
    session.flash(kind, message)


def current_path(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path


def return_path_for(request: Request) -> str:
    """Where to come back after a login: the page itself for GET, the page the form was on for POST."""
    if request.method == "GET" and not request.headers.get("hx-request"):
        return current_path(request)
    settings = state(request).settings
    referer = same_origin_referer_path(request.headers.get("hx-current-url") or request.headers.get("referer"),
                                       settings.public_origin)
    return referer or "/"


@dataclass
class Ctx:
    """A signed-in request."""

    request: Request
    session: Session
    user: User
    api: UserApi

    @property
    def locale(self) -> str:
        return locale_of(self.request)

    def _(self, message: str, **params) -> str:
        return i18n.tr(self.locale, message, **params)

    def flash(self, kind: str, message: str) -> None:
        self.session.flash(kind, message)


def _token_source(request: Request, session: Session):
    st = state(request)

    def get_token() -> str:
        tokens = session.tokens
        if tokens is None:
            raise LoginRequired(return_path_for(request), "expired")
        if tokens.access_expires_at - time.time() > st.settings.token_refresh_margin_seconds:
            return tokens.access_token
        with session.refresh_lock:
            tokens = session.tokens
            if tokens is None:
                raise LoginRequired(return_path_for(request), "expired")
            if tokens.access_expires_at - time.time() > st.settings.token_refresh_margin_seconds:
                return tokens.access_token
            try:
                new_tokens, user = st.oidc.refresh(tokens)
            except OidcError:
                log.info("token refresh failed", extra={"outcome": "relogin"})
                session.clear_identity()
                st.store.save(session)
                raise LoginRequired(return_path_for(request), "expired") from None
            session.tokens = new_tokens
            session.user = user
            st.store.save(session)
            return new_tokens.access_token

    return get_token


def current(request: Request) -> Ctx:
    """Dependency: the signed-in user, or a redirect to the login (keeping where they were)."""
    session = session_of(request)
    if session is None or not session.authenticated:
        reason = "locked" if session is not None and session.locked else "required"
        if session is not None and session.expired_return_to:
            reason = "expired"
        raise LoginRequired(return_path_for(request), reason)
    st = state(request)
    api = st.services.for_user(_token_source(request, session), locale=locale_of(request),
                               traceparent=getattr(request.state, "traceparent", None))
    return Ctx(request=request, session=session, user=session.user, api=api)


def require_roles(*roles: str):
    def dependency(ctx: Ctx = Depends(current)) -> Ctx:
        if not ctx.user.has(*roles):
            raise Forbidden()
        return ctx
    return dependency


async def csrf_protect(request: Request) -> None:
    """Dependency on every router: state-changing requests must come from our own origin and carry
    the session's synchronizer token (hidden form field or the X-CSRF-Token header)."""
    if request.method not in UNSAFE_METHODS:
        return
    settings = state(request).settings
    if not origin_allowed(request.headers, settings.public_origin):
        log.warning("csrf refused", extra={"outcome": "bad-origin", "route": request.url.path})
        raise CsrfRefused()
    session = session_of(request)
    supplied = request.headers.get("x-csrf-token")
    if supplied is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            supplied = value if isinstance(value, str) else None
    if session is None or not csrf_valid(session.csrf_token, supplied):
        log.warning("csrf refused", extra={"outcome": "bad-token", "route": request.url.path})
        raise CsrfRefused()


def unread_count(request: Request, session: Session) -> int | None:
    """The badge in the header: notify's unread count, cached briefly per session (one call per page
    at most; on slow links pages must not wait for it twice)."""
    cached = getattr(session, "unread_cache", None)
    if cached is not None and time.time() - cached[0] < 15:
        return cached[1]
    st = state(request)
    api = st.services.for_user(_token_source(request, session), locale=locale_of(request))
    try:
        value = api.get("notify", "/v1/inbox/unread-count", timeout=2.0).get("unread")
    except Exception:  # noqa: BLE001 - the badge is a convenience: never fail a page for it
        value = None
    session.unread_cache = (time.time(), value)
    return value


def render(request: Request, template: str, status_code: int = 200, headers: dict | None = None,
           **context: Any) -> HTMLResponse:
    st = state(request)
    locale = locale_of(request)
    # every page may carry a form (language switch, lock): even anonymous visitors get a session
    # so that the CSRF token exists
    session = session_of(request, create=True)
    user = session.user if session is not None and session.authenticated else None
    base = {
        "request": request, "locale": locale, "other_locale": "en" if locale == "es" else "es",
        "user": user, "csrf_token": session.csrf_token if session is not None else "",
        "flashes": session.pop_flashes() if session is not None else [],
        "current_path": current_path(request), "static": st.static_url,
        "idle_seconds": st.settings.session_idle_timeout_seconds,
        "nav": st.navigation(user, locale) if user else [],
        "user_org": st.org_label(user.organisation, locale) if user and user.organisation else "",
        "org_name": lambda path: st.org_label(path, locale),
        "unread": getattr(request.state, "unread", None) if getattr(request.state, "unread", None) is not None
        else (unread_count(request, session) if user is not None and not request.headers.get("hx-request") else None),
        "is_htmx": bool(request.headers.get("hx-request")),
    }
    base.update(context)
    html = st.templates[locale].get_template(template).render(**base)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def redirect(url: str, status_code: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status_code)


def login_redirect(request: Request, return_to: str, reason: str) -> Response:
    url = f"/login?next={quote(return_to, safe='')}"
    if reason in ("expired", "locked"):
        url += f"&reason={reason}"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
