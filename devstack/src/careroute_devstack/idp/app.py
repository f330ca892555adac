"""Development identity provider — NOT FOR PRODUCTION.

Serves Keycloak's paths and token shapes from the same realm export Keycloak imports, so services and
the web front end run against it locally and in tests exactly as they run against Keycloak:

- OIDC discovery, JWKS (with key rotation), token (password, client_credentials, authorization_code with
  PKCE S256, refresh_token), auth (a bilingual login page), logout, userinfo, token introspection;
- the few admin-API reads the notification service makes through python-keycloak's KeycloakAdmin;
- development-only endpoints under /dev (key rotation, fetch statistics), reachable from loopback only.

State (sessions, codes, keys) is in memory: a restart logs everybody out and publishes new keys.
"""
from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import ipaddress
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import jwt
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from .keys import KeyRing
from .realm import Client, Group, Realm, User, uri_allowed

PKCE_VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
PKCE_S256_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
AUTH_SESSION_COOKIE = "AUTH_SESSION_ID"
IDENTITY_COOKIE = "KEYCLOAK_IDENTITY"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
HTML_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
DEFAULT_MAX_RESULTS = 100

TEXTS: dict[str, dict[str, str]] = {
    "es": {
        "page_title": "Iniciar sesión",
        "dev_banner": "Proveedor de identidad de DESARROLLO — no usar en producción",
        "sign_in_to": "Inicie sesión para continuar a",
        "username": "Usuario o correo electrónico",
        "password": "Contraseña",
        "submit": "Iniciar sesión",
        "switch_language": "English",
        "hint": "Solo para desarrollo: los usuarios están en deploy/keycloak/careroute-realm.json.",
        "invalid_credentials": "Usuario o contraseña no válidos.",
        "account_disabled": "La cuenta está deshabilitada. Contacte a su administrador.",
        "account_not_set_up": "La cuenta no está completamente configurada.",
        "session_expired": "Su intento de inicio de sesión expiró. Vuelva a la aplicación e inténtelo de nuevo.",
        "client_not_found": "Cliente no encontrado.",
        "client_disabled": "El cliente está deshabilitado.",
        "invalid_redirect_uri": "Parámetro no válido: redirect_uri",
        "invalid_request": "Solicitud no válida.",
        "logged_out": "Ha cerrado la sesión.",
        "invalid_post_logout_redirect_uri": "URI de redirección posterior al cierre de sesión no válida.",
        "missing_id_token_hint": "Faltan parámetros: id_token_hint",
        "error_title": "Error",
        "logout_title": "Cierre de sesión",
    },
    "en": {
        "page_title": "Sign in",
        "dev_banner": "DEVELOPMENT identity provider — not for production",
        "sign_in_to": "Sign in to continue to",
        "username": "Username or email",
        "password": "Password",
        "submit": "Sign in",
        "switch_language": "Español",
        "hint": "Development only: the users are listed in deploy/keycloak/careroute-realm.json.",
        "invalid_credentials": "Invalid username or password.",
        "account_disabled": "Account is disabled, contact your administrator.",
        "account_not_set_up": "Account is not fully set up.",
        "session_expired": "Your login attempt timed out. Go back to the application and start again.",
        "client_not_found": "Client not found.",
        "client_disabled": "Client disabled.",
        "invalid_redirect_uri": "Invalid parameter: redirect_uri",
        "invalid_request": "Invalid request.",
        "logged_out": "You are logged out.",
        "invalid_post_logout_redirect_uri": "Invalid post logout redirect URI.",
        "missing_id_token_hint": "Missing parameters: id_token_hint",
        "error_title": "Error",
        "logout_title": "Log out",
    },
}


class OAuthError(Exception):
    """An OAuth 2.0 error response, shaped as Keycloak's: {"error": ..., "error_description": ...}."""

    def __init__(self, status: int, error: str, description: str, headers: dict[str, str] | None = None):
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            status_code=self.status,
            headers={**NO_STORE, **self.headers},
        )


class AdminError(Exception):
    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(str(body))
        self.status = status
        self.body = body


class PageError(Exception):
    """An error shown to the browser (no redirect: the redirect URI is not trusted)."""

    def __init__(self, status: int, message_key: str):
        super().__init__(message_key)
        self.status = status
        self.message_key = message_key


class RedirectError(Exception):
    """An authorization error returned to the (validated) redirect URI."""

    def __init__(self, redirect_uri: str, error: str, description: str, state: str | None):
        super().__init__(f"{error}: {description}")
        self.redirect_uri = redirect_uri
        self.error = error
        self.description = description
        self.state = state


@dataclass
class UserSession:
    sid: str
    user_id: str
    started: int
    last_activity: int
    auth_time: int
    acr: str = "1"
    active: bool = True
    clients: set[str] = field(default_factory=set)


@dataclass
class AuthSession:
    id: str
    params: dict[str, str]
    client_id: str
    redirect_uri: str
    locale: str
    expires: int


@dataclass
class CodeGrant:
    code: str
    client_id: str
    redirect_uri: str
    user_id: str
    sid: str
    scope: str
    nonce: str | None
    challenge: str | None
    challenge_method: str | None
    expires: int
    acr: str = "1"


