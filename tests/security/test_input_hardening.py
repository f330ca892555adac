"""Input hardening, transport posture and token handling of the four services, on the real stack.

- mass assignment: ownership, status, ids and versions cannot be set through a body (422), and the
  stored record is unchanged afterwards;
- oversized, deeply nested, invalid UTF-8 and control-character input is refused cleanly (4xx
  problem+json, never a 5xx, never an echo of the input);
- page sizes are capped; identity-revealing reads are rate limited;
- no CORS (the APIs are called server-side only), security headers on every answer;
- tokens: signature, issuer, audience, authorised party, type, expiry and algorithm are all enforced,
  and unknown key ids cannot make a service hammer the identity provider;
- webhooks cannot be pointed at internal or metadata addresses (SSRF);
- the audit log cannot be changed by the service's own database role, and a forged entry fails its
  inclusion proof.

Known gaps are strict expected failures: they fail the day they are fixed, so the marker goes too.
"""
from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import ALAS, FISCALIA, MSP_TULCAN, QUITO, service_ids

pytestmark = pytest.mark.integration

SERVICES = ("intake", "referral", "notify", "audit")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}
# A POST route of each service and a caller who passes its door.
POSTS = {"intake": ("/v1/cases", "caseworker.tulcan"), "referral": ("/v1/referrals", "caseworker.tulcan"),
         "notify": ("/v1/webhooks/endpoints", "msp-hospital-tulcan-system"),
         "audit": ("/checkpoints/1/cosignatures", "auditor.oversight")}
GETS = {"intake": ("/v1/cases", "caseworker.tulcan"), "referral": ("/v1/referrals", "caseworker.tulcan"),
        "notify": ("/v1/inbox", "caseworker.tulcan"), "audit": ("/checkpoints", "auditor.oversight")}


def is_problem(r, *statuses: int) -> bool:
    return r.status_code in statuses and r.headers.get("content-type", "").startswith("application/problem+json")


# ============================================================================ mass assignment
def _register_body(world, tag: str) -> dict:
    from .conftest import registration_body
    return registration_body(world.markers, tag)


def test_mass_assignment_on_registration_is_refused(platform, world):
    before = platform.call("intake", "GET", "/v1/cases?limit=1", user="caseworker.tulcan").json()["total"]
    base = _register_body(world, "massRegistration")
    attempts = {f: v for f, v in {
        "office": QUITO, "owner": "someone", "status": "closed", "id": str(uuid.uuid4()), "version": 7,
        "survivor_code": "TUL-2026-AAAAAA", "registered_by_office": QUITO, "organisation": QUITO,
        "receiving_organisation": ALAS, "created_at": "2020-01-01T00:00:00Z", "erased_at": None}.items()}
    for field, value in attempts.items():
        r = platform.call("intake", "POST", "/v1/cases", user="caseworker.tulcan", json={**base, field: value})
        assert is_problem(r, 422), (field, r.status_code)
        assert any(field in e["field"] for e in r.json()["errors"]), (field, r.json())
    for section, field in (("profile", "office"), ("survivor", "case_id"), ("consent", "recorded_by"),
                           ("risk", "status")):
        body = json.loads(json.dumps(base))
        body[section][field] = "x"
        r = platform.call("intake", "POST", "/v1/cases", user="caseworker.tulcan", json=body)
        assert is_problem(r, 422), (section, field, r.status_code)
    after = platform.call("intake", "GET", "/v1/cases?limit=1", user="caseworker.tulcan").json()["total"]
    assert after == before, "a refused registration left a case behind"


