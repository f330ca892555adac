"""The authorisation matrix of docs/security-model.md, executed.

For every endpoint of the YAML matrix, every realm actor (role × organisation kind, institutional
clients included) and every record the world built (own office, other office, referred to me, not
referred to me, ...), the real service must answer as the matrix says: allowed callers get one of the
`ok` statuses, refused callers 403 at the door or 404 for records outside their scope — and a 404
refusal must be indistinguishable from the answer for an id that does not exist (same status, same
body once the ids are blanked out), so a refusal never confirms that a record exists.

The same matrix also drives a policy-level check with synthetic principals for the role × kind
combinations the development realm has no user for (a government caseworker, a partner supervisor, an
IOM integration client, ...), calling each service's policy module directly.
"""
from __future__ import annotations

import copy
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from fnmatch import fnmatch
from types import SimpleNamespace

import pytest
from careroute_platform.auth import Principal

from .conftest import now_iso, security_matrix, service_ids, wait_for, wait_for_audit_checkpoint

MATRIX = security_matrix()
ACTORS: dict = MATRIX["actors"]
RECORDS: dict = MATRIX["records"]
ENDPOINTS: list = MATRIX["endpoints"]
CLIENT_ROLES = ("integration-client", "service-provider")


# ============================================================================ the matrix's semantics
def roles_of(profile: str, client: bool = False) -> set[str]:
    role = profile.split("@")[0]
    return set(CLIENT_ROLES) if client or role == "integration-client" else {role}


def relation(*, org: str | None, username: str | None, roles: set[str], record: str | None) -> str:
    """How a caller stands to a record, in the matrix's words."""
    if record is None:
        return "any"
    spec = RECORDS[record]
    kind = record.split(":")[0]
    if kind == "inbox":
        if spec.get("owner") and spec["owner"] == username:
            return "own-inbox"
        if spec.get("org") and spec["org"] == org and roles & set(spec.get("audience", [])):
            return "own-inbox"
        return "other"
    if kind in ("endpoint", "delivery"):
        return "own-organisation" if spec["org"] == org else "other"
    if spec.get("office") == org:
        return "own-office"
    if kind == "transfer" and spec.get("to") == org:
        return "receiving-office"
    if kind == "referral" and spec.get("org") == org:
        return f"referred-to-me:{spec['status']}"
    if kind == "case" and org in (spec.get("referred") or {}):
        return f"referred-to-me:{spec['referred'][org]}"
    return "other"


def expectation(endpoint: dict, profile: str, roles: set[str], rel: str) -> tuple[str, object]:
    """("allow", ok statuses) or ("refuse", status)."""
    door = endpoint["door"]
    if "*" not in door and not roles & set(door):
        return "refuse", 403
    for pattern, relations in endpoint["allow"].items():
        if fnmatch(profile, pattern) and any(r == "any" or fnmatch(rel, r) for r in relations):
            return "allow", endpoint["ok"]
    for pattern, status in (endpoint.get("refuse") or {}).items():
        profile_pattern, relation_pattern = pattern.split()
        if fnmatch(profile, profile_pattern) and fnmatch(rel, relation_pattern):
            return "refuse", status
    return "refuse", 404


# ============================================================================ requests
def record_ids(world, record: str | None, fake: bool) -> dict[str, str]:
    """The placeholder values of a record: its real ids, or fresh ids that exist nowhere."""
    if record is None:
        return {}
    kind, name = record.split(":")
    ids: dict[str, str] = {}
    if kind in ("case", "transfer"):
        ids["case"] = world.cases[name]
    if kind == "case":
        ids["consent"] = world.consents[name]
    if kind in ("referral", "transfer", "inbox", "endpoint", "delivery"):
        ids[kind] = world.id(kind, name)
    if fake:
        ids = {k: str(uuid.uuid4()) for k in ids}
    return ids


