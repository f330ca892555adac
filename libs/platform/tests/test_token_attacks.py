"""Token attacks against the shared verifier, with the real development identity provider: tokens
it issues, its JWKS over HTTP, and crafted tokens signed with its own key (read from its key file,
as only a test on the same machine can) so that each check is shown to refuse on its own."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from careroute_platform.auth import AuthenticationError, JwksCache, TokenVerifier

pytestmark = pytest.mark.integration
AUDIENCE = "careroute-intake"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def idp(stack):
    keys_file = stack.cfg.run_dir / "secrets" / "idp-keys.json"
    current = serialization.load_pem_private_key(json.loads(keys_file.read_text())[-1].encode(), None)
    jwks = httpx.get(f"{stack.cfg.issuer}/protocol/openid-connect/certs").json()["keys"]
    kid = next(k["kid"] for k in jwks if k["n"] == b64(current.public_key().public_numbers().n.to_bytes(256, "big")))
    return {"key": current, "kid": kid, "issuer": stack.cfg.issuer, "stack": stack}


def verifier(stack, **overrides) -> TokenVerifier:
    options = dict(issuer=stack.cfg.issuer, audience=AUDIENCE, allowed_azp=["careroute-cli", "careroute-frontend"],
                   jwks=JwksCache(f"{stack.cfg.issuer}/protocol/openid-connect/certs", min_refetch_seconds=60))
    options.update(overrides)
    return TokenVerifier(**options)


def claims(idp, **changes) -> dict:
    now = int(time.time())
    base = {"exp": now + 300, "iat": now, "jti": str(uuid.uuid4()), "iss": idp["issuer"],
            "aud": [AUDIENCE, "careroute-referral"], "sub": str(uuid.uuid4()), "typ": "Bearer",
            "azp": "careroute-cli", "realm_access": {"roles": ["caseworker"]}, "groups": ["/iom/tulcan"],
            "preferred_username": "crafted"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(idp, payload, key=None, kid=None, alg="RS256") -> str:
    return jwt.encode(payload, key or idp["key"], algorithm=alg, headers={"kid": kid or idp["kid"]})


def refused(v: TokenVerifier, token: str, reason: str) -> None:
    with pytest.raises(AuthenticationError, match=reason):
        v.verify(token)


def test_real_tokens_from_the_identity_provider_are_accepted(stack):
    principal = verifier(stack).verify(stack.token("caseworker.tulcan", fresh=True))
    assert principal.organisation == "/iom/tulcan" and principal.has_role("caseworker")
    service = verifier(stack, allowed_azp=["msp-hospital-tulcan-system"]).verify(
        stack.client_token("msp-hospital-tulcan-system"))
    assert service.is_service_account and service.organisation == "/government/msp/hospital-tulcan"


def test_a_crafted_token_with_the_providers_key_is_accepted(idp):
    # The baseline: each attack below changes one thing only.
    assert verifier(idp["stack"]).verify(sign(idp, claims(idp))).subject


def test_alg_none_is_refused(idp):
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": idp["kid"]}).encode())
    body = b64(json.dumps(claims(idp)).encode())
    refused(verifier(idp["stack"]), f"{header}.{body}.", "algorithm not allowed")


def test_hs256_signed_with_the_rsa_public_key_is_refused(idp):
    public_pem = idp["key"].public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = (b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": idp["kid"]}).encode()) + "." +
                     b64(json.dumps(claims(idp)).encode()))
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    refused(verifier(idp["stack"]), f"{signing_input}.{b64(mac)}", "algorithm not allowed")
    # even if a careless deployment allowed HS256, the verifier drops HMAC algorithms
    refused(verifier(idp["stack"], algorithms=["HS256", "RS256"]), f"{signing_input}.{b64(mac)}",
            "algorithm not allowed")


def test_unknown_kid_is_refused_and_a_burst_fetches_the_jwks_at_most_once(idp):
    stack = idp["stack"]
    v = verifier(stack)
    v.verify(sign(idp, claims(idp)))                          # warm the cache: one fetch
    before = httpx.get(f"http://127.0.0.1:{stack.cfg.idp_port}/dev/stats").json()["jwks_fetches"]
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for _ in range(50):
        refused(v, sign(idp, claims(idp), key=foreign, kid=str(uuid.uuid4())), "unknown signing key")
    after = httpx.get(f"http://127.0.0.1:{stack.cfg.idp_port}/dev/stats").json()["jwks_fetches"]
    assert after - before <= 1
    assert v.jwks.fetches <= 2


def test_wrong_issuer_is_refused(idp):
    refused(verifier(idp["stack"]), sign(idp, claims(idp, iss="http://127.0.0.1:1/realms/careroute")),
            "another issuer")


@pytest.mark.parametrize("aud", [None, "account", ["account", "careroute-referral"]])
def test_missing_or_foreign_audience_is_refused(idp, aud):
    refused(verifier(idp["stack"]), sign(idp, claims(idp, aud=aud)), "not meant for this service|invalid token")


def test_client_not_allowed_is_refused(idp):
    refused(verifier(idp["stack"]), sign(idp, claims(idp, azp="some-other-client")), "client not allowed")


@pytest.mark.parametrize("typ", ["ID", "Refresh", None])
def test_id_and_refresh_tokens_are_not_access_tokens(idp, typ):
    refused(verifier(idp["stack"]), sign(idp, claims(idp, typ=typ)), "not an access token|invalid token")


def test_the_providers_real_id_and_refresh_tokens_are_refused(stack):
    body = httpx.post(f"{stack.cfg.issuer}/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": "careroute-cli", "username": "caseworker.tulcan",
        "password": "careroute-dev", "scope": "openid"}).json()
    v = verifier(stack)
    refused(v, body["id_token"], "not meant for this service")
    refused(v, body["refresh_token"], "not meant for this service|not an access token")


def test_expired_and_not_yet_valid_tokens_are_refused(idp):
    now = int(time.time())
    refused(verifier(idp["stack"]), sign(idp, claims(idp, exp=now - 120, iat=now - 420)), "expired")
    refused(verifier(idp["stack"]), sign(idp, claims(idp, nbf=now + 600)), "not yet valid")
    # inside the leeway is fine: clocks drift a little
    assert verifier(idp["stack"]).verify(sign(idp, claims(idp, exp=now - 5)))


def test_tampered_payload_is_refused(stack):
    token = stack.token("provider.alas", fresh=True)
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["groups"] = ["/iom/tulcan"]
    data["realm_access"]["roles"].append("supervisor")
    refused(verifier(stack), f"{header}.{b64(json.dumps(data).encode())}.{signature}", "invalid token")


def test_valid_token_from_a_foreign_key_with_a_known_kid_is_refused(idp):
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused(verifier(idp["stack"]), sign(idp, claims(idp), key=foreign), "invalid token")
    p256 = ec.generate_private_key(ec.SECP256R1())
    refused(verifier(idp["stack"]), sign(idp, claims(idp), key=p256, alg="ES256"), "does not match the key")


def test_a_key_rotated_out_of_the_jwks_is_refused(stack):
    base = f"http://127.0.0.1:{stack.cfg.idp_port}"
    old_token = stack.token("caseworker.quito", fresh=True)
    assert verifier(stack).verify(old_token)
    httpx.post(f"{base}/dev/keys/rotate").raise_for_status()
    new_token = stack.token("caseworker.quito", fresh=True)
    v = verifier(stack)
    assert v.verify(old_token) and v.verify(new_token)           # both published during rotation
    httpx.post(f"{base}/dev/keys/retire-old").raise_for_status()
    v = verifier(stack)                                          # a verifier whose cache has expired
    refused(v, old_token, "unknown signing key")
    assert v.verify(new_token)
    stack._tokens.clear()                                        # later tests get tokens from the new key