def test_mass_assignment_on_case_update_is_refused_and_never_applied(platform, world):
    cid = world.cases["tulcan"]
    before = platform.call("intake", "GET", f"/v1/cases/{cid}", user="caseworker.tulcan")
    etag = before.headers["etag"]
    for field, value in (("office", QUITO), ("registered_by_office", QUITO), ("status", "erased"),
                         ("version", 99), ("survivor_code", "QUI-2026-AAAAAA"), ("id", str(uuid.uuid4())),
                         ("reporting_consent", False), ("closure_reason", "other")):
        r = platform.call("intake", "PATCH", f"/v1/cases/{cid}", user="caseworker.tulcan",
                          json={"needs": ["psychosocial"], field: value}, headers={"If-Match": etag})
        assert is_problem(r, 422), (field, r.status_code, r.text[:200])
    for path, body in ((f"/v1/cases/{cid}/notes", {"note_type": "other", "text": "x", "author": "someone"}),
                       (f"/v1/cases/{cid}/consents", {"purpose": "sharing", "given_by": "survivor",
                                                      "given_at": "2026-01-01T00:00:00Z", "categories": ["legal_needs"],
                                                      "recipient_organisation": FISCALIA, "recorded_by": "x"}),
                       (f"/v1/cases/{cid}/consents", {"purpose": "sharing", "given_by": "survivor",
                                                      "given_at": "2026-01-01T00:00:00Z", "categories": ["legal_needs"],
                                                      "recipient_organisation": FISCALIA, "withdrawn_at": None}),
                       (f"/v1/cases/{cid}/transfers", {"to_office": QUITO, "reason_code": "safety", "status": "accepted",
                                                       "consent": {"given_by": "survivor",
                                                                   "given_at": "2026-01-01T00:00:00Z"}})):
        r = platform.call("intake", "POST", path, user="caseworker.tulcan", json=body)
        assert is_problem(r, 422), (path, r.status_code)
    r = platform.call("intake", "PUT", f"/v1/cases/{cid}/identity", user="caseworker.tulcan",
                      json={"case_id": world.cases["quito"], "survivor_code": "X", "version": 1},
                      headers={"If-Match": etag})
    assert is_problem(r, 422)
    after = platform.call("intake", "GET", f"/v1/cases/{cid}", user="caseworker.tulcan").json()
    assert after == before.json(), "a refused update changed the case"


def test_mass_assignment_on_referrals_is_refused(platform, world):
    cid = world.cases["tulcan2"]
    def listed() -> int:
        return platform.call("referral", "GET", f"/v1/referrals?case_id={cid}&limit=100",
                             user="caseworker.tulcan").json()["total"]

    before = listed()
    base = {"case_id": cid, "service_id": service_ids()["alas-legal"], "priority": "normal",
            "categories": ["legal_needs"]}
    for field, value in (("receiving_organisation", QUITO), ("referring_office", QUITO), ("status", "accepted"),
                         ("id", str(uuid.uuid4())), ("version", 3), ("created_by", "x"), ("override_by", "x"),
                         ("organisation_id", str(uuid.uuid4()))):
        r = platform.call("referral", "POST", "/v1/referrals", user="caseworker.tulcan", json={**base, field: value})
        assert is_problem(r, 422), (field, r.status_code)
    assert listed() == before
    rid = world.referrals["R2"]
    read = platform.call("referral", "GET", f"/v1/referrals/{rid}", user="provider.msp-tulcan")
    r = platform.call("referral", "POST", f"/v1/referrals/{rid}/decline", user="provider.msp-tulcan",
                      json={"reason_code": "no_capacity", "status": "accepted", "receiving_organisation": ALAS},
                      headers={"If-Match": read.headers["etag"]})
    assert is_problem(r, 422)
    again = platform.call("referral", "GET", f"/v1/referrals/{rid}", user="provider.msp-tulcan")
    assert again.json()["status"] == read.json()["status"] == "pending"
    assert again.headers["etag"] == read.headers["etag"]
    # the directory: an admin cannot move a service to another organisation or set its version
    sid = service_ids()["alas-psychosocial"]
    svc = platform.call("referral", "GET", f"/v1/directory/services/{sid}", user="admin.directory")
    for field, value in (("organisation_id", str(uuid.uuid4())), ("id", str(uuid.uuid4())), ("version", 50)):
        r = platform.call("referral", "PATCH", f"/v1/directory/services/{sid}", user="admin.directory",
                          json={"status": "available", field: value}, headers={"If-Match": svc.headers["etag"]})
        assert is_problem(r, 422), (field, r.status_code)
    assert platform.call("referral", "GET", f"/v1/directory/services/{sid}", user="admin.directory").json() == svc.json()