def fill(value, ids: dict[str, str]):
    if isinstance(value, str):
        out = value.replace("{now}", now_iso(-5))
        for name, service_id in service_ids().items():
            out = out.replace(f"{{service:{name}}}", service_id)
        for key, val in ids.items():
            out = out.replace(f"{{{key}}}", val)
        return out
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def send(platform, endpoint: dict, actor: str, ids: dict[str, str]):
    kwargs = {"headers": fill(endpoint.get("headers") or {}, ids)}
    if "json" in endpoint:
        kwargs["json"] = fill(copy.deepcopy(endpoint["json"]), ids)
    return platform.call_patiently(endpoint["service"], endpoint["method"], fill(endpoint["path"], ids), user=actor,
                                   **kwargs)


def blank(response, ids: list[str]):
    text = response.text
    for value in ids:
        text = text.replace(value, "<id>")
    try:
        return json.loads(text)
    except ValueError:
        return text


# ============================================================================ the test
@pytest.fixture(scope="module")
def prepared(world, platform):
    wait_for_audit_checkpoint(platform)
    return world


def plan(endpoint: dict) -> list[tuple]:
    """(actor, record, relation, outcome, expected) for one actor per class: the matrix is role x kind x
    endpoint x ownership, and a second caseworker of another IOM office standing in the same relation
    to the same record adds nothing."""
    probes, seen = [], set()
    for actor, spec in ACTORS.items():
        roles = roles_of(spec["profile"], spec.get("client", False))
        for record in endpoint.get("records") or [None]:
            rel = relation(org=spec["org"], username=actor, roles=roles, record=record)
            outcome, expected = expectation(endpoint, spec["profile"], roles, rel)
            key = (spec["profile"], record, rel) if expected != 403 else (spec["profile"], "door")
            if key in seen or (outcome == "allow" and endpoint.get("mutates")):
                continue  # (a mutating endpoint would destroy the fixture: only its refusals are checked)
            seen.add(key)
            probes.append((actor, record, rel, outcome, expected))
    return probes


def run_probe(world, platform, endpoint: dict, probe: tuple) -> tuple[str, list[str]]:
    actor, record, rel, outcome, expected = probe
    ids = record_ids(world, record, fake=False)
    r = send(platform, endpoint, actor, ids)
    where = f"{actor} ({ACTORS[actor]['profile']}, {rel}) {endpoint['method']} {endpoint['path']} [{record}]"
    if outcome == "allow":
        ok = r.status_code in expected
        return "allow", [] if ok else [f"{where}: expected one of {expected}, got {r.status_code} {r.text[:200]}"]
    if r.status_code != expected:
        return "refuse", [f"{where}: expected refusal {expected}, got {r.status_code} {r.text[:200]}"]
    failures = []
    if not r.headers.get("content-type", "").startswith("application/problem+json"):
        failures.append(f"{where}: refusal is not problem+json")
    if expected == 404 and record is not None:
        # The refusal must say nothing more than "no such record": same answer as for an unknown id.
        fake_ids = record_ids(world, record, fake=True)
        unknown = send(platform, endpoint, actor, fake_ids)
        mine, theirs = blank(r, list(ids.values())), blank(unknown, list(fake_ids.values()))
        if (unknown.status_code, mine) != (r.status_code, theirs):
            failures.append(f"{where}: refusal differs from an unknown id: {r.status_code} {mine!r} "
                            f"vs {unknown.status_code} {theirs!r}")
        return "existence", failures
    return "refuse", failures


@pytest.mark.integration
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e["id"] for e in ENDPOINTS])
def test_endpoint_answers_as_the_matrix_says(prepared, platform, endpoint):
    probes = plan(endpoint)
    # Probes are independent (reads, refusals, or writes whose repetition is harmless): run a few at a
    # time, the services wait on PostgreSQL more than on the CPU.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda probe: run_probe(prepared, platform, endpoint, probe), probes))
    failures = [f for _, fs in results for f in fs]
    assert not failures, f"{len(failures)} matrix violation(s):\n" + "\n".join(failures)
    kinds = [kind for kind, _ in results]
    # Both sides of every rule are exercised (a rule nobody is allowed or refused by tests nothing).
    assert "allow" in kinds or endpoint.get("mutates"), kinds
    assert set(kinds) & {"refuse", "existence"} or endpoint["allow"] == {"*": ["any"]}, kinds
    if endpoint.get("records"):
        assert "existence" in kinds, "no out-of-scope record was compared with an unknown id"


