"""The Care Route across services, through their real APIs, with the real broker carrying every
event between them: register once → refer → the receiving organisation answers → it reads exactly
what the survivor consented to → counter-referral → the referrer is told → every step is in the
audit log with a proof that verifies. And the two ways a survivor takes control back: consent
withdrawal and erasure."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from careroute_devstack.testing import wait_for

pytestmark = pytest.mark.integration
ALAS = "/civil-society/alas-de-colibri"


@pytest.fixture(scope="module")
def platform(service_harness):
    return {name: service_harness(name) for name in ("intake", "referral", "notify", "audit")}


def planted(label: str) -> str:
    return f"Qzx{label}{uuid.uuid4().hex[:8]}"


def register(intake, *, categories, phone: str, given: str) -> str:
    now = datetime.now(UTC)
    body = {
        "consent": {"given_by": "survivor", "given_at": (now - timedelta(minutes=1)).isoformat(),
                    "registration": True, "reporting": True,
                    "sharing": [{"recipient_organisation": ALAS, "categories": categories}]},
        "survivor": {"given_names": given, "family_names": "Quispe", "date_of_birth": "1995-05-17",
                     "phone": phone, "address": "Calle Sucre 4, Tulcán", "document_type": "passport",
                     "document_number": "P" + uuid.uuid4().hex[:8]},
        "profile": {"sex": "female", "nationality": "VE", "mobility_status": "migrant_in_transit",
                    "languages": ["es"], "province": "04", "canton": "0401"},
        "needs": ["psychosocial"],
        "risk": {"level": "medium"},
    }
    r = intake.call("POST", "/v1/cases", user="caseworker.tulcan", json=body,
                    headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 201, r.text
    return r.json()["id"] if "id" in r.json() else r.json()["case_id"]


def alas_psychosocial(referral) -> str:
    r = referral.call("GET", "/v1/directory/services?service_type=psychosocial&limit=100", user="caseworker.tulcan")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    return next(s["id"] for s in items if s["organisation"]["group_path"] == ALAS)


def refer(referral, case_id: str, service_id: str, categories) -> dict:
    def attempt():
        r = referral.call("POST", "/v1/referrals", user="caseworker.tulcan",
                          json={"case_id": case_id, "service_id": service_id, "priority": "urgent",
                                "categories": categories, "reason": "Acompañamiento psicosocial"})
        return r if r.status_code == 201 else None
    # the referral service learns of the case and its consent from intake's events
    return wait_for(attempt, 60, interval=0.3, message="case and consent projected in referral").json()


def transition(referral, referral_id: str, action: str, user: str, body: dict | None = None):
    current = referral.call("GET", f"/v1/referrals/{referral_id}", user=user)
    assert current.status_code == 200, current.text
    return referral.call("POST", f"/v1/referrals/{referral_id}/{action}", user=user, json=body or {},
                         headers={"If-Match": current.headers["etag"]})


def test_register_refer_accept_share_complete_and_the_loop_closes(platform):
    intake, referral = platform["intake"], platform["referral"]
    phone, given = "+593 98 " + str(uuid.uuid4().int)[:3] + " 4411", planted("Name")
    case_id = register(intake, categories=["contact_details", "psychosocial_needs"], phone=phone, given=given)
    created = refer(referral, case_id, alas_psychosocial(referral), ["contact_details", "psychosocial_needs"])
    rid = created["id"]

    # before acceptance the receiving organisation reads nothing from the vault
    assert intake.call("GET", f"/v1/referrals/{rid}/shared-data", user="provider.alas").status_code == 404
    # only the receiving organisation may accept: another organisation does not even see it
    assert transition_status(referral, rid, "accept", "provider.quimera") == 404
    accepted = transition(referral, rid, "accept", "provider.alas")
    assert accepted.status_code == 200, accepted.text

    def shared():
        r = intake.call("GET", f"/v1/referrals/{rid}/shared-data", user="provider.alas")
        return r if r.status_code == 200 else None
    data = wait_for(shared, 60, interval=0.3, message="intake learns of the acceptance").text
    assert phone in data              # contact details were consented for Alas de Colibrí ...
    assert given not in data          # ... identity (the name) was not
    assert intake.call("GET", f"/v1/referrals/{rid}/shared-data", user="provider.quimera").status_code == 404

    done = transition(referral, rid, "complete", "provider.alas",
                      {"service_delivered": True, "outcome_code": "needs_met", "follow_up_advised": False})
    assert done.status_code == 200, done.text
    seen = referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.tulcan").json()
    assert seen["status"] == "completed"
    assert seen["answer"]["counter_referral"]["outcome_code"] == "needs_met"

    # the loop closes: the referring caseworker is told of the acceptance and of the outcome
    notify = platform["notify"]

    def told(kind):
        inbox = notify.call("GET", "/v1/inbox?limit=100", user="caseworker.tulcan").json()["items"]
        return [n for n in inbox if n["referral_id"] == rid and n["kind"] == kind]
    for kind in ("referral_accepted", "referral_completed"):
        [note] = wait_for(lambda: told(kind), 60, interval=0.3, message=f"{kind} notification")
        assert phone not in str(note) and given not in str(note)
    provider_inbox = notify.call("GET", "/v1/inbox?limit=100", user="provider.alas").json()["items"]
    assert any(n["referral_id"] == rid and n["kind"] == "referral_received" for n in provider_inbox)

    # every step is in the audit log, and the provider's read of the vault verifies against a checkpoint
    audit = platform["audit"]

    def audited_read():
        r = audit.call("GET", f"/entries?resource_type=case&resource_id={case_id}&action=shared_data.read&limit=50",
                       user="auditor.oversight")
        items = r.json()["items"] if r.status_code == 200 else []
        return [e for e in items if e["entry"]["outcome"] == "allowed"] if items else None
    [entry] = wait_for(audited_read, 60, interval=0.5, message="shared-data read in the audit log")
    assert entry["entry"]["actor"]["organisation"] == ALAS and phone not in str(entry)

    def proof():
        r = audit.call("GET", f"/entries/{entry['index']}/inclusion-proof", user="auditor.oversight")
        return r.json() if r.status_code == 200 else None
    proved = wait_for(proof, 60, interval=0.5, message="a checkpoint covering the entry")
    from audit.verifier import InclusionProof, verify_entry_inclusion

    keys = audit.call("GET", "/keys?format=text", user="auditor.oversight").text
    report = verify_entry_inclusion(proved["checkpoint"], [k for k in keys.splitlines() if k and not k.startswith("#")],
                                    proved["entry"], proved["leaf_index"], InclusionProof.from_json(proved))
    assert report.ok, report.problems
    timeline = audit.call("GET", f"/entries?resource_type=case&resource_id={case_id}&limit=100",
                          user="auditor.oversight").json()["items"]
    types = {e["entry"]["event_type"].removeprefix("org.iom.careroute.").rsplit(".", 1)[0] for e in timeline}
    assert {"case.registered", "consent.granted", "referral.created", "referral.accepted",
            "referral.completed", "access.recorded"} <= types


def transition_status(referral, referral_id, action, user) -> int:
    r = referral.call("POST", f"/v1/referrals/{referral_id}/{action}", user=user, json={},
                      headers={"If-Match": '"0"'})
    return r.status_code


def test_consent_withdrawn_in_intake_revokes_the_open_referral(platform):
    intake, referral = platform["intake"], platform["referral"]
    case_id = register(intake, categories=["psychosocial_needs"], phone="+593 97 111 2233", given=planted("N"))
    created = refer(referral, case_id, alas_psychosocial(referral), ["psychosocial_needs"])
    rid = created["id"]
    consents = intake.call("GET", f"/v1/cases/{case_id}/consents", user="caseworker.tulcan").json()
    items = consents["items"] if isinstance(consents, dict) else consents
    sharing = next(c for c in items if c.get("recipient_organisation") == ALAS)
    consent_id = sharing.get("id") or sharing.get("consent_id")
    r = intake.call("DELETE", f"/v1/cases/{case_id}/consents/{consent_id}", user="caseworker.tulcan")
    assert r.status_code == 200, r.text

    def revoked():
        body = referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.tulcan").json()
        return body if body["status"] == "revoked" else None
    assert wait_for(revoked, 60, interval=0.3, message="withdrawal reaches referral")["status"] == "revoked"


def test_erasure_in_intake_purges_the_referrals(platform):
    intake, referral = platform["intake"], platform["referral"]
    case_id = register(intake, categories=["psychosocial_needs"], phone="+593 96 222 3344", given=planted("E"))
    created = refer(referral, case_id, alas_psychosocial(referral), ["psychosocial_needs"])
    rid = created["id"]
    case = intake.call("GET", f"/v1/cases/{case_id}", user="supervisor.tulcan")
    erased = intake.call("POST", f"/v1/cases/{case_id}/erase", user="supervisor.tulcan",
                         json={"reason": "data_subject_request"},
                         headers={"If-Match": case.headers["etag"]})
    assert erased.status_code == 200, erased.text

    def purged():
        r = referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.tulcan")
        return r.status_code in (404, 410) or r.json().get("status") == "purged"
    wait_for(purged, 60, interval=0.3, message="erasure reaches referral")