def test_mass_assignment_on_webhooks_and_preferences_is_refused(platform, world, receiver):
    client = "msp-hospital-tulcan-system"
    for field, value in (("organisation", FISCALIA), ("status", "disabled"), ("secret", "x" * 32),
                         ("id", str(uuid.uuid4())), ("created_by", "x"), ("version", 9)):
        r = platform.call("notify", "POST", "/v1/webhooks/endpoints", user=client,
                          json={"url": receiver.url("/mass"), "event_types": ["referral.created"], field: value})
        assert is_problem(r, 422), (field, r.status_code)
    eid = world.endpoints["msp"]
    before = platform.call("notify", "GET", f"/v1/webhooks/endpoints/{eid}", user=client)
    for field, value in (("organisation", FISCALIA), ("secret", "x" * 32), ("consecutive_failures", 0)):
        r = platform.call("notify", "PATCH", f"/v1/webhooks/endpoints/{eid}", user=client,
                          json={field: value}, headers={"If-Match": before.headers["etag"]})
        assert is_problem(r, 422), (field, r.status_code)
    after = platform.call("notify", "GET", f"/v1/webhooks/endpoints/{eid}", user=client)
    assert after.json()["organisation"] == MSP_TULCAN and after.headers["etag"] == before.headers["etag"]
    r = platform.call("notify", "PUT", "/v1/preferences/referral_accepted", user="caseworker.tulcan",
                      json={"inbox": True, "email": True, "subject": platform.sub("caseworker.quito")})
    assert is_problem(r, 422)


# ============================================================================ malformed input
@pytest.mark.parametrize("service", SERVICES)
def test_oversized_bodies_are_refused_with_413_before_reading(platform, service):
    path, user = POSTS[service]
    r = platform.call(service, "POST", path, user=user, content=b'{"x":"' + b"a" * (2 << 20) + b'"}',
                      headers={"content-type": "application/json"})
    assert is_problem(r, 413), r.status_code
    assert "aaaa" not in r.text
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, f"413 without {name}"


def test_oversized_chunked_bodies_are_refused_with_413(platform):
    def chunks():
        for _ in range(64):
            yield b"a" * 16384
    r = platform.call("referral", "POST", "/v1/referrals", user="caseworker.tulcan", content=chunks(),
                      headers={"content-type": "application/json"})
    assert is_problem(r, 413), r.status_code


@pytest.mark.parametrize("service", SERVICES)
def test_deeply_nested_json_and_invalid_utf8_are_refused_cleanly(platform, service):
    path, user = POSTS[service]
    for body in (b'{"a":' + b"[" * 30000 + b"]" * 30000 + b"}",        # recursion bomb, within the size limit
                 b'{"a":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}",
                 b'{"given_names":"\xff\xfe\xfa\xc3"}',                  # invalid UTF-8
                 b'{"a": NaN, "b": Infinity}',
                 b"\x00\x01\x02"):
        r = platform.call(service, "POST", path, user=user, content=body, headers={"content-type": "application/json"})
        assert is_problem(r, 400, 422), (service, body[:20], r.status_code, r.text[:200])
        assert "Traceback" not in r.text and "\\ufffd" not in r.text and "�" not in r.text
    r = platform.call(service, "POST", path, user=user, content=b"<xml/>", headers={"content-type": "application/xml"})
    assert r.status_code < 500 and r.status_code >= 400


CONTROL = ["\x00", "\x07", "\x1b[31m", "\u202e"]


def test_control_characters_are_refused_by_intake(platform, world):
    cid = world.cases["tulcan"]
    for bad in CONTROL:
        r = platform.call("intake", "POST", f"/v1/cases/{cid}/notes", user="caseworker.tulcan",
                          json={"note_type": "other", "text": f"before{bad}after"})
        assert is_problem(r, 400, 422), (repr(bad), r.status_code)
        body = _register_body(world, f"control{CONTROL.index(bad)}")
        body["survivor"]["given_names"] = f"Ana{bad}"
        r = platform.call("intake", "POST", "/v1/cases", user="caseworker.tulcan", json=body)
        assert is_problem(r, 400, 422), (repr(bad), r.status_code)


