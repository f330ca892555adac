"""OpenID Connect relying party for the confidential client `careroute-frontend`: authorization code
with PKCE S256, state and nonce, ID-token verification against the realm's JWKS, server-side refresh,
back-channel revocation (lock) and RP-initiated logout. Works with Keycloak and the development IdP,
which serve the same paths."""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import jwt
from careroute_platform.auth import JwksCache

from .sessions import LoginTransaction, Tokens, User
from .settings import FrontendSettings


class OidcError(Exception):
    """Login or refresh failed; the message is safe to log (no token content)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    return verifier, challenge


@dataclass
class LoginResult:
    user: User
    tokens: Tokens


class OidcClient:
    def __init__(self, settings: FrontendSettings, http: httpx.Client | None = None) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.http = http or httpx.Client(timeout=10.0)
        self.jwks = JwksCache(self.endpoint("certs"), min_refetch_seconds=30.0, client=self.http)

    def endpoint(self, name: str) -> str:
        # Keycloak's fixed paths (also in its discovery document)
        return f"{self.issuer}/protocol/openid-connect/{name}"

    def ready(self) -> bool:
        return self.jwks.ready()

    # ---------------------------------------------------------------- login

    def begin(self, return_to: str, *, locale: str | None = None, prompt: str | None = None,
              login_hint: str | None = None) -> tuple[LoginTransaction, str]:
        verifier, challenge = pkce_pair()
        tx = LoginTransaction(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                              code_verifier=verifier, return_to=return_to, created=time.time())
        params = {
            "response_type": "code", "client_id": self.settings.oidc_client_id,
            "redirect_uri": self.settings.redirect_uri, "scope": self.settings.oidc_scope,
            "state": tx.state, "nonce": tx.nonce, "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if locale:
            params["ui_locales"] = locale
        if prompt:
            params["prompt"] = prompt
        if login_hint:
            params["login_hint"] = login_hint
        return tx, f"{self.endpoint('auth')}?{urlencode(params)}"

    def _client_auth(self) -> tuple[str, str]:
        return (self.settings.oidc_client_id, self.settings.oidc_client_secret.get_secret_value())

    def _token_request(self, data: dict) -> dict:
        try:
            response = self.http.post(self.endpoint("token"), data=data, auth=self._client_auth())
        except httpx.HTTPError as exc:
            raise OidcError("identity provider unreachable") from exc
        if response.status_code != 200:
            try:
                error = response.json().get("error", "error")
            except ValueError:
                error = "error"
            raise OidcError(f"token endpoint refused: {error}")
        return response.json()

    def finish(self, tx: LoginTransaction, code: str) -> LoginResult:
        body = self._token_request({
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.settings.redirect_uri,
            "code_verifier": tx.code_verifier,
        })
        id_claims = self.verify_id_token(body.get("id_token"), nonce=tx.nonce)
        tokens = self._tokens(body)
        access_claims = self.verify_access_token(tokens.access_token)
        if access_claims.get("sub") != id_claims.get("sub"):
            raise OidcError("access and ID tokens name different users")
        return LoginResult(user=user_from_claims(access_claims), tokens=tokens)

    def refresh(self, tokens: Tokens) -> tuple[Tokens, User]:
        if not tokens.refresh_token:
            raise OidcError("no refresh token")
        body = self._token_request({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
        new = self._tokens(body, previous=tokens)
        return new, user_from_claims(self.verify_access_token(new.access_token))

    def revoke(self, tokens: Tokens | None) -> None:
        """Ends the IdP session behind the tokens (Keycloak's back-channel logout with the refresh
        token), so that the SSO cookie cannot silently log the next person at this computer in."""
        if tokens is None or not tokens.refresh_token:
            return
        try:
            self.http.post(self.endpoint("logout"), data={"refresh_token": tokens.refresh_token},
                           auth=self._client_auth())
        except httpx.HTTPError:
            pass  # the local session is gone anyway; the IdP session times out on its own

    def end_session_url(self, id_token: str | None, *, locale: str | None = None) -> str:
        params = {"client_id": self.settings.oidc_client_id,
                  "post_logout_redirect_uri": self.settings.post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        if locale:
            params["ui_locales"] = locale
        return f"{self.endpoint('logout')}?{urlencode(params)}"

    # ---------------------------------------------------------------- tokens

    def _tokens(self, body: dict, previous: Tokens | None = None) -> Tokens:
        now = time.time()
        if not body.get("access_token"):
            raise OidcError("no access token")
        refresh_in = body.get("refresh_expires_in")
        return Tokens(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token") or (previous.refresh_token if previous else None),
            id_token=body.get("id_token") or (previous.id_token if previous else None),
            access_expires_at=now + int(body.get("expires_in", 60)),
            refresh_expires_at=(now + int(refresh_in)) if refresh_in else None,
        )

    def _decode(self, token: str, **kwargs) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise OidcError("malformed token") from exc
        alg = header.get("alg")
        allowed = [a for a in self.settings.oidc_algorithms if not a.startswith("HS") and a != "none"]
        if alg not in allowed or not isinstance(header.get("kid"), str):
            raise OidcError("token algorithm or key not allowed")
        try:
            key = self.jwks.get(header["kid"])
        except Exception as exc:
            raise OidcError("unknown signing key") from exc
        try:
            return jwt.decode(token, key=key.key, algorithms=[alg], issuer=self.issuer,
                              leeway=self.settings.oidc_leeway_seconds, **kwargs)
        except jwt.PyJWTError as exc:
            raise OidcError(f"token rejected: {type(exc).__name__}") from exc

    def verify_id_token(self, token: str | None, *, nonce: str) -> dict:
        if not token:
            raise OidcError("no ID token")
        claims = self._decode(token, audience=self.settings.oidc_client_id,
                              options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        if claims.get("typ", "ID") != "ID":
            raise OidcError("not an ID token")
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("nonce mismatch")
        azp = claims.get("azp")
        if azp and azp != self.settings.oidc_client_id:
            raise OidcError("ID token issued to another client")
        return claims

    def verify_access_token(self, token: str) -> dict:
        # The services check the audience (each its own); here we check that the token is ours
        # and was issued by the realm for this client.
        claims = self._decode(token, options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub"]})
        if claims.get("typ") != "Bearer" or claims.get("azp") != self.settings.oidc_client_id:
            raise OidcError("not an access token for this client")
        return claims


def user_from_claims(claims: dict) -> User:
    name = claims.get("name") or " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if p)
    return User(
        subject=claims["sub"], username=claims.get("preferred_username", ""),
        name=name or claims.get("preferred_username", ""),
        roles=frozenset((claims.get("realm_access") or {}).get("roles", [])),
        groups=tuple(g for g in claims.get("groups", []) if isinstance(g, str)),
        locale=claims.get("locale"),
    )