@pytest.mark.integration
@pytest.mark.parametrize("rule", MATRIX["lists"], ids=lambda r: f"{r['actor']} {r['path']}")
def test_lists_show_only_what_is_in_scope(prepared, platform, rule):
    # Every page (other suites of the same run may have filled the lists).
    bodies, offset, total = [], 0, None
    while total is None or offset < total:
        r = platform.call(rule["service"], "GET", f"{rule['path']}&offset={offset}", user=rule["actor"])
        assert r.status_code == 200, r.text
        page = r.json()
        bodies.append(r.text)
        total, offset = page["total"], offset + max(1, len(page["items"]))
        if not page["items"] or offset > 5000:
            break
    body = "".join(bodies)
    for record in rule.get("include", []):
        assert record_ids(prepared, record, fake=False)[record.split(":")[0]] in body, f"{record} missing"
    for record in rule.get("exclude", []):
        assert record_ids(prepared, record, fake=False)[record.split(":")[0]] not in body, f"{record} leaked"


@pytest.mark.integration
def test_unauthenticated_and_forged_callers_are_refused_everywhere(prepared, platform):
    """No token or a garbage token on every endpoint of the matrix, and a token with its signature
    stripped or another scheme on one endpoint per service: 401 problem+json, before any record is
    looked at. (Forged but well-signed tokens: test_input_hardening.py::test_tokens_are_verified_in_full.)"""
    good = platform.stack.token("supervisor.tulcan")
    head, payload, _sig = good.split(".")
    everywhere = {"none": None, "garbage": "Bearer not-a-jwt"}
    once = {"unsigned": f"Bearer {head}.{payload}.", "basic": "Basic Y2FzZXdvcmtlcjpwYXNz",
            "empty bearer": "Bearer ", "lowercase scheme, unsigned": f"bearer {head}.{payload}."}
    probes, seen_services = [], set()
    for endpoint in ENDPOINTS:
        forged = dict(everywhere)
        if endpoint["service"] not in seen_services:
            seen_services.add(endpoint["service"])
            forged.update(once)
        probes += [(endpoint, label, header) for label, header in forged.items()]

    def probe(item):
        endpoint, label, header = item
        ids = record_ids(prepared, (endpoint.get("records") or [None])[0], fake=False)
        headers = fill(endpoint.get("headers") or {}, ids)
        if header:
            headers["Authorization"] = header
        kwargs = {"headers": headers}
        if "json" in endpoint:
            kwargs["json"] = fill(copy.deepcopy(endpoint["json"]), ids)
        r = platform.call(endpoint["service"], endpoint["method"], fill(endpoint["path"], ids), **kwargs)
        if r.status_code != 401 or not r.headers.get("content-type", "").startswith("application/problem+json"):
            return f"{label}: {endpoint['id']} -> {r.status_code}"
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(probe, probes) if f]
    assert not failures, "\n".join(failures)


@pytest.mark.integration
def test_field_access_shared_data_is_the_referred_and_consented_categories_only(prepared, platform):
    """R3 carried psychosocial needs and the incident summary: although the survivor consented to share
    her identity with Alas de Colibrí, reading R3 shows no identity and no contact details."""
    world = prepared
    r = platform.call_patiently("intake", "GET", f"/v1/referrals/{world.referrals['R3']}/shared-data",
                                user="provider.alas")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["categories"]) <= {"psychosocial_needs", "incident_summary"}
    assert not body.get("identity") and not body.get("contact_details")
    for label, needle in world.markers.variants().items():
        if label.startswith("tulcan2") and ("Given" in label or "Phone" in label or "Document" in label
                                            or "Address" in label or "Family" in label):
            assert needle not in r.text.lower(), f"{label} in shared data outside the consented categories"
    # R1 carried identity and contact details, both consented: the entitled reader sees them.
    r1 = platform.call_patiently("intake", "GET", f"/v1/referrals/{world.referrals['R1']}/shared-data",
                                 user="provider.alas")
    assert r1.status_code == 200
    assert world.markers.values["tulcanGiven"] in r1.text