def test_control_characters_in_referral_free_text_are_refused(platform, world):
    """Each attempt uses a fresh sacrificial referral (Tulcán case 2 -> Alas legal aid), revoked afterwards,
    so that a character wrongly accepted does not change the shared fixtures."""
    failures = []
    for bad in CONTROL:
        created = platform.call("referral", "POST", "/v1/referrals", user="caseworker.tulcan", json={
            "case_id": world.cases["tulcan2"], "service_id": service_ids()["alas-legal"], "priority": "normal",
            "categories": ["legal_needs"], "reason": f"x{bad}y"})
        if not is_problem(created, 400, 422):
            failures.append(f"reason {bad!r} -> {created.status_code}")
        if created.status_code != 201:
            created = platform.call("referral", "POST", "/v1/referrals", user="caseworker.tulcan", json={
                "case_id": world.cases["tulcan2"], "service_id": service_ids()["alas-legal"], "priority": "normal",
                "categories": ["legal_needs"]})
            assert created.status_code == 201, created.text
        rid = created.json()["id"]
        etag = created.headers["etag"]
        r = platform.call("referral", "POST", f"/v1/referrals/{rid}/decline", user="provider.alas",
                          json={"reason_code": "other", "note": f"x{bad}y"}, headers={"If-Match": etag})
        if not is_problem(r, 400, 422):
            failures.append(f"decline note {bad!r} -> {r.status_code}")
        if r.status_code != 200:  # still pending: take it out of the way
            etag = platform.call("referral", "GET", f"/v1/referrals/{rid}", user="caseworker.tulcan").headers["etag"]
            revoked = platform.call("referral", "POST", f"/v1/referrals/{rid}/revoke", user="caseworker.tulcan",
                                    json={"reason_code": "entered_in_error"}, headers={"If-Match": etag})
            assert revoked.status_code == 200, revoked.text
    assert not failures, failures


def test_control_characters_are_refused_by_the_directory(platform):
    failures = []
    for bad in CONTROL:
        body = {"group_path": f"/civil-society/ctl-{uuid.uuid4().hex[:8]}", "name": {"es": f"Org{bad}", "en": "Org"},
                "description": {"es": "d", "en": "d"}}
        r = platform.call("referral", "POST", "/v1/directory/organisations", user="admin.directory", json=body)
        if not is_problem(r, 400, 422):
            failures.append(f"{bad!r} -> {r.status_code}")
    assert not failures, failures


def test_control_characters_in_webhook_urls_and_audit_purposes(platform):
    for bad in CONTROL:
        r = platform.call("notify", "POST", "/v1/webhooks/endpoints", user="msp-hospital-tulcan-system",
                          json={"url": f"https://example.org/{bad}x", "event_types": ["referral.created"]})
        assert is_problem(r, 400, 422), (repr(bad), r.status_code)
        r = platform.call("audit", "GET", "/checkpoints", user="auditor.oversight", params={"purpose": f"check{bad}"})
        assert r.status_code < 500, (repr(bad), r.status_code)


# ============================================================================ page sizes and rate limits
PAGED = [("intake", "/v1/cases", "caseworker.tulcan"), ("intake", "/v1/transfers", "caseworker.tulcan"),
         ("intake", "/v1/duplicates", "supervisor.tulcan"), ("referral", "/v1/referrals", "caseworker.tulcan"),
         ("referral", "/v1/referrals/inbox", "provider.alas"), ("referral", "/v1/directory/services", "caseworker.tulcan"),
         ("referral", "/v1/directory/organisations", "caseworker.tulcan"), ("notify", "/v1/inbox", "caseworker.tulcan"),
         ("notify", "/v1/webhooks/endpoints", "msp-hospital-tulcan-system"), ("audit", "/entries", "auditor.oversight"),
         ("audit", "/checkpoints", "auditor.oversight")]


@pytest.mark.parametrize("service,path,user", PAGED, ids=[f"{s}{p}" for s, p, _ in PAGED])
def test_page_sizes_are_capped(platform, service, path, user):
    for limit in (101, 100000, 10**12):
        r = platform.call(service, "GET", path, user=user, params={"limit": limit})
        if r.status_code == 200:  # clamped is acceptable, returning more than 100 is not
            assert r.json()["limit"] <= 100 and len(r.json()["items"]) <= 100
        else:
            assert is_problem(r, 422), (limit, r.status_code)
    for limit in (0, -1, "ten"):
        assert is_problem(platform.call(service, "GET", path, user=user, params={"limit": limit}), 422)
    assert is_problem(platform.call(service, "GET", path, user=user, params={"offset": -1}), 422)


