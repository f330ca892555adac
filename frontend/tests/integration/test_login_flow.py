"""The real login: authorization code + PKCE S256 against the development identity provider (the
realm Keycloak imports, Keycloak's paths), server-side session, refresh, lock and logout."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from frontend_testing import BASE, SERVICE_HOSTS, FakeServices, client_for, csrf_of, idp_login

from careroute_frontend.app import create_app
from careroute_frontend.clients import Services
from careroute_frontend.settings import FrontendSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def real_app(stack):
    fake = FakeServices()
    settings = FrontendSettings(public_base_url=BASE, oidc_issuer=stack.cfg.issuer,
                                **{f"{k}_url": v for k, v in SERVICE_HOSTS.items()})
    services = Services({s: settings.service_url(s) for s in SERVICE_HOSTS}, transport=fake.transport())
    app = create_app(settings, services=services)
    app.state.fake = fake
    return app


def test_authorization_code_with_pkce_and_a_fresh_session(real_app):
    client = client_for(real_app)
    r = client.get("/cases?status=open")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fcases%3Fstatus%3Dopen"
    r = client.get(r.headers["location"])
    start = r.headers["location"]
    r = client.get(start)
    authorize = urlsplit(r.headers["location"])
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert authorize.path.endswith("/realms/careroute/protocol/openid-connect/auth")
    assert params["client_id"] == "careroute-frontend" and params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["redirect_uri"] == BASE + "/auth/callback" and params["state"] and params["nonce"]
    anonymous_id = client.cookies.get("careroute_session")

    result, _ = idp_login(client, "caseworker.tulcan", next_path="%2Fcases%3Fstatus%3Dopen")
    assert result.status_code == 303 and result.headers["location"] == "/cases?status=open"
    cookie = result.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.cookies.get("careroute_session") != anonymous_id  # rotated: no session fixation
    session = real_app.state.frontend.store.get(client.cookies.get("careroute_session"))
    assert session.user.username == "caseworker.tulcan" and "caseworker" in session.user.roles
    assert "/iom/tulcan" in session.user.groups
    assert session.tokens.refresh_token and session.tokens.id_token
    # the page and its cookies carry no token
    page = client.get("/")
    for token in (session.tokens.access_token, session.tokens.refresh_token, session.tokens.id_token):
        assert token not in page.text
        assert all(token not in v for v in client.cookies.values())
    assert "María Fernanda" in page.text


def test_callback_refuses_unknown_state_and_replayed_codes(real_app):
    client = client_for(real_app)
    r = client.get("/auth/callback?state=forged&code=whatever")
    assert r.status_code == 400
    result, _ = idp_login(client, "provider.alas")
    assert result.status_code == 303
    # the same callback again: the transaction is gone
    r = client.get("/auth/callback?state=used&code=x")
    assert r.status_code == 400


def test_return_path_after_login_is_never_off_site(real_app):
    client = client_for(real_app)
    result, _ = idp_login(client, "caseworker.tulcan", next_path="https%3A%2F%2Fevil.example%2F")
    assert result.headers["location"] == "/"


def test_refresh_against_the_idp(real_app):
    client = client_for(real_app)
    idp_login(client, "caseworker.tulcan")
    session = real_app.state.frontend.store.get(client.cookies.get("careroute_session"))
    old = session.tokens.access_token
    session.tokens.access_expires_at = time.time()  # as if five minutes had passed
    assert client.get("/cases").status_code == 200
    assert session.tokens.access_token != old
    sent = real_app.state.fake.calls[-1].headers["authorization"]
    assert sent == f"Bearer {session.tokens.access_token}"


def test_lock_ends_the_idp_session_and_unlock_needs_the_password(real_app, stack):
    client = client_for(real_app)
    idp_login(client, "caseworker.tulcan")
    session = real_app.state.frontend.store.get(client.cookies.get("careroute_session"))
    refresh = session.tokens.refresh_token
    token = csrf_of(client.get("/").text)
    r = client.post("/lock", data={"csrf_token": token}, headers={"origin": BASE})
    assert r.headers["location"] == "/locked"
    # the refresh token is dead at the IdP: the session there was ended
    dead = httpx.post(f"{stack.cfg.issuer}/protocol/openid-connect/token",
                      data={"grant_type": "refresh_token", "refresh_token": refresh},
                      auth=("careroute-frontend", "dev-frontend-secret"))
    assert dead.status_code == 400
    r = client.get("/auth/start?relogin=1&next=%2F")
    params = parse_qs(urlsplit(r.headers["location"]).query)
    assert params["prompt"] == ["login"] and params["login_hint"] == ["caseworker.tulcan"]


def test_logout_goes_to_the_idp_end_session_endpoint(real_app, stack):
    client = client_for(real_app)
    idp_login(client, "caseworker.tulcan")
    token = csrf_of(client.get("/").text)
    r = client.post("/logout", data={"csrf_token": token}, headers={"origin": BASE})
    target = urlsplit(r.headers["location"])
    assert target.path.endswith("/protocol/openid-connect/logout")
    params = parse_qs(target.query)
    assert params["post_logout_redirect_uri"] == [BASE + "/signed-out"] and params["id_token_hint"]
    ended = httpx.get(r.headers["location"], follow_redirects=False)
    assert ended.status_code == 302 and ended.headers["location"].startswith(BASE + "/signed-out")
    assert client.get("/").status_code == 303  # signed out here too


def test_wrong_client_secret_fails_cleanly(stack):
    settings = FrontendSettings(public_base_url=BASE, oidc_issuer=stack.cfg.issuer, oidc_client_secret="wrong")
    app = create_app(settings)
    client = client_for(app)
    result, _ = idp_login(client, "caseworker.tulcan")
    assert result.status_code == 400
    assert "Sign in" in result.text or "Iniciar" in result.text or re.search("sesi", result.text)
