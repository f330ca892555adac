"""Signing keys of the development identity provider: RSA 2048, RS256, published as a JWKS.

Keys live in memory, or in a key file when one is given (so that a restarted provider keeps its
keys, as Keycloak keeps realm keys in its database; and so that tests can sign crafted tokens with
the provider's own key). Rotation adds a key and keeps the old ones published until they are
retired, which is how Keycloak rotates realm keys.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint_b64(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    jwk: dict[str, Any]

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()


def _make_key(realm_name: str, key_size: int, private_key: rsa.RSAPrivateKey | None = None) -> SigningKey:
    private_key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    numbers = private_key.public_key().public_numbers()
    n, e = _uint_b64(numbers.n), _uint_b64(numbers.e)
    # RFC 7638 thumbprint as kid
    thumb_input = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    kid = _b64url(hashlib.sha256(thumb_input.encode()).digest())
    # Keycloak publishes a self-signed certificate with each RSA key (x5c); do the same.
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, realm_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(private_key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    jwk = {
        "kid": kid,
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "n": n,
        "e": e,
        "x5c": [base64.b64encode(der).decode("ascii")],
        "x5t": _b64url(hashlib.sha1(der).digest()),
        "x5t#S256": _b64url(hashlib.sha256(der).digest()),
    }
    return SigningKey(kid=kid, private_key=private_key, jwk=jwk)


class KeyRing:
    """The realm's RS256 keys; the last one signs, all published ones verify."""

    def __init__(self, realm_name: str, key_size: int = 2048, path: Path | None = None):
        self._realm_name = realm_name
        self._key_size = key_size
        self._keys: list[SigningKey] = []
        self._lock = threading.Lock()
        self._path = path
        if path is not None and path.exists():
            for pem in json.loads(path.read_text()):
                private = serialization.load_pem_private_key(pem.encode(), password=None)
                assert isinstance(private, rsa.RSAPrivateKey)
                self._keys.append(_make_key(realm_name, key_size, private))
        if not self._keys:
            self.rotate()

    def _save(self) -> None:
        if self._path is None:
            return
        pems = [k.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()).decode() for k in self._keys]
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(pems))
        tmp.chmod(0o600)
        tmp.replace(self._path)

    def rotate(self) -> SigningKey:
        key = _make_key(self._realm_name, self._key_size)
        with self._lock:
            self._keys.append(key)
            self._save()
        return key

    def retire_old(self) -> list[str]:
        with self._lock:
            retired = [k.kid for k in self._keys[:-1]]
            self._keys = self._keys[-1:]
            self._save()
        return retired

    @property
    def current(self) -> SigningKey:
        return self._keys[-1]

    def kids(self) -> list[str]:
        return [k.kid for k in self._keys]

    def get(self, kid: str | None) -> SigningKey | None:
        return next((k for k in self._keys if k.kid == kid), None)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(k.jwk) for k in self._keys]}

    def sign(self, claims: dict[str, Any]) -> str:
        key = self.current
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})

    def decode(self, token: str) -> dict[str, Any]:
        """Verify the signature of a token this provider issued (a published key, RS256 only).

        Expiry, audience, issuer and `typ` are the caller's business (the provider's clock can be
        injected in tests). Raises jwt.InvalidTokenError (jwt.PyJWTError).
        """
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":
            raise jwt.InvalidAlgorithmError("only RS256 tokens are issued here")
        key = self.get(header.get("kid"))
        if key is None:
            raise jwt.InvalidSignatureError("unknown or retired key id")
        return jwt.decode(
            token,
            key.public_key,
            algorithms=["RS256"],
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