def _burst(platform, service: str, user: str, paths, limit: int):
    statuses = []
    for i in range(limit):
        r = platform.call(service, "GET", paths(i), user=user)
        statuses.append(r.status_code)
        if r.status_code == 429:
            return r, statuses
    return None, statuses


@pytest.mark.parametrize("name,service,user,path,burst", [
    ("identity", "intake", "caseworker.lagoagrio", "/v1/cases/{id}/identity?purpose=case_management", 45),
    ("export", "intake", "supervisor.quito", "/v1/cases/{id}/export", 12),
    ("shared-data", "intake", "provider.hias", "/v1/referrals/{id}/shared-data", 45),
])
def test_identity_revealing_reads_are_rate_limited(platform, name, service, user, path, burst):
    """A stolen session cannot scrape the vault: after the per-minute budget, 429 with Retry-After
    (the limit is per caller, so random ids suffice: the budget is spent before the record is looked at)."""
    limited, statuses = _burst(platform, service, user, lambda i: path.format(id=uuid.uuid4()), burst)
    assert limited is not None, f"no 429 after {len(statuses)} reads: {sorted(set(statuses))}"
    assert is_problem(limited, 429) and int(limited.headers["retry-after"]) >= 1
    assert set(statuses[:-1]) <= {404}, statuses  # until then: the ordinary answer for unknown ids
    # another caller is not affected by this caller's budget
    other = {"identity": "caseworker.alas", "shared-data": "provider.quimera"}.get(name)
    if other:
        assert platform.call(service, "GET", path.format(id=uuid.uuid4()), user=other).status_code == 404


def test_case_notes_reads_are_rate_limited(platform):
    limited, statuses = _burst(platform, "intake", "caseworker.lagoagrio",
                               lambda i: f"/v1/cases/{uuid.uuid4()}/notes", 60)
    assert limited is not None, f"no 429 after {len(statuses)} reads"


# ============================================================================ CORS and headers
@pytest.mark.parametrize("service", SERVICES)
def test_cors_preflight_gets_no_allow_origin(platform, service):
    path, user = GETS[service]
    pre = platform[service].client.options(path, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code >= 400 or not pre.headers.get("access-control-allow-origin")
    assert not any(k.lower().startswith("access-control-allow") for k in pre.headers)
    r = platform.call(service, "GET", path, user=user, headers={"Origin": "https://evil.example"})
    assert r.status_code == 200
    assert not any(k.lower().startswith("access-control-") for k in r.headers)


@pytest.mark.parametrize("service", SERVICES)
def test_security_headers_on_every_kind_of_answer(platform, service):
    path, user = GETS[service]
    client = platform[service].client
    answers = {
        "ok": platform.call(service, "GET", path, user=user),
        "unauthenticated": client.get(path),
        "unknown-route": platform.call(service, "GET", "/v1/does-not-exist", user=user),
        "validation": platform.call(service, "GET", path, user=user, params={"limit": "x"}),
        "method": platform.call(service, "PUT", "/livez", user=user),
        "livez": client.get("/livez"),
        "metrics": client.get("/metrics"),
        "openapi": client.get("/openapi.json"),
    }
    for label, r in answers.items():
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, f"{service} {label} ({r.status_code}): {name}={r.headers.get(name)}"
        assert "server" not in r.headers and "x-powered-by" not in r.headers, (label, dict(r.headers))
        if r.status_code >= 400:
            assert is_problem(r, r.status_code), (label, r.status_code, r.headers.get("content-type"))
    assert answers["unauthenticated"].status_code == 401
    # no interactive documentation served (an attack surface and an information leak)
    for doc in ("/docs", "/redoc"):
        assert client.get(doc).status_code == 404


def test_api_process_sends_no_server_banner(platform, monkeypatch):
    """In-process tests never see the HTTP server's own headers: check how the shared command line
    starts uvicorn (no `server: uvicorn` banner)."""
    import uvicorn
    from careroute_devstack.stack import service_definition
    from careroute_platform import service

    started = {}
    monkeypatch.setattr(service, "configure_logging", lambda *args, **kwargs: None)  # keep the capture
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(kwargs, app=app))
    service.main(service_definition("intake"), ["api"])
    assert started["app"] is not None
    assert started.get("server_header") is False