@dataclass
class FailureRecord:
    count: int = 0
    locked_until: int = 0


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _append_query(uri: str, params: dict[str, str | None]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _bool_param(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() == "true"


def _int_param(value: str | None, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        return default


def _page(items: list[Any], first: int | None, max_results: int | None) -> list[Any]:
    start = max(first or 0, 0)
    if max_results is None or max_results < 0:
        return items[start:]
    return items[start:start + max_results]


def is_loopback_address(host: str | None) -> bool:
    if not host:
        return False
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


class DevIdentityProvider:
    """State and behaviour; the FastAPI routes in create_app() are thin wrappers around it."""

    def __init__(self, realm: Realm, issuer_base_url: str, clock: Callable[[], float] | None = None,
                 key_size: int = 2048, keys_file: Path | None = None):
        self.realm = realm
        self.base_url = issuer_base_url.rstrip("/")
        self.issuer = f"{self.base_url}/realms/{realm.name}"
        self.keys = KeyRing(realm.name, key_size=key_size, path=keys_file)
        self._clock = clock or time.time
        self.sessions: dict[str, UserSession] = {}
        self.auth_sessions: dict[str, AuthSession] = {}
        self.codes: dict[str, CodeGrant] = {}
        self.used_codes: dict[str, str] = {}
        self.failures: dict[str, FailureRecord] = {}
        self.cookie_secret = secrets.token_bytes(32)
        self.stats = {"jwks_fetches": 0, "token_requests": 0, "discovery_fetches": 0}
        self.secure_cookies = self.base_url.startswith("https://")
        self.cookie_path = f"/realms/{realm.name}/"

    def now(self) -> int:
        return int(self._clock())

    # ------------------------------------------------------------------ endpoints' URLs

    def endpoint(self, name: str) -> str:
        return f"{self.issuer}/protocol/openid-connect/{name}"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.endpoint("auth"),
            "token_endpoint": self.endpoint("token"),
            "introspection_endpoint": self.endpoint("token/introspect"),
            "userinfo_endpoint": self.endpoint("userinfo"),
            "end_session_endpoint": self.endpoint("logout"),
            "jwks_uri": self.endpoint("certs"),
            "frontchannel_logout_session_supported": False,
            "frontchannel_logout_supported": False,
            "backchannel_logout_supported": False,
            "grant_types_supported": ["authorization_code", "refresh_token", "password", "client_credentials"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "userinfo_signing_alg_values_supported": ["none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
            "scopes_supported": ["openid", *sorted(self.realm.client_scopes)],
            "claims_supported": [
                "aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username",
                "email", "email_verified", "locale", "groups", "acr",
            ],
            "ui_locales_supported": list(self.realm.supported_locales),
        }

    # ------------------------------------------------------------------ sessions

    def new_session(self, user: User, client: Client, acr: str = "1") -> UserSession:
        now = self.now()
        session = UserSession(sid=str(uuid.uuid4()), user_id=user.id, started=now, last_activity=now,
                              auth_time=now, acr=acr, clients={client.client_id})
        self.sessions[session.sid] = session
        return session

    def active_session(self, sid: str | None) -> UserSession | None:
        session = self.sessions.get(sid or "")
        if session is None or not session.active:
            return None
        now = self.now()
        if (now - session.last_activity > self.realm.sso_session_idle_timeout
                or now - session.started > self.realm.sso_session_max_lifespan):
            session.active = False
            return None
        user = self.realm.users_by_id.get(session.user_id)
        if user is None or not user.enabled:
            session.active = False
            return None
        return session

    def end_session(self, sid: str | None) -> bool:
        session = self.sessions.get(sid or "")
        if session is None or not session.active:
            return False
        session.active = False
        return True

    def identity_cookie_value(self, sid: str) -> str:
        mac = hmac.new(self.cookie_secret, sid.encode(), hashlib.sha256).digest()
        return f"{sid}.{_b64url(mac)}"

    def session_from_cookie(self, value: str | None) -> UserSession | None:
        if not value or "." not in value:
            return None
        sid, _, mac = value.rpartition(".")
        expected = self.identity_cookie_value(sid).rpartition(".")[2]
        if not hmac.compare_digest(mac, expected):
            return None
        return self.active_session(sid)

    # ------------------------------------------------------------------ users & brute force

    def check_credentials(self, login: str | None, password: str | None) -> tuple[User | None, str | None]:
        """Returns (user, None) or (None, error key). Keycloak does not reveal which part was wrong."""
        user = self.realm.find_user_for_login(login or "")
        now = self.now()
        if user is None or user.password is None or not password:
            return None, "invalid_credentials"
        record = self.failures.get(user.id)
        if self.realm.brute_force_protected and record and record.locked_until > now:
            return None, "invalid_credentials"
        if not hmac.compare_digest(user.password.encode(), password.encode()):
            if self.realm.brute_force_protected:
                record = self.failures.setdefault(user.id, FailureRecord())
                record.count += 1
                if record.count >= self.realm.failure_factor:
                    steps = record.count // self.realm.failure_factor
                    record.locked_until = now + min(self.realm.wait_increment_seconds * steps,
                                                    self.realm.max_failure_wait_seconds)
            return None, "invalid_credentials"
        if not user.enabled:
            return None, "account_disabled"
        if user.password_temporary or user.required_actions:
            return None, "account_not_set_up"
        self.failures.pop(user.id, None)
        return user, None

    # ------------------------------------------------------------------ tokens

    def _access_claims(self, *, now: int, client: Client, session: UserSession | None, audiences: list[str],
                       mapped: dict[str, Any], scope: str) -> dict[str, Any]:
        claims: dict[str, Any] = {"exp": now + self.realm.access_token_lifespan, "iat": now}
        if "auth_time" in mapped:
            claims["auth_time"] = mapped.pop("auth_time")
        claims["jti"] = str(uuid.uuid4())
        claims["iss"] = self.issuer
        if audiences:
            claims["aud"] = audiences[0] if len(audiences) == 1 else audiences
        if "sub" in mapped:
            claims["sub"] = mapped.pop("sub")
        claims["typ"] = "Bearer"
        claims["azp"] = client.client_id
        if session is not None:
            claims["sid"] = session.sid
        for key in ("acr", "allowed-origins", "realm_access", "resource_access"):
            if key in mapped:
                claims[key] = mapped.pop(key)
        claims["scope"] = scope
        claims.update(mapped)
        return claims

    def issue_tokens(self, *, client: Client, user: User, session: UserSession | None, scope_param: str | None,
                     nonce: str | None = None, notes: dict[str, Any] | None = None,
                     with_refresh: bool = True, with_id_token: bool = True) -> dict[str, Any]:
        now = self.now()
        scopes, openid = self.realm.granted_scopes(client, scope_param)
        scope = self.realm.scope_claim(scopes, openid)
        session_notes = dict(notes or {})
        if session is not None:
            session_notes.setdefault("AUTH_TIME", session.auth_time)
            session_notes.setdefault("acr", session.acr)
            session.clients.add(client.client_id)
        mapped, audiences = self.realm.build_claims(user=user, client=client, scopes=scopes, target="access",
                                                    session_notes=session_notes)
        access_claims = self._access_claims(now=now, client=client, session=session, audiences=audiences,
                                            mapped=mapped, scope=scope)
        access_token = self.keys.sign(access_claims)
        out: dict[str, Any] = {"access_token": access_token, "expires_in": self.realm.access_token_lifespan}
        if with_refresh and session is not None:
            refresh_exp = min(session.last_activity + self.realm.sso_session_idle_timeout,
                              session.started + self.realm.sso_session_max_lifespan)
            refresh_claims = {
                "exp": refresh_exp,
                "iat": now,
                "jti": str(uuid.uuid4()),
                "iss": self.issuer,
                "aud": self.issuer,
                "sub": user.id,
                "typ": "Refresh",
                "azp": client.client_id,
                "sid": session.sid,
                "scope": scope,
            }
            out["refresh_expires_in"] = max(refresh_exp - now, 0)
            out["refresh_token"] = self.keys.sign(refresh_claims)
        else:
            out["refresh_expires_in"] = 0
        out["token_type"] = "Bearer"
        if openid and with_id_token and session is not None:
            id_mapped, id_audiences = self.realm.build_claims(user=user, client=client, scopes=scopes, target="id",
                                                              session_notes=session_notes)
            id_claims: dict[str, Any] = {"exp": now + self.realm.access_token_lifespan, "iat": now}
            if "auth_time" in id_mapped:
                id_claims["auth_time"] = id_mapped.pop("auth_time")
            id_claims["jti"] = str(uuid.uuid4())
            id_claims["iss"] = self.issuer
            aud = [client.client_id] + [a for a in id_audiences if a != client.client_id]
            id_claims["aud"] = aud[0] if len(aud) == 1 else aud
            id_claims["sub"] = user.id
            id_claims["typ"] = "ID"
            id_claims["azp"] = client.client_id
            if nonce:
                id_claims["nonce"] = nonce
            id_claims["sid"] = session.sid
            id_claims["at_hash"] = _b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])
            id_mapped.pop("sub", None)
            id_claims.update(id_mapped)
            out["id_token"] = self.keys.sign(id_claims)
        out["not-before-policy"] = 0
        if session is not None:
            out["session_state"] = session.sid
        out["scope"] = scope
        return out

    def verify_token(self, token: str, expected_typ: str, *, allow_expired: bool = False) -> dict[str, Any]:
        """Verify a token issued here; raises jwt.InvalidTokenError."""
        claims = self.keys.decode(token)
        if claims.get("iss") != self.issuer:
            raise jwt.InvalidIssuerError("wrong issuer")
        if claims.get("typ") != expected_typ:
            raise jwt.InvalidTokenError(f"token type is {claims.get('typ')!r}, expected {expected_typ!r}")
        if not allow_expired and int(claims.get("exp", 0)) <= self.now():
            raise jwt.ExpiredSignatureError("token expired")
        return claims

    # ------------------------------------------------------------------ client authentication

    def authenticate_client(self, request: Request, form: dict[str, str]) -> Client:
        header = request.headers.get("authorization", "")
        client_id = form.get("client_id") or None
        secret = form.get("client_secret") or None
        used_basic = False
        if header[:6].lower() == "basic ":
            used_basic = True
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise self._invalid_client(True) from exc
            basic_id, sep, basic_secret = decoded.partition(":")
            if not sep:
                raise self._invalid_client(True)
            basic_id, basic_secret = unquote(basic_id.replace("+", " ")), unquote(basic_secret.replace("+", " "))
            if client_id and client_id != basic_id:
                raise OAuthError(400, "invalid_request", "Client id in the request body does not match the header")
            client_id, secret = basic_id, basic_secret
        client = self.realm.clients.get(client_id or "")
        if client is None or not client.enabled:
            raise self._invalid_client(used_basic)
        if client.public:
            return client
        if client.bearer_only:
            raise OAuthError(400, "invalid_client", "Bearer-only not allowed")
        if not secret or not client.secret or not hmac.compare_digest(secret.encode(), client.secret.encode()):
            raise self._invalid_client(used_basic)
        return client

    def _invalid_client(self, used_basic: bool) -> OAuthError:
        headers = {"WWW-Authenticate": f'Basic realm="{self.realm.name}"'} if used_basic else {}
        return OAuthError(401, "invalid_client", "Invalid client or Invalid client credentials", headers)

    # ------------------------------------------------------------------ grants

    def token_request(self, request: Request, form: dict[str, str]) -> dict[str, Any]:
        self.stats["token_requests"] += 1
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "Missing form parameter: grant_type")
        if grant_type not in ("password", "client_credentials", "authorization_code", "refresh_token"):
            raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")
        client = self.authenticate_client(request, form)
        if grant_type == "password":
            return self._grant_password(client, form)
        if grant_type == "client_credentials":
            return self._grant_client_credentials(client, form, request)
        if grant_type == "authorization_code":
            return self._grant_authorization_code(client, form)
        return self._grant_refresh(client, form)

    def _grant_password(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        if not client.direct_access_grants:
            raise OAuthError(400, "unauthorized_client", "Client not allowed for direct access grants")
        user, error = self.check_credentials(form.get("username"), form.get("password"))
        if user is None:
            if error == "account_disabled":
                raise OAuthError(400, "invalid_grant", "Account disabled")
            if error == "account_not_set_up":
                raise OAuthError(400, "invalid_grant", "Account is not fully set up")
            raise OAuthError(401, "invalid_grant", "Invalid user credentials")
        session = self.new_session(user, client)
        return self.issue_tokens(client=client, user=user, session=session, scope_param=form.get("scope"))

    def _grant_client_credentials(self, client: Client, form: dict[str, str], request: Request) -> dict[str, Any]:
        if client.public:
            raise OAuthError(400, "unauthorized_client", "Public client not allowed to retrieve service account")
        if not client.service_accounts:
            raise OAuthError(400, "unauthorized_client", "Client not enabled to retrieve service account")
        user = self.realm.service_account_user(client.client_id)
        if user is None or not user.enabled:
            raise OAuthError(400, "invalid_request", "Service account user not found or disabled")
        host = request.client.host if request.client else "127.0.0.1"
        notes = {"client_id": client.client_id, "clientHost": host, "clientAddress": host}
        return self.issue_tokens(client=client, user=user, session=None, scope_param=form.get("scope"),
                                 notes=notes, with_refresh=False, with_id_token=False)

    def _grant_authorization_code(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        if not client.standard_flow:
            raise OAuthError(400, "unauthorized_client", "Client not allowed to exchange code")
        code = form.get("code")
        if not code:
            raise OAuthError(400, "invalid_request", "Missing parameter: code")
        grant = self.codes.pop(code, None)  # consumed by its first presentation, whatever happens next
        if grant is None:
            reused_sid = self.used_codes.get(code)
            if reused_sid is not None:
                # RFC 6749 §4.1.2: a code used twice revokes what it produced (Keycloak detaches the session)
                self.end_session(reused_sid)
            raise OAuthError(400, "invalid_grant", "Code not valid")
        self._remember_used_code(code, grant.sid)
        if grant.expires < self.now():
            raise OAuthError(400, "invalid_grant", "Code is expired")
        if grant.client_id != client.client_id:
            raise OAuthError(400, "invalid_grant", "Code not valid")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError(400, "invalid_grant", "Incorrect redirect_uri")
        if grant.challenge:
            verifier = form.get("code_verifier")
            if not verifier:
                raise OAuthError(400, "invalid_grant", "PKCE code verifier not specified")
            if not PKCE_VERIFIER_RE.match(verifier):
                raise OAuthError(400, "invalid_grant", "PKCE invalid code verifier")
            computed = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
            if not hmac.compare_digest(computed, grant.challenge):
                raise OAuthError(400, "invalid_grant", "PKCE verification failed: Code mismatch")
        session = self.active_session(grant.sid)
        if session is None:
            raise OAuthError(400, "invalid_grant", "Session not active")
        user = self.realm.users_by_id[grant.user_id]
        return self.issue_tokens(client=client, user=user, session=session, scope_param=grant.scope,
                                 nonce=grant.nonce, notes={"acr": grant.acr})

    def _remember_used_code(self, code: str, sid: str) -> None:
        self.used_codes[code] = sid
        if len(self.used_codes) > 10_000:
            for old in list(self.used_codes)[:1_000]:
                del self.used_codes[old]

    def _grant_refresh(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token")
        if not token:
            raise OAuthError(400, "invalid_request", "Missing parameter: refresh_token")
        try:
            claims = self.verify_token(token, "Refresh", allow_expired=True)
        except jwt.PyJWTError as exc:
            raise OAuthError(400, "invalid_grant", "Invalid refresh token") from exc
        if int(claims.get("exp", 0)) <= self.now():
            raise OAuthError(400, "invalid_grant", "Token is not active")
        if claims.get("azp") != client.client_id:
            raise OAuthError(400, "invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
        session = self.active_session(claims.get("sid"))
        if session is None or session.user_id != claims.get("sub"):
            raise OAuthError(400, "invalid_grant", "Session not active")
        session.last_activity = self.now()
        user = self.realm.users_by_id[session.user_id]
        return self.issue_tokens(client=client, user=user, session=session, scope_param=claims.get("scope", ""))

    # ------------------------------------------------------------------ authorization endpoint

    def validate_authorization_request(self, params: dict[str, str]) -> tuple[Client, str]:
        client = self.realm.clients.get(params.get("client_id") or "")
        if client is None:
            raise PageError(400, "client_not_found")
        if not client.enabled:
            raise PageError(400, "client_disabled")
        if client.bearer_only:
            raise PageError(400, "invalid_request")
        redirect_uri = params.get("redirect_uri")
        if not uri_allowed(client.redirect_uris, redirect_uri):
            raise PageError(400, "invalid_redirect_uri")
        assert redirect_uri is not None
        state = params.get("state")

        def fail(error: str, description: str) -> RedirectError:
            return RedirectError(redirect_uri, error, description, state)

        if params.get("response_mode", "query") != "query":
            raise fail("invalid_request", "Invalid parameter: response_mode")
        response_type = params.get("response_type")
        if not response_type:
            raise fail("invalid_request", "Missing parameter: response_type")
        if response_type != "code":
            raise fail("unsupported_response_type", "Client is not allowed to initiate browser login with given "
                       "response_type. Only the authorization code flow is supported.")
        if not client.standard_flow:
            raise fail("unauthorized_client", "Client is not allowed to initiate browser login with given "
                       "response_type. Standard flow is disabled for the client.")
        method = params.get("code_challenge_method")
        challenge = params.get("code_challenge")
        if client.pkce_method:
            if not method:
                raise fail("invalid_request", "Missing parameter: code_challenge_method")
            if method != client.pkce_method:
                raise fail("invalid_request", "Invalid parameter: code challenge method is not matching the "
                           "configured one")
            if not challenge:
                raise fail("invalid_request", "Missing parameter: code_challenge")
        if challenge:
            if (method or "plain") != "S256":
                raise fail("invalid_request", "Invalid parameter: code_challenge_method")
            if not PKCE_S256_CHALLENGE_RE.match(challenge):
                raise fail("invalid_request", "Invalid parameter: code_challenge")
        elif method:
            raise fail("invalid_request", "Missing parameter: code_challenge")
        return client, redirect_uri

    def start_auth_session(self, client: Client, redirect_uri: str, params: dict[str, str], locale: str) -> AuthSession:
        now = self.now()
        for key in [k for k, a in self.auth_sessions.items() if a.expires < now]:
            del self.auth_sessions[key]
        auth = AuthSession(id=secrets.token_urlsafe(32), params=dict(params), client_id=client.client_id,
                           redirect_uri=redirect_uri, locale=locale,
                           expires=now + self.realm.access_code_lifespan_login)
        self.auth_sessions[auth.id] = auth
        return auth

    def issue_code(self, client: Client, redirect_uri: str, params: dict[str, str], session: UserSession,
                   acr: str = "1") -> str:
        now = self.now()
        for key in [k for k, g in self.codes.items() if g.expires < now]:
            del self.codes[key]
        code = secrets.token_urlsafe(32)
        self.codes[code] = CodeGrant(
            code=code,
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            user_id=session.user_id,
            sid=session.sid,
            scope=params.get("scope", ""),
            nonce=params.get("nonce") or None,
            challenge=params.get("code_challenge") or None,
            challenge_method=params.get("code_challenge_method") or None,
            expires=now + self.realm.access_code_lifespan,
            acr=acr,
        )
        session.clients.add(client.client_id)
        return code

    def code_redirect(self, client: Client, redirect_uri: str, params: dict[str, str], session: UserSession,
                      acr: str = "1") -> str:
        code = self.issue_code(client, redirect_uri, params, session, acr)
        return _append_query(redirect_uri, {
            "state": params.get("state"),
            "session_state": session.sid,
            "iss": self.issuer,
            "code": code,
        })

    def pick_locale(self, request: Request, params: dict[str, str]) -> str:
        supported = self.realm.supported_locales
        candidates: list[str] = []
        if params.get("kc_locale"):
            candidates.append(params["kc_locale"])
        candidates += (params.get("ui_locales") or "").split()
        for part in request.headers.get("accept-language", "").split(","):
            tag = part.split(";")[0].strip()
            if tag:
                candidates.append(tag)
        for candidate in candidates:
            base = candidate.split("-")[0].split("_")[0].lower()
            if base in supported and base in TEXTS:
                return base
        return self.realm.default_locale if self.realm.default_locale in TEXTS else "en"

    # ------------------------------------------------------------------ admin API

    def admin_principal(self, request: Request) -> dict[str, Any]:
        header = request.headers.get("authorization", "")
        if header[:7].lower() != "bearer ":
            raise AdminError(401, {"error": "HTTP 401 Unauthorized"})
        try:
            claims = self.verify_token(header[7:].strip(), "Bearer")
        except jwt.PyJWTError as exc:
            raise AdminError(401, {"error": "HTTP 401 Unauthorized"}) from exc
        if claims.get("sid") and self.active_session(claims["sid"]) is None:
            raise AdminError(401, {"error": "HTTP 401 Unauthorized"})
        return claims

    @staticmethod
    def require_admin_roles(claims: dict[str, Any], *, any_of: tuple[str, ...] = (), all_of: tuple[str, ...] = ()) -> None:
        roles = set(((claims.get("resource_access") or {}).get("realm-management") or {}).get("roles") or [])
        if any_of and not roles.intersection(any_of):
            raise AdminError(403, {"error": "HTTP 403 Forbidden"})
        if all_of and not set(all_of) <= roles:
            raise AdminError(403, {"error": "HTTP 403 Forbidden"})

    @staticmethod
    def group_rep(group: Group, brief: bool) -> dict[str, Any]:
        rep: dict[str, Any] = {"id": group.id, "name": group.name, "path": group.path}
        if group.parent is not None:
            rep["parentId"] = group.parent.id
        rep["subGroupCount"] = len(group.children)
        rep["subGroups"] = []
        if not brief:
            rep["attributes"] = {k: list(v) for k, v in group.attributes.items()}
            rep["realmRoles"] = list(group.realm_roles)
            rep["clientRoles"] = {k: list(v) for k, v in group.client_roles.items()}
        rep["access"] = {"view": True, "viewMembers": True, "manageMembers": False, "manage": False,
                         "manageMembership": False}
        return rep

    @staticmethod
    def user_rep(user: User, brief: bool) -> dict[str, Any]:
        rep: dict[str, Any] = {"id": user.id, "username": user.username}
        if user.first_name is not None:
            rep["firstName"] = user.first_name
        if user.last_name is not None:
            rep["lastName"] = user.last_name
        if user.email is not None:
            rep["email"] = user.email
        rep["emailVerified"] = user.email_verified
        if not brief and user.attributes:
            rep["attributes"] = {k: list(v) for k, v in user.attributes.items()}
        if user.created_timestamp:
            rep["createdTimestamp"] = user.created_timestamp
        rep["enabled"] = user.enabled
        rep["totp"] = False
        rep["disableableCredentialTypes"] = []
        rep["requiredActions"] = list(user.required_actions)
        rep["notBefore"] = 0
        if not brief:
            rep["access"] = {"manageGroupMembership": False, "view": True, "mapRoles": False, "impersonate": False,
                             "manage": False}
        return rep

    def search_users(self, q: dict[str, str]) -> list[User]:
        users = [u for u in self.realm.users.values() if not u.service_account_client_id]
        exact = _bool_param(q.get("exact"), False)

        def field_match(value: str | None, wanted: str) -> bool:
            if value is None:
                return False
            return value.lower() == wanted.lower() if exact else wanted.lower() in value.lower()

        for param, getter in (("username", lambda u: u.username), ("email", lambda u: u.email),
                              ("firstName", lambda u: u.first_name), ("lastName", lambda u: u.last_name)):
            wanted = q.get(param)
            if wanted is not None and wanted != "":
                users = [u for u in users if field_match(getter(u), wanted)]
        search = (q.get("search") or "").strip()
        if search and search != "*":
            if len(search) > 1 and search.startswith('"') and search.endswith('"'):
                term = search[1:-1].lower()

                def matches(v: str) -> bool:
                    return v == term
            elif "*" in search:
                pattern = search.lower()

                def matches(v: str) -> bool:
                    return fnmatch.fnmatchcase(v, pattern)
            else:
                term = search.lower()

                def matches(v: str) -> bool:
                    return v.startswith(term)
            users = [u for u in users if any(
                v is not None and matches(v.lower()) for v in (u.username, u.email, u.first_name, u.last_name))]
        if q.get("enabled") is not None:
            users = [u for u in users if u.enabled == _bool_param(q.get("enabled"), True)]
        if q.get("emailVerified") is not None:
            users = [u for u in users if u.email_verified == _bool_param(q.get("emailVerified"), True)]
        if q.get("q"):
            for pair in q["q"].split(" "):
                key, _, value = pair.partition(":")
                if key:
                    users = [u for u in users if value in (u.attributes.get(key) or [])]
        return sorted(users, key=lambda u: u.username)

    def search_groups(self, groups: list[Group], search: str, exact: bool) -> list[dict[str, Any]]:
        """Keycloak's group search: the matching groups within their hierarchy (subGroups populated)."""

        def name_matches(g: Group) -> bool:
            return g.name.lower() == search.lower() if exact else search.lower() in g.name.lower()

        def prune(g: Group) -> dict[str, Any] | None:
            children = [c for c in (prune(child) for child in g.children) if c is not None]
            if not name_matches(g) and not children:
                return None
            rep = self.group_rep(g, brief=False)
            rep["subGroups"] = children
            return rep

        return [r for r in (prune(g) for g in groups) if r is not None]


# ---------------------------------------------------------------------------- the FastAPI application

def create_app(realm_file: Path, issuer_base_url: str, *, clock: Callable[[], float] | None = None,
               key_size: int = 2048, keys_file: Path | None = None) -> FastAPI:
    """The development identity provider for the realm in `realm_file`, issuing `{base}/realms/{realm}`."""
    realm = Realm.load(realm_file)
    idp = DevIdentityProvider(realm, issuer_base_url, clock=clock, key_size=key_size, keys_file=keys_file)
    templates = Environment(
        loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=select_autoescape(["html"]),
    )
    app = FastAPI(title="Care Route development identity provider (NOT FOR PRODUCTION)",
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.idp = idp
    oidc = "/realms/{realm_name}/protocol/openid-connect"

    @app.exception_handler(OAuthError)
    async def _oauth_error(_: Request, exc: OAuthError) -> Response:
        return exc.response()

    @app.exception_handler(AdminError)
    async def _admin_error(_: Request, exc: AdminError) -> Response:
        return JSONResponse(exc.body, status_code=exc.status)

    def check_realm(name: str) -> None:
        if name != realm.name:
            raise AdminError(404, {"error": "Realm does not exist"})

    async def form_of(request: Request) -> dict[str, str]:
        if request.method != "POST":
            return {}
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise OAuthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def render(status: int, *, locale: str, mode: str, **context: Any) -> HTMLResponse:
        t = TEXTS[locale]
        html = templates.get_template("login.html").render(
            lang=locale, t=t, mode=mode, realm_display=realm.display_name, **context)
        return HTMLResponse(html, status_code=status, headers=HTML_SECURITY_HEADERS)

    def message_page(status: int, locale: str, key: str, *, is_error: bool = True) -> HTMLResponse:
        title_key = "error_title" if is_error else "logout_title"
        return render(status, locale=locale, mode="message", message=TEXTS[locale][key], is_error=is_error,
                      title=TEXTS[locale][title_key], switch_url=None)

    def login_page(request: Request, client: Client, auth, *, error_key: str | None = None,
                   username: str = "") -> HTMLResponse:
        locale = auth.locale
        other = next((lo for lo in realm.supported_locales if lo != locale and lo in TEXTS), None)
        switch_url = None
        if other:
            switch_params = {k: v for k, v in auth.params.items() if k != "kc_locale"}
            switch_params["kc_locale"] = other
            switch_url = f"{request.url.path}?{urlencode(switch_params)}"
        response = render(
            200, locale=locale, mode="form", title=TEXTS[locale]["page_title"],
            client_name=client.name or client.client_id, action=request.url.path, session_code=auth.id,
            error=TEXTS[locale][error_key] if error_key else None, username=username,
            switch_url=switch_url, other_lang=other,
        )
        response.set_cookie(AUTH_SESSION_COOKIE, auth.id, httponly=True, samesite="lax",
                            secure=idp.secure_cookies, path=idp.cookie_path,
                            max_age=realm.access_code_lifespan_login)
        return response

    def set_identity_cookie(response: Response, session: UserSession) -> None:
        response.set_cookie(IDENTITY_COOKIE, idp.identity_cookie_value(session.sid), httponly=True,
                            samesite="lax", secure=idp.secure_cookies, path=idp.cookie_path)

    def require_loopback(request: Request) -> None:
        host = request.client.host if request.client else None
        # "testclient" is the peer name Starlette's in-process TestClient uses; no TCP peer can have it.
        if host != "testclient" and not is_loopback_address(host):
            raise AdminError(403, {"error": "development endpoints are reachable from loopback only"})

    # ------------------------------------------------------------------ discovery & keys

    @app.get("/realms/{realm_name}/.well-known/openid-configuration")
    async def discovery(realm_name: str) -> JSONResponse:
        check_realm(realm_name)
        idp.stats["discovery_fetches"] += 1
        return JSONResponse(idp.discovery())

    @app.get(oidc + "/certs")
    async def certs(realm_name: str) -> JSONResponse:
        check_realm(realm_name)
        idp.stats["jwks_fetches"] += 1
        return JSONResponse(idp.keys.jwks(), headers={"Cache-Control": "no-cache"})

    @app.get("/realms/{realm_name}")
    async def realm_info(realm_name: str) -> JSONResponse:
        check_realm(realm_name)
        return JSONResponse({"realm": realm.name, "token-service": f"{idp.issuer}/protocol/openid-connect",
                             "account-service": f"{idp.issuer}/account", "tokens-not-before": 0})

    # ------------------------------------------------------------------ token, introspection, userinfo

    @app.post(oidc + "/token")
    async def token(realm_name: str, request: Request) -> JSONResponse:
        check_realm(realm_name)
        form = await form_of(request)
        return JSONResponse(idp.token_request(request, form), headers=NO_STORE)

    @app.post(oidc + "/token/introspect")
    async def introspect(realm_name: str, request: Request) -> JSONResponse:
        check_realm(realm_name)
        form = await form_of(request)
        client = idp.authenticate_client(request, form)
        if client.public:
            raise OAuthError(403, "invalid_request", "Client not allowed.")
        token_value = form.get("token") or ""
        hint = form.get("token_type_hint")
        claims = None
        for typ in (("Refresh", "Bearer") if hint == "refresh_token" else ("Bearer", "Refresh", "ID")):
            try:
                claims = idp.verify_token(token_value, typ)
                break
            except jwt.PyJWTError:
                continue
        if claims is None or (claims.get("sid") and idp.active_session(claims["sid"]) is None):
            return JSONResponse({"active": False}, headers=NO_STORE)
        out = dict(claims)
        out.update({"client_id": claims.get("azp"), "username": claims.get("preferred_username"),
                    "token_type": claims.get("typ"), "active": True})
        return JSONResponse(out, headers=NO_STORE)

    @app.api_route(oidc + "/userinfo", methods=["GET", "POST"])
    async def userinfo(realm_name: str, request: Request) -> JSONResponse:
        check_realm(realm_name)
        header = request.headers.get("authorization", "")
        token_value = header[7:].strip() if header[:7].lower() == "bearer " else None
        if token_value is None and request.method == "POST":
            token_value = (await form_of(request)).get("access_token")

        def unauthorized(description: str) -> JSONResponse:
            return JSONResponse(
                {"error": "invalid_token", "error_description": description}, status_code=401,
                headers={**NO_STORE, "WWW-Authenticate":
                         f'Bearer realm="{realm.name}", error="invalid_token", error_description="{description}"'})

        if not token_value:
            return unauthorized("Missing token")
        try:
            claims = idp.verify_token(token_value, "Bearer")
        except jwt.PyJWTError:
            return unauthorized("Token verification failed")
        user = realm.users_by_id.get(claims.get("sub", ""))
        client = realm.clients.get(claims.get("azp", ""))
        if user is None or client is None or not user.enabled:
            return unauthorized("User not found")
        if claims.get("sid") and idp.active_session(claims["sid"]) is None:
            return unauthorized("User session not found or doesn't have client attached on it")
        scopes, _ = realm.granted_scopes(client, claims.get("scope", ""))
        notes = {"client_id": client.client_id} if user.service_account_client_id else {}
        mapped, _ = realm.build_claims(user=user, client=client, scopes=scopes, target="userinfo",
                                       session_notes=notes)
        mapped.pop("sub", None)
        return JSONResponse({"sub": user.id, **mapped}, headers=NO_STORE)

    # ------------------------------------------------------------------ browser login

    @app.api_route(oidc + "/auth", methods=["GET", "POST"])
    async def authorize(realm_name: str, request: Request) -> Response:
        check_realm(realm_name)
        form = await form_of(request) if request.method == "POST" else {}
        if "session_code" in form:
            return await login_submit(request, form)
        params = dict(request.query_params) if request.method == "GET" else form
        locale = idp.pick_locale(request, params)
        try:
            client, redirect_uri = idp.validate_authorization_request(params)
        except PageError as exc:
            return message_page(exc.status, locale, exc.message_key)
        except RedirectError as exc:
            return RedirectResponse(_append_query(exc.redirect_uri, {
                "error": exc.error, "error_description": exc.description, "state": exc.state, "iss": idp.issuer,
            }), status_code=302)
        prompts = set((params.get("prompt") or "").split())
        sso = idp.session_from_cookie(request.cookies.get(IDENTITY_COOKIE))
        if sso is not None and "login" not in prompts:
            sso.last_activity = idp.now()
            # authenticated by the SSO cookie, not by credentials now: Keycloak says acr "0"
            response = RedirectResponse(idp.code_redirect(client, redirect_uri, params, sso, acr="0"),
                                        status_code=302)
            set_identity_cookie(response, sso)
            return response
        if "none" in prompts:
            return RedirectResponse(_append_query(redirect_uri, {
                "error": "login_required", "error_description": "Login required", "state": params.get("state"),
                "iss": idp.issuer,
            }), status_code=302)
        auth = idp.start_auth_session(client, redirect_uri, params, locale)
        return login_page(request, client, auth, username=params.get("login_hint", ""))

    async def login_submit(request: Request, form: dict[str, str]) -> Response:
        session_code = form.get("session_code", "")
        cookie = request.cookies.get(AUTH_SESSION_COOKIE, "")
        auth = idp.auth_sessions.get(session_code)
        locale = auth.locale if auth else idp.pick_locale(request, {})
        if (auth is None or not cookie or not hmac.compare_digest(cookie.encode(), session_code.encode())
                or auth.expires < idp.now()):
            return message_page(400, locale, "session_expired")
        client = realm.clients.get(auth.client_id)
        if client is None or not client.enabled:
            return message_page(400, locale, "client_not_found")
        user, error = idp.check_credentials(form.get("username"), form.get("password"))
        if user is None:
            return login_page(request, client, auth, error_key=error, username=form.get("username", ""))
        del idp.auth_sessions[auth.id]
        session = idp.new_session(user, client, acr="1")
        response = RedirectResponse(idp.code_redirect(client, auth.redirect_uri, auth.params, session),
                                    status_code=302)
        set_identity_cookie(response, session)
        response.delete_cookie(AUTH_SESSION_COOKIE, path=idp.cookie_path)
        return response

    # ------------------------------------------------------------------ logout

    @app.api_route(oidc + "/logout", methods=["GET", "POST"])
    async def logout(realm_name: str, request: Request) -> Response:
        check_realm(realm_name)
        form = await form_of(request) if request.method == "POST" else {}
        if request.method == "POST" and "refresh_token" in form:
            # back-channel logout with a refresh token (what python-keycloak's logout() does)
            client = idp.authenticate_client(request, form)
            try:
                claims = idp.verify_token(form["refresh_token"], "Refresh", allow_expired=True)
            except jwt.PyJWTError as exc:
                raise OAuthError(400, "invalid_grant", "Invalid refresh token") from exc
            if claims.get("azp") != client.client_id:
                raise OAuthError(400, "invalid_grant", "Invalid refresh token")
            idp.end_session(claims.get("sid"))
            return Response(status_code=204, headers=NO_STORE)

        params = {**dict(request.query_params), **form}
        locale = idp.pick_locale(request, params)
        hint_claims = None
        if params.get("id_token_hint"):
            try:
                hint_claims = idp.verify_token(params["id_token_hint"], "ID", allow_expired=True)
            except jwt.PyJWTError:
                return message_page(400, locale, "invalid_request")
        client = None
        client_id = params.get("client_id")
        if hint_claims is not None:
            aud = hint_claims.get("aud")
            hint_client = aud if isinstance(aud, str) else (aud or [None])[0]
            if client_id and client_id != hint_client:
                return message_page(400, locale, "invalid_request")
            client_id = hint_client
        if client_id:
            client = realm.clients.get(client_id)
            if client is None:
                return message_page(400, locale, "client_not_found")
        redirect = params.get("post_logout_redirect_uri")
        if redirect:
            if client is None:
                return message_page(400, locale, "missing_id_token_hint")
            if not uri_allowed(client.post_logout_redirect_uris(), redirect):
                return message_page(400, locale, "invalid_post_logout_redirect_uri")
        if hint_claims is not None:
            idp.end_session(hint_claims.get("sid"))
        cookie_session = idp.session_from_cookie(request.cookies.get(IDENTITY_COOKIE))
        if cookie_session is not None:
            idp.end_session(cookie_session.sid)
        if redirect:
            response: Response = RedirectResponse(_append_query(redirect, {"state": params.get("state")}),
                                                  status_code=302)
        else:
            response = message_page(200, locale, "logged_out", is_error=False)
        response.delete_cookie(IDENTITY_COOKIE, path=idp.cookie_path)
        return response

    # ------------------------------------------------------------------ admin API (read-only subset)

    admin = "/admin/realms/{realm_name}"

    def admin_auth(request: Request, realm_name: str) -> dict[str, Any]:
        check_realm(realm_name)
        return idp.admin_principal(request)

    @app.get(admin + "/groups")
    async def admin_groups(realm_name: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        idp.require_admin_roles(claims, any_of=("query-groups", "view-users", "manage-users"))
        q = request.query_params
        first, max_results = _int_param(q.get("first"), None), _int_param(q.get("max"), None)
        if q.get("search") is not None:
            reps = idp.search_groups(realm.top_groups, q["search"].strip(), _bool_param(q.get("exact"), False))
            return JSONResponse(_page(reps, first, max_results))
        brief = _bool_param(q.get("briefRepresentation"), True)
        reps = [idp.group_rep(g, brief) for g in realm.top_groups]
        return JSONResponse(_page(reps, first, max_results))

    @app.get(admin + "/groups/count")
    async def admin_groups_count(realm_name: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        idp.require_admin_roles(claims, any_of=("query-groups", "view-users", "manage-users"))
        top = _bool_param(request.query_params.get("top"), False)
        return JSONResponse({"count": len(realm.top_groups) if top else len(realm.groups_by_id)})

    def group_or_404(group_id: str) -> Group:
        group = realm.groups_by_id.get(group_id)
        if group is None:
            raise AdminError(404, {"error": "Could not find group by id"})
        return group

    @app.get(admin + "/groups/{group_id}")
    async def admin_group(realm_name: str, group_id: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        idp.require_admin_roles(claims, any_of=("view-users", "manage-users"))
        return JSONResponse(idp.group_rep(group_or_404(group_id), brief=False))

    @app.get(admin + "/groups/{group_id}/children")
    async def admin_group_children(realm_name: str, group_id: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        idp.require_admin_roles(claims, any_of=("view-users", "manage-users"))
        group = group_or_404(group_id)
        q = request.query_params
        brief = _bool_param(q.get("briefRepresentation"), False)
        children = group.children
        if q.get("search"):
            exact = _bool_param(q.get("exact"), False)
            term = q["search"].lower()
            children = [c for c in children if (c.name.lower() == term if exact else term in c.name.lower())]
        reps = [idp.group_rep(c, brief) for c in children]
        return JSONResponse(_page(reps, _int_param(q.get("first"), 0), _int_param(q.get("max"), 10)))

    @app.get(admin + "/groups/{group_id}/members")
    async def admin_group_members(realm_name: str, group_id: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        idp.require_admin_roles(claims, any_of=("view-users", "manage-users"))
        group = group_or_404(group_id)
        q = request.query_params
        brief = _bool_param(q.get("briefRepresentation"), False)
        members = sorted((u for u in realm.users.values() if group.path in u.group_paths), key=lambda u: u.username)
        reps = [idp.user_rep(u, brief) for u in members]
        return JSONResponse(_page(reps, _int_param(q.get("first"), 0), _int_param(q.get("max"), DEFAULT_MAX_RESULTS)))

    @app.get(admin + "/group-by-path/{group_path:path}")
    async def admin_group_by_path(realm_name: str, group_path: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        idp.require_admin_roles(claims, any_of=("view-users", "manage-users"))
        path = "/" + unquote(group_path).strip("/")
        group = realm.groups_by_path.get(path)
        if group is None:
            raise AdminError(404, {"error": "Group path does not exist"})
        return JSONResponse(idp.group_rep(group, brief=False))

    @app.get(admin + "/users")
    async def admin_users(realm_name: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        idp.require_admin_roles(claims, any_of=("view-users", "manage-users"))
        q = dict(request.query_params)
        brief = _bool_param(q.get("briefRepresentation"), False)
        users = idp.search_users(q)
        reps = [idp.user_rep(u, brief) for u in users]
        return JSONResponse(_page(reps, _int_param(q.get("first"), 0), _int_param(q.get("max"), DEFAULT_MAX_RESULTS)))

    @app.get(admin + "/users/count")
    async def admin_users_count(realm_name: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        idp.require_admin_roles(claims, any_of=("view-users", "manage-users"))
        return JSONResponse(len(idp.search_users(dict(request.query_params))))

    def user_or_404(user_id: str) -> User:
        user = realm.users_by_id.get(user_id)
        if user is None:
            raise AdminError(404, {"error": "User not found"})
        return user

    @app.get(admin + "/users/{user_id}")
    async def admin_user(realm_name: str, user_id: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        idp.require_admin_roles(claims, any_of=("view-users", "manage-users"))
        return JSONResponse(idp.user_rep(user_or_404(user_id), brief=False))

    @app.get(admin + "/users/{user_id}/groups")
    async def admin_user_groups(realm_name: str, user_id: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        idp.require_admin_roles(claims, any_of=("view-users", "manage-users"))
        user = user_or_404(user_id)
        q = request.query_params
        brief = _bool_param(q.get("briefRepresentation"), True)
        groups = [realm.groups_by_path[p] for p in user.group_paths]
        if q.get("search"):
            groups = [g for g in groups if q["search"].lower() in g.name.lower()]
        reps = [idp.group_rep(g, brief) for g in groups]
        return JSONResponse(_page(reps, _int_param(q.get("first"), 0), _int_param(q.get("max"), DEFAULT_MAX_RESULTS)))

    @app.get(admin + "/roles/{role_name}/users")
    async def admin_role_users(realm_name: str, role_name: str, request: Request) -> JSONResponse:
        claims = admin_auth(request, realm_name)
        # Keycloak: view the realm's roles (view-realm) and query users
        idp.require_admin_roles(claims, any_of=("view-realm", "manage-realm"))
        idp.require_admin_roles(claims, any_of=("query-users", "view-users", "manage-users"))
        if role_name not in realm.realm_roles:
            raise AdminError(404, {"error": "Could not find role"})
        q = request.query_params
        brief = _bool_param(q.get("briefRepresentation"), False)
        members = sorted(realm.direct_role_members(role_name), key=lambda u: u.username)
        reps = [idp.user_rep(u, brief) for u in members]
        return JSONResponse(_page(reps, _int_param(q.get("first"), 0), _int_param(q.get("max"), DEFAULT_MAX_RESULTS)))

    # ------------------------------------------------------------------ development-only endpoints

    @app.post("/dev/keys/rotate")
    async def dev_rotate(request: Request) -> JSONResponse:
        require_loopback(request)
        key = idp.keys.rotate()
        return JSONResponse({"kid": key.kid, "keys": idp.keys.kids()})

    @app.post("/dev/keys/retire-old")
    async def dev_retire_old(request: Request) -> JSONResponse:
        require_loopback(request)
        retired = idp.keys.retire_old()
        return JSONResponse({"kid": idp.keys.current.kid, "retired": retired, "keys": idp.keys.kids()})

    @app.get("/dev/stats")
    async def dev_stats(request: Request) -> JSONResponse:
        require_loopback(request)
        active = sum(1 for s in list(idp.sessions.values()) if idp.active_session(s.sid) is not None)
        return JSONResponse({**idp.stats, "active_sessions": active, "keys": idp.keys.kids()})

    @app.post("/dev/stats/reset")
    async def dev_stats_reset(request: Request) -> JSONResponse:
        require_loopback(request)
        for key in idp.stats:
            idp.stats[key] = 0
        return JSONResponse(idp.stats)

    # ------------------------------------------------------------------ health (Keycloak serves these too)

    @app.get("/health/ready")
    @app.get("/health/live")
    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "UP", "checks": []})

    return app