@pytest.mark.integration
def test_receiving_side_sees_only_what_its_side_may(prepared, platform):
    """Field access on referrals: once the receiver declined (R4), it keeps the bare record but no longer
    sees the reason, the link to the shared data, the override justification or the referrer's notes;
    the referring office still sees everything, including the receiver's decline note. With the incident
    summary consented and the referral accepted (R1), the receiver sees the reason."""
    world, m = prepared, prepared.markers.values
    provider = platform.call("referral", "GET", f"/v1/referrals/{world.referrals['R4']}", user="provider.alas")
    referrer = platform.call("referral", "GET", f"/v1/referrals/{world.referrals['R4']}", user="caseworker.tulcan")
    assert provider.status_code == referrer.status_code == 200
    body = provider.json()
    assert "reason" not in body and "shared_data_url" not in body
    assert "justification" not in body["override"] and "revoke_note" not in body["answer"]
    assert m["R4Reason"] not in provider.text
    assert m["R4Reason"] in referrer.text and m["R4DeclineNote"] in referrer.text
    accepted = platform.call("referral", "GET", f"/v1/referrals/{world.referrals['R1']}", user="provider.alas")
    assert accepted.status_code == 200
    assert m["R1Reason"] in accepted.text and "shared_data_url" in accepted.json()
    assert "justification" not in accepted.json()["override"]


@pytest.mark.integration
def test_ownership_moves_with_an_accepted_transfer(prepared, platform):
    """A case transferred away is no longer the sending office's: after Lago Agrio accepts, Tulcán gets
    the unknown-id answer in intake and, once the referral service has the new office, there too."""
    from .conftest import registration_body

    created = platform.call("intake", "POST", "/v1/cases", user="caseworker.tulcan",
                            json=registration_body(prepared.markers, "moved"))
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    transfer = platform.call("intake", "POST", f"/v1/cases/{cid}/transfers", user="caseworker.tulcan", json={
        "to_office": "/iom/lago-agrio", "reason_code": "survivor_relocating",
        "consent": {"given_by": "survivor", "given_at": now_iso(-5)}})
    assert transfer.status_code == 201, transfer.text
    tid = transfer.json()["id"]
    # before acceptance: still Tulcán's; Lago Agrio sees the pending transfer but not the case
    assert platform.call("intake", "GET", f"/v1/cases/{cid}", user="caseworker.lagoagrio").status_code == 404
    seen = platform.call("intake", "GET", f"/v1/cases/{cid}/transfers/{tid}", user="caseworker.lagoagrio")
    assert seen.status_code == 200
    accepted = platform.call("intake", "POST", f"/v1/cases/{cid}/transfers/{tid}/accept", user="caseworker.lagoagrio",
                             headers={"If-Match": seen.headers["etag"]})
    assert accepted.status_code == 200, accepted.text
    assert platform.call("intake", "GET", f"/v1/cases/{cid}", user="caseworker.lagoagrio").status_code == 200
    gone = platform.call("intake", "GET", f"/v1/cases/{cid}", user="caseworker.tulcan")
    unknown = platform.call("intake", "GET", f"/v1/cases/{uuid.uuid4()}", user="caseworker.tulcan")
    assert gone.status_code == unknown.status_code == 404
    assert platform.call_patiently("intake", "GET", f"/v1/cases/{cid}/identity?purpose=case_management",
                                   user="caseworker.tulcan").status_code == 404
    path = f"/v1/directory/services?case_id={cid}"
    wait_for(lambda: platform.call("referral", "GET", path, user="caseworker.lagoagrio").status_code == 200, 60,
             interval=0.5, message="the referral service learns the new office")
    assert platform.call("referral", "GET", path, user="caseworker.tulcan").status_code == 404


