"""Cookies, CSRF, Content-Security-Policy, open redirects, tokens never in the browser, idle
timeout and the lock — with the services and the identity provider faked."""
from __future__ import annotations

import re
import time

import pytest
from frontend_testing import (
    BASE,
    FAKE_ACCESS_TOKEN,
    FAKE_ID_TOKEN,
    FAKE_REFRESH_TOKEN,
    client_for,
    csrf_of,
    sign_in_as,
)

from careroute_frontend.security import content_security_policy, origin_allowed, safe_return_path

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("candidate, expected", [
    ("/cases/1?tab=consents", "/cases/1?tab=consents"),
    ("/", "/"),
    ("https://evil.example/", "/"),
    ("//evil.example/path", "/"),
    ("/\\evil.example", "/"),
    ("/%2F%2Fevil.example", "/"),
    ("/%5Cevil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("http:/evil.example", "/"),
    ("/cases\r\nSet-Cookie: x=1", "/"),
    ("", "/"),
    (None, "/"),
    ("/auth/callback?code=x", "/"),
    ("/logout", "/"),
    ("cases/1", "/"),
])
def test_return_paths_are_same_origin_relative_only(candidate, expected):
    assert safe_return_path(candidate) == expected


def test_origin_check():
    assert origin_allowed({"origin": BASE}, BASE)
    assert not origin_allowed({"origin": "https://evil.example"}, BASE)
    assert not origin_allowed({"origin": "null"}, BASE)
    assert not origin_allowed({"referer": "https://evil.example/page"}, BASE)
    assert origin_allowed({"referer": BASE + "/cases"}, BASE)


def test_login_refuses_open_redirects(make_app):
    client = client_for(make_app())
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "%2F%2Fevil.example"):
        r = client.get("/login", params={"next": target})
        assert r.status_code == 303
        assert r.headers["location"] == "/auth/start?next=%2F"
    r = client.get("/login", params={"next": "/cases/abc"})
    assert r.headers["location"] == "/auth/start?next=%2Fcases%2Fabc"


def test_security_headers_and_strict_csp(make_app):
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app)
    r = client.get("/")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
                      "base-uri 'none'", "object-src 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http://" not in csp.split("form-action")[0]
    assert "form-action 'self' http://idp.test" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["cache-control"] == "no-store"
    # nothing inline for the CSP to allow: no <script> bodies, no style attributes or elements
    html = r.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert "cdn" not in html.lower()


def test_csp_builder():
    assert "form-action 'self';" in content_security_policy()
    assert "form-action 'self' https://sso.example;" in content_security_policy("https://sso.example")


def test_static_assets_are_local_fingerprinted_and_cached(make_app):
    client = client_for(make_app())
    sign_in_as(client, client.app)
    html = client.get("/").text
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert urls and all("?v=" in u for u in urls)
    for url in urls:
        r = client.get(url, headers={"accept-encoding": "gzip"})
        assert r.status_code == 200
        assert "immutable" in r.headers["cache-control"]


def test_session_cookie_flags_http_and_https(make_app):
    client = client_for(make_app())
    r = client.get("/signed-out")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("careroute_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in development
    secure_app = make_app(public_base_url="https://careroute.example")
    client = client_for(secure_app, base_url="https://careroute.example")
    r = client.get("/signed-out")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-careroute=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert "max-age=31536000" in r.headers["strict-transport-security"]


def test_state_changing_requests_need_the_csrf_token_and_our_origin(make_app):
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app)
    token = csrf_of(client.get("/").text)
    # no token
    r = client.post("/lang", data={"lang": "en"}, headers={"origin": BASE})
    assert r.status_code == 403
    # wrong token
    r = client.post("/lang", data={"lang": "en", "csrf_token": "forged"}, headers={"origin": BASE})
    assert r.status_code == 403
    # right token, foreign origin
    r = client.post("/lang", data={"lang": "en", "csrf_token": token}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    # right token from a foreign page (Referer), no Origin
    r = client.post("/lock", data={"csrf_token": token}, headers={"referer": "https://evil.example/x"})
    assert r.status_code == 403
    # the header form (fetch) works too
    r = client.post("/session/ping", headers={"origin": BASE, "x-csrf-token": token})
    assert r.status_code == 204
    # and the real thing
    r = client.post("/lang", data={"lang": "en", "csrf_token": token, "next": "/"}, headers={"origin": BASE})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get("/").headers["content-language"] == "en"


def test_every_post_route_is_csrf_protected(make_app):
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app, roles=("caseworker", "supervisor", "service-provider", "auditor", "directory-admin"))
    def flatten(routes):
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                yield from flatten(inner.routes)
            else:
                yield route

    posts = [r for r in flatten(app.routes) if "POST" in (getattr(r, "methods", None) or set())]
    assert len(posts) > 20
    for route in posts:
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        r = client.post(path, data={"a": "b"}, headers={"origin": BASE})
        assert r.status_code == 403, path


