"""Token verification and the caller's identity.

Every HTTP request carries a Keycloak-issued JWT, verified here against the realm's JWKS:
signature with an algorithm allow-list, `iss`, `aud`, `azp`, `typ == Bearer`, `exp`/`nbf` with a
small leeway. Unknown `kid`s trigger at most one JWKS refetch per interval, so a flood of random
key ids cannot turn the service into a amplifier against the identity provider."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum

import httpx
import jwt
from jwt import PyJWK

ORGANISATION_KINDS = ("iom", "government", "civil-society")


class OrganisationKind(StrEnum):
    IOM = "iom"
    GOVERNMENT = "government"
    CIVIL_SOCIETY = "civil-society"


class AuthenticationError(Exception):
    """The token is not acceptable. The message is safe to log (no token content)."""


@dataclass(frozen=True)
class Principal:
    subject: str
    username: str
    roles: frozenset[str]
    groups: tuple[str, ...]
    client_id: str
    is_service_account: bool = False
    locale: str | None = None
    claims: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def organisation(self) -> str | None:
        """The organisation (or office) is the deepest group under one of the three kinds."""
        for path in sorted(self.groups, key=len, reverse=True):
            if path.split("/")[1:2] and path.split("/")[1] in ORGANISATION_KINDS:
                return path
        return None

    @property
    def organisation_kind(self) -> OrganisationKind | None:
        org = self.organisation
        return OrganisationKind(org.split("/")[1]) if org else None

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def as_actor(self) -> dict:
        """How the audit log names this caller: ids and roles, no names or e-mails."""
        return {"subject": self.subject, "organisation": self.organisation,
                "roles": sorted(r for r in self.roles if r in KNOWN_ROLES), "client": self.client_id}


KNOWN_ROLES = {"caseworker", "supervisor", "service-provider", "government-official", "auditor",
               "directory-admin", "integration-client"}


class JwksCache:
    """Caches the realm's signing keys; refetches on an unknown `kid` at most once per interval."""

    def __init__(self, url: str, *, min_refetch_seconds: float = 30.0, max_age_seconds: float = 300.0,
                 client: httpx.Client | None = None) -> None:
        self.url = url
        self.min_refetch = min_refetch_seconds
        self.max_age = max_age_seconds
        self._client = client or httpx.Client(timeout=5.0)
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()
        self.fetches = 0

    def _fetch(self) -> None:
        response = self._client.get(self.url)
        response.raise_for_status()
        keys = {}
        for jwk in response.json().get("keys", []):
            if jwk.get("use", "sig") != "sig" or "kid" not in jwk:
                continue
            try:
                keys[jwk["kid"]] = PyJWK(jwk)
            except jwt.PyJWTError:
                continue  # an algorithm we do not support
        self._keys = keys
        self._fetched_at = time.monotonic()
        self.fetches += 1

    def get(self, kid: str) -> PyJWK:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = age > self.max_age
            if (kid not in self._keys and age >= self.min_refetch) or stale:
                try:
                    self._fetch()
                except httpx.HTTPError:
                    if not self._keys:
                        raise AuthenticationError("identity provider keys unavailable")
                    # keep serving the cached keys while the identity provider is away
            key = self._keys.get(kid)
        if key is None:
            raise AuthenticationError("unknown signing key")
        return key

    def ready(self) -> bool:
        try:
            with self._lock:
                if not self._keys:
                    self._fetch()
            return bool(self._keys)
        except httpx.HTTPError:
            return False


class TokenVerifier:
    def __init__(self, *, issuer: str, audience: str, allowed_azp: list[str], jwks: JwksCache,
                 algorithms: list[str] = ("RS256", "ES256"), leeway: int = 30) -> None:
        self.issuer = issuer
        self.audience = audience
        self.allowed_azp = set(allowed_azp)
        self.jwks = jwks
        self.algorithms = [a for a in algorithms if not a.startswith("HS") and a != "none"]
        self.leeway = leeway

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError("malformed token") from exc
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise AuthenticationError("signing algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthenticationError("token has no key id")
        key = self.jwks.get(kid)
        if key.algorithm_name != alg:
            raise AuthenticationError("algorithm does not match the key")
        try:
            claims = jwt.decode(
                token, key=key.key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": ["exp", "iat", "iss", "aud", "sub", "azp", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthenticationError("token not yet valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthenticationError("token not meant for this service") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthenticationError("token from another issuer") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError("invalid token") from exc
        if claims.get("typ") != "Bearer":
            raise AuthenticationError("not an access token")
        if claims.get("azp") not in self.allowed_azp:
            raise AuthenticationError("client not allowed")
        username = claims.get("preferred_username", "")
        return Principal(
            subject=claims["sub"], username=username,
            roles=frozenset(claims.get("realm_access", {}).get("roles", [])),
            groups=tuple(g for g in claims.get("groups", []) if isinstance(g, str)),
            client_id=claims["azp"], is_service_account=username.startswith("service-account-"),
            locale=claims.get("locale"), claims=claims,
        )