# ============================================================================ tokens
def _idp_keys(platform):
    from careroute_devstack.idp.keys import KeyRing

    path = platform.stack.cfg.run_dir / "secrets" / "idp-keys.json"
    assert path.exists()
    return KeyRing("careroute", path=path)


def test_tokens_are_verified_in_full(platform):
    """Tokens signed with the identity provider's own key but wrong in one respect are refused."""
    ring = _idp_keys(platform)
    real = platform.stack.token("caseworker.tulcan", fresh=True)
    claims = jwt.decode(real, options={"verify_signature": False})
    now = int(time.time())
    client = platform["intake"].client

    def answer(token: str) -> int:
        return client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code

    assert answer(ring.sign(claims)) == 200  # the re-signed original is fine: the forgeries below differ in one thing
    variants = {
        "other audience": {**claims, "aud": "careroute-audit"},
        "other issuer": {**claims, "iss": "https://evil.example/realms/careroute"},
        "expired": {**claims, "exp": now - 120, "iat": now - 600},
        "not yet valid": {**claims, "nbf": now + 600},
        "id token": {**claims, "typ": "ID"},
        "refresh token": {**claims, "typ": "Refresh"},
        "unknown client": {**claims, "azp": "evil-client"},
        "no expiry": {k: v for k, v in claims.items() if k != "exp"},
        "no subject": {k: v for k, v in claims.items() if k != "sub"},
    }
    for label, forged in variants.items():
        assert answer(ring.sign(forged)) == 401, label
    # a different token for a different service is refused by the others
    # (every realm client's token carries the audiences of the services it may call; one narrowed to audit:)
    assert platform["audit"].client.get("/checkpoints", headers={
        "Authorization": f"Bearer {ring.sign({**claims, 'aud': 'careroute-intake'})}"}).status_code == 401
    # algorithm games: none, HS256 keyed with the public key, a key the realm never published
    key = ring.current
    header = {"kid": key.kid, "typ": "JWT"}
    unsigned = jwt.encode(claims, None, algorithm="none", headers=header)
    public_pem = key.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hs256 = _hs256_token(claims, public_pem, header)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    foreign = jwt.encode(claims, stranger, algorithm="RS256", headers=header)
    foreign_kid = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "attacker-key", "typ": "JWT"})
    for label, token in (("alg none", unsigned), ("hs256 with the public key", hs256),
                         ("foreign key, realm kid", foreign), ("foreign key and kid", foreign_kid)):
        assert answer(token) == 401, label