@pytest.mark.integration
def test_directory_hides_confidential_shelter_addresses_from_non_admins(prepared, platform):
    shelter = service_ids()["shelter-tulcan"]
    for user in ("caseworker.tulcan", "provider.alas", "official.ministerio", "auditor.oversight"):
        r = platform.call("referral", "GET", f"/v1/directory/services/{shelter}", user=user)
        assert r.status_code == 200
        for location in r.json()["locations"]:
            assert location["confidential"] is True
            assert location["address"] is None and location["latitude"] is None and location["longitude"] is None


@pytest.mark.integration
def test_every_decision_is_audited_including_denials(prepared, platform, kafka_tap):
    """An identity read refused to another office and one allowed to the owning office both reach
    careroute.access, with the actor's subject, the case id, a reason code and the stated purpose."""
    world = prepared
    case_id = world.cases["quito"]
    tulcan, quito = platform.sub("caseworker.tulcan"), platform.sub("caseworker.quito")
    path = f"/v1/cases/{case_id}/identity?purpose=safety_planning"
    assert platform.call_patiently("intake", "GET", path, user="caseworker.tulcan").status_code == 404
    assert platform.call_patiently("intake", "GET", path, user="caseworker.quito").status_code == 200
    platform.drain()

    def found():
        events = [e for e in kafka_tap.events(["careroute.access"]) if e.data["resource"]["id"] == case_id]
        denied = [e for e in events if e.data["outcome"] == "denied" and e.data["actor"]["subject"] == tulcan]
        allowed = [e for e in events if e.data["outcome"] == "allowed" and e.data["actor"]["subject"] == quito
                   and e.data["action"] == "identity.read" and e.data.get("purpose") == "safety_planning"]
        return (denied, allowed) if denied and allowed else None

    denied, allowed = wait_for(found, 60, interval=1.0, message="access events for both decisions")
    assert all(e.data["reason"] and " " not in e.data["reason"] for e in denied)  # codes, never content
    assert all(e.key == case_id for e in denied + allowed)  # per-case order on the topic


@pytest.mark.integration
def test_probing_raises_an_anomaly_for_oversight(prepared, platform, kafka_tap):
    """Insider probing: a caseworker knocking on another office's cases is refused every time, and the
    audit service's denied-access burst rule names her to the oversight office (ids and counts only)."""
    world = prepared
    lagoagrio = platform.sub("caseworker.lagoagrio")
    for name in ("tulcan", "quito", "alas"):
        for path in ("", "/notes", "/consents"):
            r = platform.call("intake", "GET", f"/v1/cases/{world.cases[name]}{path}", user="caseworker.lagoagrio")
            assert r.status_code == 404
    platform.drain()
    anomalies = wait_for(lambda: [e for e in kafka_tap.events(["careroute.anomaly"])
                                  if e.data.get("subject") == lagoagrio], 90, interval=1.0,
                         message="anomaly for caseworker.lagoagrio")
    assert "denied-access-burst" in {e.data["rule"] for e in anomalies}
    # ids, codes and counts only: the anomaly names who, not what she looked at
    assert all(set(e.data) <= {"rule", "subject", "organisation", "count", "threshold", "window_seconds",
                               "window_start", "window_end"} for e in anomalies), anomalies[0].data


# ============================================================================ policy level
KINDS = ("iom", "civil-society", "government")
SYNTHETIC_ROLES = ("caseworker", "supervisor", "service-provider", "government-official", "auditor",
                   "directory-admin", "integration-client")
RELATIONS = {
    "intake.case_access": ("own-office", "other", "referred-to-me:accepted"),
    "intake.shared_data": ("referred-to-me:accepted", "referred-to-me:pending", "other", "own-office"),
    "referral.read": ("own-office", "referred-to-me:accepted", "referred-to-me:pending", "other"),
    "referral.act": ("own-office", "referred-to-me:accepted", "other"),
    "referral.case": ("own-office", "other"),
    "notify.endpoint": ("own-organisation", "other"),
    "notify.inbox": ("own-inbox", "own-inbox-organisation", "other"),
}


