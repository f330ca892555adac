"""The staff frontend application: the platform's app factory (problem+json for machine clients,
request ids, RED metrics, /metrics, /livez, /readyz), plus server-side sessions, the OIDC login,
CSRF protection, a strict Content-Security-Policy, locally served fingerprinted assets and one
router per area of work."""
from __future__ import annotations

import gzip
import hashlib
import logging
import mimetypes
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from careroute_platform.http import create_app as platform_app
from careroute_platform.http import problem_response
from careroute_platform.problems import Problem
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import Gauge
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from . import display, i18n, labels
from .clients import ApiError, Services, ServiceUnavailable
from .oidc import OidcClient
from .security import HTML_SECURITY_HEADERS, content_security_policy, safe_return_path
from .sessions import MemorySessionStore, SessionStore
from .settings import FrontendSettings
from .web import (
    CsrfRefused,
    Forbidden,
    LoginRequired,
    NotFound,
    flash,
    login_redirect,
    render,
    return_path_for,
)

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).parent
# Requests that must not count as activity for the idle timeout (background refreshes).
PASSIVE_PATHS = ("/notifications/stream", "/notifications/count", "/static/", "/livez", "/readyz", "/metrics",
                 "/favicon.ico")
LANG_COOKIE = "careroute_lang"
SESSIONS = Gauge("frontend_sessions", "Server-side sessions held by this frontend process")


@dataclass
class StaticAsset:
    body: bytes
    gz: bytes | None
    content_type: str
    version: str


@dataclass
class NavItem:
    href: str
    label: str
    key: str


@dataclass
class FrontendState:
    settings: FrontendSettings
    store: SessionStore
    oidc: OidcClient
    services: Services
    templates: dict[str, Environment] = field(default_factory=dict)
    assets: dict[str, StaticAsset] = field(default_factory=dict)
    org_names: dict[str, dict[str, str]] = field(default_factory=dict)

    def static_url(self, path: str) -> str:
        asset = self.assets.get(path)
        return f"/static/{path}?v={asset.version}" if asset else f"/static/{path}"

    def org_label(self, path: str | None, locale: str) -> str:
        if not path:
            return ""
        names = self.org_names.get(path)
        if names:
            return names.get(locale) or names.get("es") or path
        return path.rstrip("/").rsplit("/", 1)[-1].replace("-", " ").title()

    def navigation(self, user, locale: str) -> list[NavItem]:
        loc = locale
        items: list[NavItem] = [NavItem("/", i18n.tr(loc, "Home"), "home")]
        if user.has("caseworker"):
            items += [NavItem("/cases", i18n.tr(loc, "Cases"), "cases"), NavItem("/cases/new", i18n.tr(loc, "Register a case"), "new-case")]
        if user.has("supervisor"):
            items += [NavItem("/supervision", i18n.tr(loc, "Office dashboard"), "supervision"),
                      NavItem("/cases", i18n.tr(loc, "Cases"), "cases"), NavItem("/dsr", i18n.tr(loc, "Data-subject requests"), "dsr")]
        if user.has("service-provider", "government-official"):
            items.append(NavItem("/referrals", i18n.tr(loc, "Referral inbox"), "referrals"))
        if user.has("government-official"):
            items.append(NavItem("/statistics", i18n.tr(loc, "Statistics"), "statistics"))
        if user.has("auditor"):
            items.append(NavItem("/audit", i18n.tr(loc, "Audit trail"), "audit"))
        if user.has("caseworker", "supervisor"):
            items.append(NavItem("/directory", i18n.tr(loc, "Service directory"), "directory"))
        if user.has("directory-admin"):
            items.append(NavItem("/directory/admin", i18n.tr(loc, "Manage directory"), "directory-admin"))
        items.append(NavItem("/notifications", i18n.tr(loc, "Notifications"), "notifications"))
        seen, unique = set(), []
        for item in items:
            if item.href not in seen:
                seen.add(item.href)
                unique.append(item)
        return unique


def _load_assets() -> dict[str, StaticAsset]:
    assets = {}
    root = PACKAGE / "static"
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        body = path.read_bytes()
        ctype = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        if rel.endswith(".js"):
            ctype = "text/javascript"
        if ctype.startswith("text/") or ctype in ("image/svg+xml", "application/json"):
            ctype += "; charset=utf-8"
        compressible = rel.endswith((".css", ".js", ".svg", ".json", ".txt"))
        assets[rel] = StaticAsset(body, gzip.compress(body, 9, mtime=0) if compressible else None, ctype,
                                  hashlib.sha256(body).hexdigest()[:12])
    return assets