def _hs256_token(claims: dict, secret: bytes, header: dict) -> str:
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({**header, "alg": "HS256"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def test_unknown_key_ids_do_not_make_the_service_hammer_the_identity_provider(platform):
    runtime = platform["referral"].runtime
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(platform.stack.token("caseworker.tulcan"), options={"verify_signature": False})
    before = runtime.jwks.fetches
    for _ in range(25):
        token = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": uuid.uuid4().hex})
        r = platform["referral"].client.get("/v1/referrals", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
    assert runtime.jwks.fetches - before <= 1, "an unknown kid flood refetched the JWKS more than once"


# ============================================================================ SSRF
BAD_TARGETS = [
    "http://169.254.169.254/latest/meta-data/",        # cloud metadata (even though loopback is allowed in dev)
    "https://169.254.169.254/",
    "http://[::ffff:169.254.169.254]/",                 # metadata as an IPv4-mapped IPv6 address
    "http://2852039166/",                                # metadata as a decimal integer host
    "https://10.0.0.8/hook", "https://192.168.1.10/hook", "https://172.16.4.4/hook", "http://100.100.100.200/",
    "https://[fd00:ec2::254]/", "https://[fc00::1]/", "http://0.0.0.0/",
    "https://user:secret@example.org/hook",              # credentials in the URL
    "ftp://example.org/hook", "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "javascript:alert(1)",
    "https:///no-host", "https://exa mple.org/",
]


def test_webhook_ssrf_targets_refused(platform):
    failures = []
    for url in BAD_TARGETS:
        r = platform.call("notify", "POST", "/v1/webhooks/endpoints", user="msp-hospital-tulcan-system",
                          json={"url": url, "event_types": ["referral.created"]})
        if not is_problem(r, 422):
            failures.append(f"{url} -> {r.status_code}")
        elif url.split("//")[-1][:6] in r.text:
            failures.append(f"{url}: the refusal echoes the URL")
    assert not failures, failures
    eid = platform.call("notify", "GET", "/v1/webhooks/endpoints", user="msp-hospital-tulcan-system").json()["items"][0]
    r = platform.call("notify", "PATCH", f"/v1/webhooks/endpoints/{eid['id']}", user="msp-hospital-tulcan-system",
                      json={"url": "http://169.254.169.254/"}, headers={"If-Match": f'W/"{eid["version"]}"'})
    assert is_problem(r, 422), "a change of URL is vetted too"


def test_production_webhook_policy_refuses_loopback_private_and_rebinding_names():
    from notify.domain import targets
    from notify.settings import NotifySettings

    defaults = NotifySettings.model_fields
    policy = targets.TargetPolicy.of(allow_http=defaults["webhook_allow_http"].default,
                                     allowed_networks=defaults["webhook_allowed_networks"].default)
    for url in ("http://example.org/", "https://127.0.0.1/", "https://[::1]/", "https://localhost/"):
        with pytest.raises(targets.RefusedTarget):
            targets.check(url, policy, resolver=lambda host, port: ["127.0.0.1"])
    # a public-looking name that resolves (also) to a private address is refused as a whole
    with pytest.raises(targets.RefusedTarget):
        targets.check("https://hooks.example.org/", policy, resolver=lambda host, port: ["93.184.215.14", "10.1.2.3"])
    assert targets.check("https://hooks.example.org/x", policy, resolver=lambda host, port: ["93.184.215.14"])
    # metadata is refused even inside an allow-listed network
    wide = targets.TargetPolicy.of(allow_http=True, allowed_networks=["169.254.0.0/16", "0.0.0.0/0"])
    with pytest.raises(targets.RefusedTarget):
        targets.check("http://169.254.169.254/", wide)


# ============================================================================ the audit log
def test_audit_log_is_append_only_and_proves_inclusion(platform, world):
    from audit.adapters.orm import entries
    from audit.verifier import InclusionProof, verify_entry_inclusion
    from sqlalchemy import text, update
    from sqlalchemy.exc import DBAPIError

    from .conftest import wait_for_audit_checkpoint

    wait_for_audit_checkpoint(platform)
    found = platform.call("audit", "GET", "/entries", user="auditor.oversight",
                          params={"resource_type": "case", "resource_id": world.cases["tulcan"], "limit": 1})
    assert found.status_code == 200 and found.json()["items"], found.text
    index = found.json()["items"][0]["index"]
    r = platform.call("audit", "GET", f"/entries/{index}/inclusion-proof", user="auditor.oversight")
    assert r.status_code == 200, r.text
    body = r.json()
    keys = [k["key"] for k in platform.call("audit", "GET", "/keys", user="auditor.oversight").json()["keys"]]
    assert verify_entry_inclusion(body["checkpoint"], keys, body["entry"], index, InclusionProof.from_json(body)).ok
    forged = json.loads(json.dumps(body["entry"]))
    forged["actor"]["subject"] = str(uuid.uuid4())  # someone rewrites who read the case
    assert not verify_entry_inclusion(body["checkpoint"], keys, forged, index, InclusionProof.from_json(body)).ok
    # the service's own database role cannot rewrite or remove history
    engine = platform["audit"].runtime.engine
    for statement in (update(entries).where(entries.c.index == index).values(event_id="rewritten"),
                      text('delete from entries where "index" = :i').bindparams(i=index),
                      text("truncate entries")):
        with engine.connect() as conn, pytest.raises(DBAPIError):
            conn.execute(statement)
            conn.commit()