def test_no_token_reaches_the_browser(make_app, fake_services):
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app, roles=("caseworker", "supervisor"))
    bodies = []
    for path in ("/", "/cases", "/cases/new", "/notifications", "/profile", "/directory", "/supervision"):
        r = client.get(path, follow_redirects=True)
        bodies.append(r.text)
        bodies.extend(r.headers.get_list("set-cookie"))
    html = client.get("/").text
    for url in re.findall(r'src="(/static/[^"]+)"', html):
        bodies.append(client.get(url).text)
    bodies.extend(f"{k}={v}" for k, v in client.cookies.items())
    everything = "\n".join(bodies)
    for secret in (FAKE_ACCESS_TOKEN, FAKE_REFRESH_TOKEN, FAKE_ID_TOKEN, "fake-access-token", "Bearer"):
        assert secret not in everything
    # ...while the services did receive the user's token
    assert any(c.headers.get("authorization") == f"Bearer {FAKE_ACCESS_TOKEN}" for c in fake_services.calls)


def test_idle_timeout_sends_the_user_back_where_they_were(make_app):
    app = make_app()
    client = client_for(app)
    session = sign_in_as(client, app)
    assert client.get("/cases").status_code == 200
    session.last_seen = time.time() - app.state.frontend.settings.session_idle_timeout_seconds - 5
    r = client.get("/cases?status=open")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=%2Fcases%3Fstatus%3Dopen")
    assert session.tokens is None and session.user is None
    assert app.state.frontend.oidc.revoked, "the IdP session must be ended too"
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and "/auth/start?next=%2Fcases%3Fstatus%3Dopen" in page.text


def test_background_requests_do_not_keep_a_session_alive(make_app):
    app = make_app()
    client = client_for(app)
    session = sign_in_as(client, app)
    session.last_seen = time.time() - 600
    seen = session.last_seen
    client.get("/notifications/count")
    assert session.last_seen == seen
    client.get("/cases")
    assert session.last_seen > seen


def test_lock_needs_a_new_sign_in_and_keeps_work_for_the_same_person(make_app):
    app = make_app()
    client = client_for(app)
    session = sign_in_as(client, app)
    session.drafts["d1"] = {"kind": "registration", "created": time.time(), "data": {"profile.sex": "female"}}
    token = csrf_of(client.get("/cases").text)
    r = client.post("/lock", data={"csrf_token": token}, headers={"origin": BASE, "referer": BASE + "/cases"})
    assert r.status_code == 303 and r.headers["location"] == "/locked"
    assert session.locked and session.tokens is None
    assert app.state.frontend.oidc.revoked
    # every page now leads to the lock screen, nothing else
    r = client.get("/cases")
    assert r.status_code == 303
    r = client.get(r.headers["location"])
    assert r.headers["location"].startswith("/locked")
    lock_page = client.get("/locked")
    assert "relogin=1" in lock_page.text and "caseworker.tulcan" in lock_page.text
    assert "d1" in session.drafts  # kept for the same person
    r = client.get("/auth/start?relogin=1&next=%2Fcases")
    assert r.status_code == 303  # to the IdP, asking for a fresh login (prompt=login) with the name filled in


def test_logout_is_rp_initiated_and_forgets_the_session(make_app):
    app = make_app()
    client = client_for(app)
    session = sign_in_as(client, app)
    token = csrf_of(client.get("/").text)
    r = client.post("/logout", data={"csrf_token": token}, headers={"origin": BASE})
    assert r.status_code == 303 and r.headers["location"].startswith("http://idp.test/logout")
    assert app.state.frontend.store.get(session.id) is None
    assert 'careroute_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]


def test_access_token_is_refreshed_server_side(make_app, fake_services):
    app = make_app()
    client = client_for(app)
    session = sign_in_as(client, app)
    session.tokens.access_expires_at = time.time() + 5  # inside the refresh margin
    assert client.get("/cases").status_code == 200
    assert app.state.frontend.oidc.refreshed == 1
    assert fake_services.calls[-1].headers["authorization"].endswith("-refreshed")