def _templates() -> dict[str, Environment]:
    envs = {}
    for locale in i18n.LOCALES:
        env = Environment(loader=FileSystemLoader(str(PACKAGE / "templates")),
                          autoescape=select_autoescape(["html", "svg", "xml"]),
                          extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
        env.install_gettext_translations(i18n.translations(locale), newstyle=True)
        env.filters["dt"] = lambda v, _l=locale: i18n.fmt_datetime(v, _l)
        env.filters["date"] = lambda v, _l=locale: i18n.fmt_date(v, _l)
        env.filters["num"] = lambda v, _l=locale: i18n.fmt_number(v, _l)
        env.filters["pct"] = lambda v, _l=locale: i18n.fmt_percent(v, _l)
        env.filters["remaining"] = lambda v, _l=locale: i18n.fmt_remaining(v, _l)
        env.globals["label"] = lambda vocab, code, _l=locale: labels.label(vocab, code, _l)
        env.globals["options"] = lambda vocab, only=None, _l=locale: labels.options(vocab, _l, only)
        env.globals["field_label"] = lambda key, _l=locale: display.field_label(key, _l)
        env.globals["show_value"] = lambda key, value, _l=locale: display.show_value(key, value, _l)
        env.globals["weekday_name"] = lambda i, _l=locale: display.weekday_name(i, _l)
        env.globals["weekday_choices"] = lambda _l=locale: display.weekday_choices(_l)
        envs[locale] = env
    return envs


def create_app(settings: FrontendSettings | None = None, *, store: SessionStore | None = None,
               oidc: OidcClient | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or FrontendSettings()
    store = store or MemorySessionStore(settings.session_max_lifetime_seconds)
    oidc = oidc or OidcClient(settings)
    services = services or Services({s: settings.service_url(s) for s in ("intake", "referral", "notify", "audit")},
                                    timeout=settings.service_timeout_seconds)
    st = FrontendState(settings=settings, store=store, oidc=oidc, services=services)
    st.templates = _templates()
    st.assets = _load_assets()

    app = platform_app(title="Care Route staff frontend", readiness={"identity-provider": oidc.ready},
                       max_body_bytes=settings.max_body_bytes)
    app.state.frontend = st

    from .views import (
        audit,
        auth,
        cases,
        directory,
        home,
        notifications,
        profile,
        referrals,
        statistics,
        supervision,
    )
    for module in (auth, home, cases, referrals, supervision, statistics, audit, directory, notifications, profile):
        app.include_router(module.router)

    @app.get("/static/{path:path}", include_in_schema=False)
    def static(path: str, request: Request, v: str | None = None):
        asset = st.assets.get(path)
        if asset is None:
            raise NotFound()
        headers = {"cache-control": "public, max-age=31536000, immutable" if v == asset.version
                   else "public, max-age=300", "etag": f'"{asset.version}"', "vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == f'"{asset.version}"':
            return Response(status_code=304, headers=headers)
        if asset.gz is not None and "gzip" in request.headers.get("accept-encoding", ""):
            return Response(asset.gz, media_type=asset.content_type, headers={**headers, "content-encoding": "gzip"})
        return Response(asset.body, media_type=asset.content_type, headers=headers)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        asset = st.assets["img/logo.svg"]
        return Response(asset.body, media_type=asset.content_type, headers={"cache-control": "public, max-age=86400"})

    _install_error_pages(app)
    _install_session_middleware(app, st)
    app.add_middleware(GZipMiddleware, minimum_size=800)
    return app


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept or request.headers.get("hx-request") is not None or not accept or "*/*" in accept


def _install_error_pages(app: FastAPI) -> None:
    def L(request: Request) -> str:
        return getattr(request.state, "locale", i18n.DEFAULT_LOCALE)

    def page(request: Request, status: int, title: str, message: str, headers: dict | None = None):
        return render(request, "error.html", status_code=status, headers=headers, title=title, message=message,
                      status=status)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        return login_redirect(request, safe_return_path(exc.return_to), exc.reason)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        loc = L(request)
        return page(request, 403, i18n.tr(loc, "Not allowed"), i18n.tr(loc, "Your role does not give access to this page."))

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused):
        loc = L(request)
        return page(request, 403, i18n.tr(loc, "The form has expired"),
                    i18n.tr(loc, "For your security this form could not be accepted. Go back, reload the page and try again."))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        loc = L(request)
        return page(request, 404, i18n.tr(loc, "Not found"), i18n.tr(loc, "This page does not exist or you do not have access to it."))

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        loc = L(request)
        if isinstance(exc, ServiceUnavailable):
            return page(request, 503, i18n.tr(loc, "Service unavailable"),
                        i18n.tr(loc, "A part of Care Route is not answering. Nothing was lost; try again in a moment."),
                        headers={"retry-after": "10"})
        if exc.status == 401:
            return login_redirect(request, safe_return_path(return_path_for(request)), "expired")
        if exc.status == 403:
            return page(request, 403, i18n.tr(loc, "Not allowed"), i18n.tr(loc, "Your role does not give access to this page."))
        if exc.status in (404, 410):
            return page(request, 404, i18n.tr(loc, "Not found"), i18n.tr(loc, "This page does not exist or you do not have access to it."))
        if exc.status in (409, 412, 428):
            flash(request, "error", i18n.tr(loc, "Someone else changed this record in the meantime. Check its current state "
                                      "and try again."))
            back = return_path_for(request)
            return Response(status_code=303, headers={"location": back})
        log.warning("service error", extra={"status": exc.status, "route": request.url.path})
        return page(request, 502, i18n.tr(loc, "Something went wrong"), exc.detail or i18n.tr(loc, "The request could not be completed."))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        loc = L(request)
        if not _wants_html(request):
            return problem_response(request, Problem(exc.status_code), headers=exc.headers)
        if exc.status_code == 404:
            return page(request, 404, i18n.tr(loc, "Not found"), i18n.tr(loc, "This page does not exist or you do not have access to it."))
        return page(request, exc.status_code, i18n.tr(loc, "Something went wrong"), i18n.tr(loc, "The request could not be completed."))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        loc = L(request)
        if not _wants_html(request):
            return problem_response(request, Problem(422, "validation"))
        return page(request, 400, i18n.tr(loc, "Something went wrong"), i18n.tr(loc, "The request could not be completed."))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        loc = L(request)
        log.error("unhandled error", extra={"error_type": type(exc).__name__, "route": request.url.path})
        if not _wants_html(request):
            return problem_response(request, Problem(500, "internal"))
        return page(request, 500, i18n.tr(loc, "Something went wrong"), i18n.tr(loc, "An unexpected error happened. The team was notified."))


def _install_session_middleware(app: FastAPI, st: FrontendState) -> None:
    settings = st.settings
    idp = urlsplit(settings.oidc_issuer)
    headers = {**HTML_SECURITY_HEADERS,
               "content-security-policy": content_security_policy(f"{idp.scheme}://{idp.netloc}")}

    @app.middleware("http")
    async def sessions(request: Request, call_next):
        now = time.time()
        path = request.url.path
        passive = path.startswith(PASSIVE_PATHS)
        sid = request.cookies.get(settings.session_cookie_name)
        session = st.store.get(sid) if sid and not path.startswith("/static/") else None
        request.state.session = session
        request.state.session_new = False
        request.state.session_delete = False
        if session is not None and session.authenticated:
            if now - session.last_seen > settings.session_idle_timeout_seconds:
                # Idle too long (a shared computer left open): forget the tokens, end the IdP session,
                # remember where the user was so the next login returns there.
                tokens = session.tokens
                session.locked_subject = session.user.subject
                session.locked_username = session.user.username
                session.clear_identity()
                session.expired_return_to = return_path_for(request) if not passive else "/"
                st.store.save(session)
                await run_in_threadpool(st.oidc.revoke, tokens)
            elif not passive:
                session.last_seen = now
        elif session is not None and not passive:
            session.last_seen = now
        # Spanish first; the person's choice (session, then cookie, then the IdP profile) wins.
        locale = None
        if session is not None:
            locale = session.locale or (session.user.locale if session.user else None)
        locale = locale or request.cookies.get(LANG_COOKIE)
        request.state.locale = i18n.pick(locale) if locale else i18n.DEFAULT_LOCALE

        response = await call_next(request)

        if hasattr(st.store, "__len__"):
            SESSIONS.set(len(st.store))
        session = request.state.session
        cookie_args = {"httponly": True, "secure": settings.secure_cookies, "samesite": "lax", "path": "/"}
        if request.state.session_delete:
            response.delete_cookie(settings.session_cookie_name, **cookie_args)
        elif session is not None and (request.state.session_new or session.id != sid):
            response.set_cookie(settings.session_cookie_name, session.id, **cookie_args)
        if getattr(request.state, "set_lang", None):
            response.set_cookie(LANG_COOKIE, request.state.set_lang, max_age=365 * 86400, **cookie_args)
        for name, value in headers.items():
            response.headers[name] = value
        if not path.startswith("/static/") and path != "/favicon.ico":
            response.headers["cache-control"] = "no-store"
            response.headers["pragma"] = "no-cache"
        if settings.secure_cookies:
            response.headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
        response.headers.setdefault("content-language", request.state.locale)
        return response