def synthetic(role: str, kind: str) -> Principal:
    roles = frozenset(roles_of(f"{role}@{kind}"))
    return Principal(subject=str(uuid.uuid4()), username=f"synthetic.{role}", roles=roles,
                     groups=(f"/{kind}/unit-{role}",), client_id="careroute-frontend")


def policy_decision(fn: str, action: str | None, principal: Principal, rel: str) -> bool:
    org = principal.organisation
    elsewhere, partner = "/iom/elsewhere", "/civil-society/elsewhere"
    if fn == "intake.case_access":
        from intake import policy
        office = org if rel == "own-office" else elsewhere
        return bool(policy.case_access(principal, policy.CaseScope(office), action))
    if fn == "intake.shared_data":
        from intake import policy
        receiving = org if rel.startswith("referred-to-me") else partner
        status = rel.split(":")[1] if ":" in rel else "accepted"
        grant = policy.ReferralGrant(case_id="c", receiving_organisation=receiving, service_type="psychosocial",
                                     categories=frozenset({"identity"}), status=status, access_until=None)
        decision, _ = policy.shared_data(principal, grant, frozenset({"identity"}), datetime.now(UTC))
        return bool(decision)
    if fn in ("referral.read", "referral.act"):
        from referral import policy
        referral = SimpleNamespace(referring_office=org if rel == "own-office" else elsewhere,
                                   receiving_organisation=org if rel.startswith("referred-to-me") else partner)
        if fn == "referral.read":
            return bool(policy.can_read_referral(principal, referral))
        return bool(policy.can_act_on_referral(principal, referral, action).decision)
    if fn == "referral.case":
        from referral import policy
        case = SimpleNamespace(office=org if rel == "own-office" else elsewhere, registered=True, erased=False)
        return bool(policy.can_act_for_case(principal, case))
    if fn == "notify.endpoint":
        from notify import policy
        from notify.settings import NotifySettings
        admin_roles = NotifySettings.model_fields["webhook_admin_roles"].default
        endpoint = SimpleNamespace(organisation=org if rel == "own-organisation" else partner)
        return bool(policy.can_manage_endpoint(principal, endpoint, admin_roles))
    if fn == "notify.inbox":
        from notify import policy
        if rel == "own-inbox":
            entry = SimpleNamespace(subject=principal.subject, organisation=org, audience_roles=[])
        elif rel == "own-inbox-organisation":
            entry = SimpleNamespace(subject=None, organisation=org, audience_roles=sorted(principal.roles))
        else:
            entry = SimpleNamespace(subject=str(uuid.uuid4()), organisation=org, audience_roles=[])
        return bool(policy.can_see(principal, entry))
    raise AssertionError(fn)


POLICY_ENDPOINTS = [e for e in ENDPOINTS if e.get("policy")]


@pytest.mark.unit
@pytest.mark.parametrize("endpoint", POLICY_ENDPOINTS, ids=[e["id"] for e in POLICY_ENDPOINTS])
def test_policy_modules_agree_with_the_matrix_for_every_role_and_kind(endpoint):
    fn, action = endpoint["policy"]["fn"], endpoint["policy"].get("action")
    failures = []
    for role in SYNTHETIC_ROLES:
        for kind in KINDS:
            principal = synthetic(role, kind)
            profile = f"{role}@{kind}"
            for rel in RELATIONS[fn]:
                matrix_rel = "own-inbox" if rel == "own-inbox-organisation" else rel
                outcome, _ = expectation(endpoint, profile, set(principal.roles), matrix_rel)
                allowed = policy_decision(fn, action, principal, rel)
                if allowed != (outcome == "allow"):
                    failures.append(f"{profile} {rel}: policy says {'allow' if allowed else 'deny'}, "
                                    f"matrix says {outcome}")
    assert not failures, f"{endpoint['id']}:\n" + "\n".join(failures)
