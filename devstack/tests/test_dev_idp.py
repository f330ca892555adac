"""The development identity provider: Keycloak's endpoints, token shapes and errors over the realm file.

Unit tests drive the ASGI app in-process; the integration tests run it as a real process on a free
loopback port and talk to it over TCP, including through python-keycloak's KeycloakAdmin.
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

with warnings.catch_warnings():  # starlette's TestClient warns about its httpx backend at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from careroute_devstack.idp import create_app
from careroute_devstack.idp.__main__ import main as idp_main
from careroute_devstack.idp.realm import Realm, stable_id

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "deploy" / "keycloak" / "careroute-realm.json"
BASE = "http://testserver"
ISSUER = f"{BASE}/realms/careroute"
OIDC = "/realms/careroute/protocol/openid-connect"
ADMIN = "/admin/realms/careroute"
PASSWORD = "careroute-dev"
SERVICE_AUDIENCES = ["careroute-intake", "careroute-referral", "careroute-notify", "careroute-audit"]
FRONTEND = ("careroute-frontend", "dev-frontend-secret")
CALLBACK = "http://127.0.0.1:8080/auth/callback"
NOTIFY = ("careroute-notify", "dev-careroute-notify-secret")
MSP = ("msp-hospital-tulcan-system", "dev-msp-hospital-tulcan-system-secret")

REALM = Realm.load(REALM_FILE)
HUMAN_USERS = sorted(u.username for u in REALM.users.values() if not u.service_account_client_id)
USER_ACCESS_CLAIMS = {
    "exp", "iat", "auth_time", "jti", "iss", "aud", "sub", "typ", "azp", "sid", "acr", "realm_access", "scope",
    "name", "given_name", "family_name", "preferred_username", "email", "email_verified", "locale", "groups",
}
SERVICE_ACCESS_CLAIMS = {
    "exp", "iat", "jti", "iss", "aud", "sub", "typ", "azp", "acr", "realm_access", "scope", "preferred_username",
    "email_verified", "groups", "client_id", "clientHost", "clientAddress",
}


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ---------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def app():
    return create_app(REALM_FILE, BASE)


@pytest.fixture
def client(app):
    with TestClient(app, follow_redirects=False) as c:  # a fresh cookie jar per test
        yield c


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    verifier = b64url(secrets.token_bytes(48))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def jwks_of(c) -> dict:
    return c.get(f"{OIDC}/certs").json()


def verify_access_token(jwks: dict, token: str, *, audience: str = "careroute-intake", issuer: str = ISSUER) -> dict:
    """What a correct resource server does: RS256 with a published key, iss, aud, exp, and typ Bearer."""
    header = jwt.get_unverified_header(token)
    keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys}
    if header.get("kid") not in keys:
        raise jwt.InvalidKeyError("unknown kid")
    claims = jwt.decode(token, keys[header["kid"]].key, algorithms=["RS256"], audience=audience, issuer=issuer,
                        options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    if claims.get("typ") != "Bearer":
        raise jwt.InvalidTokenError(f"not an access token (typ={claims.get('typ')!r})")
    return claims


def decode_with_jwks(jwks: dict, token: str, audience: str | None) -> dict:
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == header["kid"])
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=ISSUER)


def password_grant(c, username: str, password: str = PASSWORD, client_id: str = "careroute-cli", **extra):
    data = {"grant_type": "password", "client_id": client_id, "username": username, "password": password,
            "scope": "openid", **extra}
    return c.post(f"{OIDC}/token", data=data)


def client_credentials(c, client_id: str, secret: str, *, basic: bool = True):
    if basic:
        return c.post(f"{OIDC}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    return c.post(f"{OIDC}/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                         "client_secret": secret})


def auth_params(challenge: str | None, **overrides) -> dict:
    params = {"client_id": "careroute-frontend", "redirect_uri": CALLBACK, "response_type": "code",
              "scope": "openid", "state": "st-8f2a", "nonce": "n-51c7"}
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def login_form_fields(page: httpx.Response) -> tuple[str, str]:
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    session_code = re.search(r'name="session_code" value="([^"]+)"', page.text).group(1)
    return action, session_code


def browser_login(c, username: str, challenge: str | None, password: str = PASSWORD, **overrides) -> httpx.Response:
    page = c.get(f"{OIDC}/auth", params=auth_params(challenge, **overrides))
    assert page.status_code == 200, page.text
    action, session_code = login_form_fields(page)
    return c.post(action, data={"session_code": session_code, "username": username, "password": password})


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {k: v[0] for k, v in query.items()}


def exchange(c, code: str, verifier: str | None, redirect_uri: str = CALLBACK, auth=FRONTEND):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    return c.post(f"{OIDC}/token", data=data, auth=auth)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------- discovery & keys

@pytest.mark.unit
def test_discovery_document(client):
    r = client.get("/realms/careroute/.well-known/openid-configuration")
    assert r.status_code == 200
    doc = r.json()
    assert doc["issuer"] == ISSUER
    for name, path in (("authorization_endpoint", "auth"), ("token_endpoint", "token"),
                       ("userinfo_endpoint", "userinfo"), ("end_session_endpoint", "logout"),
                       ("jwks_uri", "certs"), ("introspection_endpoint", "token/introspect")):
        assert doc[name] == f"{ISSUER}/protocol/openid-connect/{path}"
    assert {"authorization_code", "refresh_token", "password", "client_credentials"} <= set(doc["grant_types_supported"])
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert client.get("/realms/other/.well-known/openid-configuration").status_code == 404


@pytest.mark.unit
def test_jwks_publishes_rs256_signing_keys(client):
    jwks = jwks_of(client)
    assert len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert key["kid"] and key["n"] and key["e"] == "AQAB"
    assert key["x5c"] and key["x5t#S256"]
    assert jwt.PyJWKSet.from_dict(jwks).keys[0].key_id == key["kid"]


# ---------------------------------------------------------------------------- password grant

@pytest.mark.unit
@pytest.mark.parametrize("username", HUMAN_USERS)
def test_password_grant_gives_keycloak_shaped_tokens(client, username):
    r = password_grant(client, username)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type",
                         "id_token", "not-before-policy", "session_state", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["refresh_expires_in"] == 1800
    jwks = jwks_of(client)
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}

    claims = verify_access_token(jwks, body["access_token"])
    user = REALM.users[username]
    assert set(claims) == USER_ACCESS_CLAIMS
    assert claims["exp"] == claims["iat"] + 300
    assert claims["iss"] == ISSUER
    assert claims["aud"] == SERVICE_AUDIENCES
    assert claims["sub"] == user.id == stable_id("user", username)
    assert claims["typ"] == "Bearer" and claims["azp"] == "careroute-cli"
    assert claims["sid"] == body["session_state"]
    care_route_role = next(r for r in user.realm_roles if r != "default-roles-careroute")
    assert {care_route_role, "default-roles-careroute", "offline_access", "uma_authorization"} == set(
        claims["realm_access"]["roles"])
    assert claims["groups"] == user.group_paths
    assert claims["preferred_username"] == username
    assert claims["email"] == f"{username}@example.org" and claims["email_verified"] is True
    assert claims["given_name"] == user.first_name and claims["family_name"] == user.last_name
    assert claims["name"] == f"{user.first_name} {user.last_name}"
    assert claims["locale"] == user.locale in ("es", "en")
    assert claims["scope"].split()[0] == "openid"

    id_claims = decode_with_jwks(jwks, body["id_token"], audience="careroute-cli")
    assert id_claims["typ"] == "ID" and id_claims["aud"] == "careroute-cli" and id_claims["sub"] == user.id
    assert id_claims["azp"] == "careroute-cli" and id_claims["sid"] == claims["sid"]
    assert id_claims["at_hash"] == b64url(hashlib.sha256(body["access_token"].encode()).digest()[:16])

    refresh = jwt.decode(body["refresh_token"], options={"verify_signature": False})
    assert refresh["typ"] == "Refresh" and refresh["sid"] == claims["sid"]


@pytest.mark.unit
def test_refresh_and_id_tokens_are_not_access_tokens(client):
    body = password_grant(client, "caseworker.quito").json()
    jwks = jwks_of(client)
    # the refresh token is signed by the same key and its aud is the issuer: only `typ` tells it apart
    with pytest.raises(jwt.InvalidTokenError, match="not an access token"):
        verify_access_token(jwks, body["refresh_token"], audience=ISSUER)
    with pytest.raises(jwt.InvalidTokenError, match="not an access token"):
        verify_access_token(jwks, body["id_token"], audience="careroute-cli")


@pytest.mark.unit
def test_subject_is_stable_across_restarts(client):
    first = jwt.decode(password_grant(client, "provider.alas").json()["access_token"],
                       options={"verify_signature": False})
    with TestClient(create_app(REALM_FILE, BASE)) as other:
        second = jwt.decode(password_grant(other, "provider.alas").json()["access_token"],
                            options={"verify_signature": False})
    assert first["sub"] == second["sub"] == stable_id("user", "provider.alas")


@pytest.mark.unit
def test_login_with_email_address(client):
    r = password_grant(client, "provider.quimera@example.org")
    assert r.status_code == 200
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["preferred_username"] == "provider.quimera" and claims["locale"] == "en"


@pytest.mark.unit
@pytest.mark.parametrize("username, password", [("official.msp", "wrong-password"), ("nobody", PASSWORD),
                                                ("official.msp", ""), ("service-account-careroute-notify", "x")])
def test_wrong_credentials_are_refused_like_keycloak(client, username, password):
    r = password_grant(client, username, password)
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_grant", "error_description": "Invalid user credentials"}


@pytest.mark.unit
def test_password_grant_needs_direct_access_grants(client):
    r = client.post(f"{OIDC}/token", data={"grant_type": "password", "username": "caseworker.tulcan",
                                           "password": PASSWORD}, auth=FRONTEND)
    assert r.status_code == 400
    assert r.json()["error"] == "unauthorized_client"


@pytest.mark.unit
def test_unsupported_and_missing_grant_types(client):
    r = client.post(f"{OIDC}/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                           "client_id": "careroute-cli"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = client.post(f"{OIDC}/token", data={"client_id": "careroute-cli"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


@pytest.mark.unit
def test_brute_force_detection_locks_temporarily():
    clock = FakeClock()
    with TestClient(create_app(REALM_FILE, BASE, clock=clock)) as c:
        for _ in range(5):  # failureFactor
            assert password_grant(c, "provider.hias", "wrong").status_code == 401
        assert password_grant(c, "provider.hias").status_code == 401  # locked, same answer as Keycloak
        clock.advance(61)  # waitIncrementSeconds
        assert password_grant(c, "provider.hias").status_code == 200


# ---------------------------------------------------------------------------- client credentials

@pytest.mark.unit
@pytest.mark.parametrize("basic", [True, False], ids=["client_secret_basic", "client_secret_post"])
def test_client_credentials_for_an_institutional_system(client, basic):
    r = client_credentials(client, *MSP, basic=basic)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "refresh_token" not in body and "id_token" not in body and body["refresh_expires_in"] == 0
    claims = verify_access_token(jwks_of(client), body["access_token"])
    assert set(claims) == SERVICE_ACCESS_CLAIMS
    assert claims["preferred_username"] == "service-account-msp-hospital-tulcan-system"
    assert claims["client_id"] == claims["azp"] == "msp-hospital-tulcan-system"
    assert claims["sub"] == stable_id("user", "service-account-msp-hospital-tulcan-system")
    assert claims["groups"] == ["/government/msp/hospital-tulcan"]
    assert {"integration-client", "service-provider"} <= set(claims["realm_access"]["roles"])
    assert claims["aud"] == SERVICE_AUDIENCES


@pytest.mark.unit
def test_client_credentials_for_the_notify_service_carry_realm_management_roles(client):
    claims = jwt.decode(client_credentials(client, *NOTIFY).json()["access_token"],
                        options={"verify_signature": False})
    roles = set(claims["resource_access"]["realm-management"]["roles"])
    assert {"view-users", "query-users", "query-groups"} <= roles
    assert "realm-management" in claims["aud"]  # Keycloak's audience-resolve mapper


@pytest.mark.unit
@pytest.mark.parametrize("client_id, secret", [
    ("msp-hospital-tulcan-system", "not-the-secret"),
    ("msp-hospital-tulcan-system", ""),
    ("no-such-client", "whatever"),
])
def test_client_credentials_with_bad_secrets_are_refused(client, client_id, secret):
    for basic in (True, False):
        r = client_credentials(client, client_id, secret, basic=basic)
        assert r.status_code == 401
        assert r.json() == {"error": "invalid_client",
                            "error_description": "Invalid client or Invalid client credentials"}


@pytest.mark.unit
def test_client_credentials_need_a_confidential_client_with_a_service_account(client):
    r = client.post(f"{OIDC}/token", data={"grant_type": "client_credentials", "client_id": "careroute-cli"})
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    r = client.post(f"{OIDC}/token", data={"grant_type": "client_credentials"}, auth=FRONTEND)
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


# ---------------------------------------------------------------------------- authorization code + PKCE

@pytest.mark.unit
def test_authorization_code_flow_with_pkce(client):
    verifier, challenge = pkce_pair()
    page = client.get(f"{OIDC}/auth", params=auth_params(challenge))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Iniciar sesión" in page.text and "<script" not in page.text.lower()
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "English" in page.text  # language switch
    action, session_code = login_form_fields(page)
    done = client.post(action, data={"session_code": session_code, "username": "caseworker.tulcan",
                                     "password": PASSWORD})
    params = redirect_params(done)
    assert done.headers["location"].startswith(CALLBACK + "?")
    assert params["state"] == "st-8f2a" and params["iss"] == ISSUER and params["code"]

    r = exchange(client, params["code"], verifier)
    assert r.status_code == 200, r.text
    body = r.json()
    jwks = jwks_of(client)
    claims = verify_access_token(jwks, body["access_token"])
    assert claims["azp"] == "careroute-frontend" and claims["preferred_username"] == "caseworker.tulcan"
    assert claims["allowed-origins"] == ["http://127.0.0.1:8080", "http://localhost:8080"]
    assert claims["sid"] == params["session_state"]
    id_claims = decode_with_jwks(jwks, body["id_token"], audience="careroute-frontend")
    assert id_claims["nonce"] == "n-51c7" and id_claims["typ"] == "ID"

    # codes are single-use: a second exchange fails and revokes what the first one produced
    again = exchange(client, params["code"], verifier)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "Code not valid"}
    refreshed = client.post(f"{OIDC}/token", data={"grant_type": "refresh_token",
                                                   "refresh_token": body["refresh_token"]}, auth=FRONTEND)
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


@pytest.mark.unit
def test_wrong_code_verifier_is_refused_and_burns_the_code(client):
    verifier, challenge = pkce_pair()
    code = redirect_params(browser_login(client, "supervisor.tulcan", challenge))["code"]
    other_verifier, _ = pkce_pair()
    r = exchange(client, code, other_verifier)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "PKCE verification failed: Code mismatch"}
    assert exchange(client, code, verifier).status_code == 400


@pytest.mark.unit
def test_missing_verifier_and_wrong_redirect_uri_are_refused(client):
    verifier, challenge = pkce_pair()
    code = redirect_params(browser_login(client, "caseworker.quito", challenge))["code"]
    r = exchange(client, code, None)
    assert r.status_code == 400 and r.json()["error_description"] == "PKCE code verifier not specified"

    client.cookies.clear()
    code = redirect_params(browser_login(client, "caseworker.quito", challenge))["code"]
    r = exchange(client, code, verifier, redirect_uri="http://127.0.0.1:8080/other")
    assert r.status_code == 400 and r.json()["error_description"] == "Incorrect redirect_uri"


@pytest.mark.unit
def test_code_of_another_client_is_refused(client):
    verifier, challenge = pkce_pair()
    code = redirect_params(browser_login(client, "caseworker.quito", challenge))["code"]
    r = exchange(client, code, verifier, auth=MSP)
    assert r.status_code == 400 and r.json()["error"] in ("invalid_grant", "unauthorized_client")


@pytest.mark.unit
def test_expired_code_is_refused():
    clock = FakeClock()
    with TestClient(create_app(REALM_FILE, BASE, clock=clock), follow_redirects=False) as c:
        verifier, challenge = pkce_pair()
        code = redirect_params(browser_login(c, "caseworker.tulcan", challenge))["code"]
        clock.advance(61)  # accessCodeLifespan
        r = exchange(c, code, verifier)
        assert r.status_code == 400 and r.json()["error_description"] == "Code is expired"


@pytest.mark.unit
def test_frontend_requires_pkce_s256(client):
    r = client.get(f"{OIDC}/auth", params=auth_params(None))
    params = redirect_params(r)
    assert r.headers["location"].startswith(CALLBACK)
    assert params["error"] == "invalid_request" and params["state"] == "st-8f2a"
    r = client.get(f"{OIDC}/auth", params=auth_params("x" * 43, code_challenge_method="plain"))
    assert redirect_params(r)["error"] == "invalid_request"


@pytest.mark.unit
@pytest.mark.parametrize("redirect_uri", [
    "http://evil.example/callback",
    "http://127.0.0.1:8080.evil.example/callback",
    "http://127.0.0.1:8080@evil.example/callback",
    "http://127.0.0.1:8080/../x",
    "http://127.0.0.1:8080/cb#fragment",
    None,
])
def test_invalid_redirect_uri_is_not_followed(client, redirect_uri):
    _, challenge = pkce_pair()
    r = client.get(f"{OIDC}/auth", params=auth_params(challenge, redirect_uri=redirect_uri))
    assert r.status_code == 400
    assert "location" not in r.headers
    assert "redirect_uri" in r.text


@pytest.mark.unit
def test_unknown_client_and_response_type(client):
    _, challenge = pkce_pair()
    r = client.get(f"{OIDC}/auth", params=auth_params(challenge, client_id="nope"))
    assert r.status_code == 400 and "location" not in r.headers
    r = client.get(f"{OIDC}/auth", params=auth_params(challenge, response_type="token"))
    assert redirect_params(r)["error"] == "unsupported_response_type"
    r = client.get(f"{OIDC}/auth", params=auth_params(challenge, client_id="careroute-cli"))
    assert r.status_code == 400  # no redirect URIs registered for the CLI


@pytest.mark.unit
def test_wrong_password_on_the_login_page(client):
    _, challenge = pkce_pair()
    page = client.get(f"{OIDC}/auth", params=auth_params(challenge, ui_locales="en"))
    assert "Sign in" in page.text and "Español" in page.text
    action, session_code = login_form_fields(page)
    r = client.post(action, data={"session_code": session_code, "username": "caseworker.lagoagrio",
                                  "password": "nope"})
    assert r.status_code == 200 and "location" not in r.headers
    assert "Invalid username or password." in r.text
    action, session_code = login_form_fields(r)
    r = client.post(action, data={"session_code": session_code, "username": "caseworker.lagoagrio",
                                  "password": PASSWORD})
    assert redirect_params(r)["code"]


@pytest.mark.unit
def test_login_post_without_the_browser_cookie_is_refused(app, client):
    _, challenge = pkce_pair()
    action, session_code = login_form_fields(client.get(f"{OIDC}/auth", params=auth_params(challenge)))
    with TestClient(app, follow_redirects=False) as other_browser:  # cross-site POST: no SameSite=Lax cookie
        r = other_browser.post(action, data={"session_code": session_code, "username": "caseworker.alas",
                                             "password": PASSWORD})
    assert r.status_code == 400 and "location" not in r.headers


@pytest.mark.unit
def test_single_sign_on_and_prompt(client):
    _, challenge = pkce_pair()
    r = client.get(f"{OIDC}/auth", params=auth_params(challenge, prompt="none"))
    assert redirect_params(r)["error"] == "login_required"
    first = redirect_params(browser_login(client, "admin.directory", challenge))
    verifier, challenge = pkce_pair()
    again = client.get(f"{OIDC}/auth", params=auth_params(challenge))  # SSO cookie: no form
    params = redirect_params(again)
    assert params["code"] and params["session_state"] == first["session_state"]
    claims = jwt.decode(exchange(client, params["code"], verifier).json()["access_token"],
                        options={"verify_signature": False})
    assert claims["acr"] == "0" and claims["preferred_username"] == "admin.directory"
    forced = client.get(f"{OIDC}/auth", params=auth_params(challenge, prompt="login"))
    assert forced.status_code == 200 and 'name="password"' in forced.text


# ---------------------------------------------------------------------------- refresh, logout, userinfo

@pytest.mark.unit
def test_refresh_token_grant(client):
    body = password_grant(client, "official.ministerio").json()
    r = client.post(f"{OIDC}/token", data={"grant_type": "refresh_token", "client_id": "careroute-cli",
                                           "refresh_token": body["refresh_token"]})
    assert r.status_code == 200, r.text
    new = r.json()
    old_claims = verify_access_token(jwks_of(client), body["access_token"])
    new_claims = verify_access_token(jwks_of(client), new["access_token"])
    assert new_claims["sid"] == old_claims["sid"] and new_claims["jti"] != old_claims["jti"]
    assert new["refresh_token"] and new["id_token"]
    # bound to its client, and an access token is no refresh token
    r = client.post(f"{OIDC}/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                    auth=FRONTEND)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = client.post(f"{OIDC}/token", data={"grant_type": "refresh_token", "client_id": "careroute-cli",
                                           "refresh_token": body["access_token"]})
    assert r.status_code == 400 and r.json() == {"error": "invalid_grant",
                                                 "error_description": "Invalid refresh token"}


@pytest.mark.unit
def test_session_idle_timeout_ends_refresh():
    clock = FakeClock()
    with TestClient(create_app(REALM_FILE, BASE, clock=clock)) as c:
        body = password_grant(c, "caseworker.alas").json()
        clock.advance(1801)  # ssoSessionIdleTimeout
        r = c.post(f"{OIDC}/token", data={"grant_type": "refresh_token", "client_id": "careroute-cli",
                                          "refresh_token": body["refresh_token"]})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


@pytest.mark.unit
def test_logout_invalidates_refresh_and_userinfo(client):
    body = password_grant(client, "provider.fiscalia").json()
    assert client.get(f"{OIDC}/userinfo", headers=bearer(body["access_token"])).status_code == 200
    r = client.post(f"{OIDC}/logout", data={"client_id": "careroute-cli", "refresh_token": body["refresh_token"]})
    assert r.status_code == 204
    r = client.post(f"{OIDC}/token", data={"grant_type": "refresh_token", "client_id": "careroute-cli",
                                           "refresh_token": body["refresh_token"]})
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "Session not active"}
    r = client.get(f"{OIDC}/userinfo", headers=bearer(body["access_token"]))
    assert r.status_code == 401


@pytest.mark.unit
def test_rp_initiated_logout_with_redirect(client):
    verifier, challenge = pkce_pair()
    code = redirect_params(browser_login(client, "supervisor.quito", challenge))["code"]
    tokens = exchange(client, code, verifier).json()
    bad = client.get(f"{OIDC}/logout", params={"id_token_hint": tokens["id_token"],
                                               "post_logout_redirect_uri": "http://evil.example/"})
    assert bad.status_code == 400 and "location" not in bad.headers
    r = client.get(f"{OIDC}/logout", params={"id_token_hint": tokens["id_token"], "state": "bye-1",
                                             "post_logout_redirect_uri": "http://127.0.0.1:8080/signed-out"})
    assert r.status_code == 302
    assert r.headers["location"] == "http://127.0.0.1:8080/signed-out?state=bye-1"
    r = client.post(f"{OIDC}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    auth=FRONTEND)
    assert r.status_code == 400
    page = client.get(f"{OIDC}/auth", params=auth_params(challenge))  # SSO cookie gone: login form again
    assert page.status_code == 200 and 'name="password"' in page.text


@pytest.mark.unit
def test_userinfo(client):
    body = password_grant(client, "auditor.oversight").json()
    r = client.get(f"{OIDC}/userinfo", headers=bearer(body["access_token"]))
    assert r.status_code == 200
    info = r.json()
    assert info["sub"] == stable_id("user", "auditor.oversight")
    assert info["preferred_username"] == "auditor.oversight"
    assert info["email"] == "auditor.oversight@example.org" and info["email_verified"] is True
    assert info["groups"] == ["/iom/oversight"] and info["locale"] == "en"
    assert "realm_access" not in info and "aud" not in info
    assert client.post(f"{OIDC}/userinfo", headers=bearer(body["access_token"])).status_code == 200
    for token in (None, body["refresh_token"], body["id_token"], "not-a-jwt"):
        r = client.get(f"{OIDC}/userinfo", headers=bearer(token) if token else {})
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_token"
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.unit
def test_introspection(client):
    body = password_grant(client, "caseworker.tulcan").json()
    r = client.post(f"{OIDC}/token/introspect", data={"token": body["access_token"]}, auth=NOTIFY)
    assert r.status_code == 200 and r.json()["active"] is True
    assert r.json()["username"] == "caseworker.tulcan"
    r = client.post(f"{OIDC}/token/introspect", data={"token": "garbage"}, auth=NOTIFY)
    assert r.json() == {"active": False}


# ---------------------------------------------------------------------------- key rotation & dev endpoints

@pytest.mark.unit
def test_key_rotation_and_retirement():
    with TestClient(create_app(REALM_FILE, BASE)) as c:
        old_token = password_grant(c, "caseworker.tulcan").json()["access_token"]
        old_kid = jwt.get_unverified_header(old_token)["kid"]
        r = c.post("/dev/keys/rotate")
        assert r.status_code == 200
        new_kid = r.json()["kid"]
        jwks = jwks_of(c)
        assert [k["kid"] for k in jwks["keys"]] == [old_kid, new_kid]
        new_token = password_grant(c, "caseworker.tulcan").json()["access_token"]
        assert jwt.get_unverified_header(new_token)["kid"] == new_kid
        verify_access_token(jwks, old_token)  # still published, still valid
        verify_access_token(jwks, new_token)

        r = c.post("/dev/keys/retire-old")
        assert r.status_code == 200 and r.json()["retired"] == [old_kid]
        jwks = jwks_of(c)
        assert [k["kid"] for k in jwks["keys"]] == [new_kid]
        with pytest.raises(jwt.InvalidKeyError):
            verify_access_token(jwks, old_token)
        verify_access_token(jwks, new_token)
        assert c.get(f"{OIDC}/userinfo", headers=bearer(old_token)).status_code == 401


@pytest.mark.unit
def test_jwks_fetch_statistics(client):
    client.post("/dev/stats/reset")
    for _ in range(3):
        client.get(f"{OIDC}/certs")
    assert client.get("/dev/stats").json()["jwks_fetches"] == 3


@pytest.mark.unit
def test_dev_endpoints_are_loopback_only(app):
    with TestClient(app, client=("203.0.113.7", 40000)) as remote:
        assert remote.post("/dev/keys/rotate").status_code == 403
        assert remote.post("/dev/keys/retire-old").status_code == 403
        assert remote.get("/dev/stats").status_code == 403
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        assert local.get("/dev/stats").status_code == 200
    with TestClient(app, client=("::1", 40000)) as local6:
        assert local6.get("/dev/stats").status_code == 200


@pytest.mark.unit
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "example.org"])
def test_cli_refuses_non_loopback_hosts(host, capsys):
    assert idp_main(["--realm-file", str(REALM_FILE), "--host", host, "--port", "8180"]) == 2
    assert "loopback only" in capsys.readouterr().err


# ---------------------------------------------------------------------------- admin API (in-process)

@pytest.mark.unit
def test_admin_reads_in_keycloak_shape(client):
    token = client_credentials(client, *NOTIFY).json()["access_token"]
    h = bearer(token)
    top = client.get(f"{ADMIN}/groups", headers=h).json()
    assert [g["name"] for g in top] == ["iom", "government", "civil-society"]
    assert top[0]["subGroupCount"] == 8 and top[0]["subGroups"] == [] and "attributes" not in top[0]
    group = client.get(f"{ADMIN}/group-by-path//civil-society/alas-de-colibri", headers=h).json()
    assert group["path"] == "/civil-society/alas-de-colibri"
    assert group["attributes"]["name_es"] == ["Fundación Alas de Colibrí"]
    assert group["id"] == stable_id("group", "/civil-society/alas-de-colibri")
    members = client.get(f"{ADMIN}/groups/{group['id']}/members", headers=h).json()
    assert {m["username"] for m in members} == {"provider.alas", "caseworker.alas"}
    children = client.get(f"{ADMIN}/groups/{top[1]['id']}/children", headers=h).json()
    assert "msp" in [c["name"] for c in children]
    found = client.get(f"{ADMIN}/users", params={"username": "provider.alas", "exact": "true"}, headers=h).json()
    assert len(found) == 1
    user = client.get(f"{ADMIN}/users/{found[0]['id']}", headers=h).json()
    assert user["email"] == "provider.alas@example.org" and user["attributes"]["locale"] == ["es"]
    assert user["firstName"] and user["lastName"] and user["enabled"] is True
    groups = client.get(f"{ADMIN}/users/{user['id']}/groups", headers=h).json()
    assert [g["path"] for g in groups] == ["/civil-society/alas-de-colibri"]
    auditors = client.get(f"{ADMIN}/roles/auditor/users", headers=h).json()
    assert [u["username"] for u in auditors] == ["auditor.oversight"]
    everyone = client.get(f"{ADMIN}/users", params={"first": 0, "max": 100}, headers=h).json()
    assert {u["username"] for u in everyone} == set(HUMAN_USERS)  # no service accounts, like Keycloak
    assert client.get(f"{ADMIN}/users/{stable_id('user', 'nobody')}", headers=h).status_code == 404
    assert client.get(f"{ADMIN}/group-by-path/no/such/group", headers=h).status_code == 404


@pytest.mark.unit
def test_admin_reads_need_view_users(client):
    assert client.get(f"{ADMIN}/groups").status_code == 401
    for token in (client_credentials(client, *MSP).json()["access_token"],
                  password_grant(client, "admin.directory").json()["access_token"]):
        for path in ("/groups", "/group-by-path/iom/tulcan", "/users", f"/users/{stable_id('user', 'provider.alas')}",
                     "/roles/auditor/users"):
            r = client.get(ADMIN + path, headers=bearer(token))
            assert r.status_code == 403, path
    refresh = password_grant(client, "admin.directory").json()["refresh_token"]
    assert client.get(f"{ADMIN}/users", headers=bearer(refresh)).status_code == 401


# ---------------------------------------------------------------------------- a real process over TCP

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def running_idp(tmp_path_factory):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("dev-idp") / "idp.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "careroute_devstack.idp", "--realm-file", str(REALM_FILE),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"dev IdP exited with {proc.returncode}: {log_path.read_text()}")
            try:
                if httpx.get(f"{base}/realms/careroute/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dev IdP did not start: {log_path.read_text()}")
            time.sleep(0.1)
        yield base, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.integration
def test_real_process_serves_discovery_and_tokens_over_tcp(running_idp):
    base, log_path = running_idp
    issuer = f"{base}/realms/careroute"
    doc = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert doc["issuer"] == issuer and doc["jwks_uri"] == f"{issuer}/protocol/openid-connect/certs"
    assert "not for production" in log_path.read_text(encoding="utf-8").lower()

    httpx.post(f"{base}/dev/stats/reset")
    r = httpx.post(doc["token_endpoint"], data={"grant_type": "password", "client_id": "careroute-cli",
                                                "username": "caseworker.tulcan", "password": PASSWORD})
    assert r.status_code == 200
    token = r.json()["access_token"]
    jwk_client = jwt.PyJWKClient(doc["jwks_uri"], cache_keys=True)
    key = jwk_client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="careroute-referral", issuer=issuer)
    assert claims["preferred_username"] == "caseworker.tulcan" and claims["groups"] == ["/iom/tulcan"]
    assert httpx.get(f"{base}/dev/stats").json()["jwks_fetches"] == 1

    bad = httpx.post(doc["token_endpoint"], data={"grant_type": "client_credentials"}, auth=(MSP[0], "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


@pytest.mark.integration
def test_keycloak_admin_client_reads_the_directory(running_idp):
    from keycloak import KeycloakAdmin

    base, _ = running_idp
    admin = KeycloakAdmin(server_url=base, realm_name="careroute", client_id=NOTIFY[0], client_secret_key=NOTIFY[1],
                          user_realm_name="careroute")
    group = admin.get_group_by_path("/civil-society/alas-de-colibri")
    assert group["attributes"]["name_en"] == ["Alas de Colibrí Foundation"]
    assert group["attributes"]["province"] == ["Pichincha"]
    members = admin.get_group_members(group["id"])
    assert "provider.alas" in {m["username"] for m in members}
    provider = next(m for m in members if m["username"] == "provider.alas")
    user = admin.get_user(provider["id"])
    assert user["email"] == "provider.alas@example.org"
    assert user["attributes"]["locale"] == ["es"]
    assert admin.get_user_id("provider.quimera") == stable_id("user", "provider.quimera")
    quimera = admin.get_user(admin.get_user_id("provider.quimera"))
    assert quimera["attributes"]["locale"] == ["en"]
    assert [g["path"] for g in admin.get_user_groups(provider["id"])] == ["/civil-society/alas-de-colibri"]
    assert [u["username"] for u in admin.get_realm_role_members("government-official")] == [
        "official.ministerio", "official.msp"]
    tree = admin.get_groups(full_hierarchy=True)
    government = next(g for g in tree if g["name"] == "government")
    msp = next(g for g in government["subGroups"] if g["name"] == "msp")
    assert {g["path"] for g in msp["subGroups"]} == {"/government/msp/hospital-tulcan",
                                                     "/government/msp/hospital-lago-agrio",
                                                     "/government/msp/hospital-guayaquil"}
    users = admin.get_users({"search": "provider"})
    assert {u["username"] for u in users} >= {"provider.alas", "provider.quimera", "provider.hias"}


@pytest.mark.integration
def test_keycloak_admin_client_without_view_users_is_refused(running_idp):
    from keycloak import KeycloakAdmin
    from keycloak.exceptions import KeycloakGetError

    base, _ = running_idp
    admin = KeycloakAdmin(server_url=base, realm_name="careroute", client_id=MSP[0], client_secret_key=MSP[1],
                          user_realm_name="careroute")
    with pytest.raises(KeycloakGetError) as err:
        admin.get_group_by_path("/civil-society/alas-de-colibri")
    assert err.value.response_code == 403


@pytest.mark.integration
def test_real_process_refuses_a_non_loopback_host():
    r = subprocess.run([sys.executable, "-m", "careroute_devstack.idp", "--realm-file", str(REALM_FILE),
                        "--host", "0.0.0.0", "--port", str(free_port())],
                       check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "refusing to bind" in r.stderr
