"""Every transition and every refusal through the API, against the real stack."""
import uuid

import pytest
from careroute_devstack.testing import wait_for

from .conftest import (
    ALAS_PSY,
    HIAS_LEGAL,
    HOSPITAL,
    MSP_IBARRA,
    act,
    create,
    referral_events,
    subject_of,
)

pytestmark = pytest.mark.integration
PROVIDER = "provider.msp-tulcan"


def make(referral, intake, **kw):
    case_id = intake.register()
    intake.grant(case_id)
    r = create(referral, case_id, **kw)
    assert r.status_code == 201, r.text
    return case_id, r


def test_registration_referral_accept_complete_with_counter_referral(stack, referral, intake, kafka_tap):
    case_id, r = make(referral, intake, priority="emergency", reason="Necesita atención hoy")
    body = r.json()
    assert r.headers["etag"] == body["etag"] == 'W/"1"'
    assert r.headers["location"] == f"/v1/referrals/{body['id']}"
    assert body["status"] == "pending" and body["priority"] == "emergency"
    assert body["referring_office"] == "/iom/tulcan"
    assert body["referring_caseworker"] == subject_of(stack, "caseworker.tulcan")
    assert body["receiving_organisation"]["group_path"] == HOSPITAL
    assert body["allowed_actions"] == ["revoke"]
    rid = body["id"]

    inbox = referral.call("GET", "/v1/referrals/inbox", user=PROVIDER).json()
    item = next(i for i in inbox["items"] if i["id"] == rid)
    assert item["shared_categories"] == ["health_needs", "identity"]
    assert item["shared_data_url"].endswith(f"/v1/referrals/{rid}/shared-data")
    assert item["reason"] == "Necesita atención hoy"          # health_needs consented for a health service
    assert item["allowed_actions"] == ["accept", "decline"]
    assert "justification" not in item["override"]

    accepted = act(referral, rid, "accept", user=PROVIDER, etag=item["etag"])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.headers["etag"] == 'W/"2"'
    completed = act(referral, rid, "complete", user=PROVIDER, etag=accepted.headers["etag"], body={
        "service_delivered": True, "outcome_code": "needs_met", "follow_up_advised": True,
        "follow_up_service_types": ["psychosocial"], "note": "PEP iniciada"})
    assert completed.status_code == 200, completed.text

    seen = referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.tulcan").json()
    assert seen["status"] == "completed"
    assert seen["answer"]["counter_referral"] == {"service_delivered": True, "outcome_code": "needs_met",
                                                  "follow_up_advised": True,
                                                  "follow_up_service_types": ["psychosocial"], "note": "PEP iniciada"}
    assert [t["event"] for t in seen["timeline"]] == ["created", "accept", "complete"]
    assert seen["first_response_at"] is not None

    events = wait_for(lambda: (e := referral_events(kafka_tap, rid)) and len(e) >= 3 and e, 30,
                      message="lifecycle events on the broker")
    names = [e.type.rsplit(".", 2)[-2] for e in events]
    assert names == ["created", "accepted", "completed"]
    for e in events:
        assert e.key == case_id
        for routing in ("referring_office", "referring_caseworker", "receiving_organisation", "priority", "status",
                        "service_type"):
            assert e.data[routing]
    assert events[2].data["counter_referral"]["outcome_code"] == "needs_met"


def test_decline_gives_the_referrer_a_reason(referral, intake):
    _, r = make(referral, intake)
    rid = r.json()["id"]
    declined = act(referral, rid, "decline", user=PROVIDER, etag=r.headers["etag"],
                   body={"reason_code": "no_capacity", "note": "Sin camas esta semana"})
    assert declined.status_code == 200, declined.text
    seen = referral.call("GET", f"/v1/referrals/{rid}", user="supervisor.tulcan").json()
    assert seen["answer"]["decline_reason"] == "no_capacity"
    assert seen["answer"]["decline_note"] == "Sin camas esta semana"
    # the receiver's part is over: it keeps the record, not the content
    theirs = referral.call("GET", f"/v1/referrals/{rid}", user=PROVIDER).json()
    assert "reason" not in theirs and "shared_data_url" not in theirs and theirs["allowed_actions"] == []


def test_close_without_service(referral, intake):
    _, r = make(referral, intake)
    rid = r.json()["id"]
    accepted = act(referral, rid, "accept", user=PROVIDER, etag=r.headers["etag"])
    closed = act(referral, rid, "close", user=PROVIDER, etag=accepted.headers["etag"],
                 body={"reason_code": "survivor_did_not_attend"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["answer"]["close_reason"] == "survivor_did_not_attend"


def test_revoke_by_the_referring_side_and_never_after_completion(referral, intake):
    _, r = make(referral, intake)
    rid = r.json()["id"]
    by_receiver = act(referral, rid, "revoke", user=PROVIDER, etag=r.headers["etag"],
                      body={"reason_code": "survivor_request"})
    assert by_receiver.status_code == 403
    assert by_receiver.headers["content-type"].startswith("application/problem+json")
    revoked = act(referral, rid, "revoke", user="supervisor.tulcan", etag=r.headers["etag"],
                  body={"reason_code": "survivor_request", "note": "Ella prefiere otro lugar"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert revoked.json()["answer"]["revoke_note"] == "Ella prefiere otro lugar"
    assert "revoke_note" not in referral.call("GET", f"/v1/referrals/{rid}", user=PROVIDER).json()["answer"]
    system_reason = act(referral, rid, "revoke", user="caseworker.tulcan", etag='W/"2"',
                        body={"reason_code": "consent_withdrawn"})
    assert system_reason.status_code == 422

    _, r2 = make(referral, intake)
    rid2 = r2.json()["id"]
    a = act(referral, rid2, "accept", user=PROVIDER, etag=r2.headers["etag"])
    c = act(referral, rid2, "complete", user=PROVIDER, etag=a.headers["etag"],
            body={"service_delivered": True, "outcome_code": "needs_met"})
    late = act(referral, rid2, "revoke", user="caseworker.tulcan", etag=c.headers["etag"],
               body={"reason_code": "survivor_request"}, headers={"Accept-Language": "en"})
    assert late.status_code == 409
    problem = late.json()
    assert problem["type"].endswith("/illegal-transition") and problem["current_status"] == "completed"
    assert problem["detail"] == "A referral that is completed cannot be revoked."
    es = act(referral, rid2, "revoke", user="caseworker.tulcan", etag=c.headers["etag"],
             body={"reason_code": "survivor_request"})
    assert es.json()["detail"] == "No se puede anular una referencia completada."


def test_illegal_transitions_are_409_in_both_languages(referral, intake):
    _, r = make(referral, intake)
    rid = r.json()["id"]
    done = act(referral, rid, "complete", user=PROVIDER, etag=r.headers["etag"],
               body={"service_delivered": True, "outcome_code": "needs_met"}, headers={"Accept-Language": "en-GB"})
    assert done.status_code == 409
    assert done.json()["title"] == "Transition not allowed"
    assert done.json()["detail"] == "A referral that is pending cannot be completed."
    closed = act(referral, rid, "close", user=PROVIDER, etag=r.headers["etag"], body={"reason_code": "other",
                                                                                       "note": "x"})
    assert closed.status_code == 409 and closed.json()["title"] == "Transición no permitida"


def test_only_the_receiving_organisation_answers(stack, referral, intake):
    _, r = make(referral, intake)
    rid, etag = r.json()["id"], r.headers["etag"]
    other_org = act(referral, rid, "accept", user="provider.hias", etag=etag)
    assert other_org.status_code == 404                          # existence does not leak
    referrer = act(referral, rid, "accept", user="caseworker.tulcan", etag=etag, headers={"Accept-Language": "en"})
    assert referrer.status_code == 403
    assert referrer.json()["detail"] == "Only the receiving organisation may do this."
    official_same_org = act(referral, rid, "accept", user="official.msp", etag=etag)
    assert official_same_org.status_code == 403                  # no service-provider role
    auditor = referral.call("GET", f"/v1/referrals/{rid}", user="auditor.oversight")
    assert auditor.status_code == 403
    other_office = referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.quito")
    assert other_office.status_code == 404
    missing = referral.call("GET", f"/v1/referrals/{uuid.uuid4()}", user="caseworker.tulcan")
    assert missing.status_code == 404
    assert referral.client.post(f"/v1/referrals/{rid}/accept", headers={"If-Match": etag}).status_code == 401
    assert referral.call("GET", f"/v1/referrals/{rid}", user=PROVIDER).json()["status"] == "pending"


def test_if_match_is_required_and_checked(referral, intake):
    _, r = make(referral, intake)
    rid = r.json()["id"]
    assert act(referral, rid, "accept", user=PROVIDER, etag=None).status_code == 428
    accepted = act(referral, rid, "accept", user=PROVIDER, etag=r.headers["etag"])
    assert accepted.status_code == 200
    stale = act(referral, rid, "revoke", user="caseworker.tulcan", etag=r.headers["etag"],
                body={"reason_code": "survivor_request"})
    assert stale.status_code == 412 and stale.json()["current_etag"] == 'W/"2"'
    fresh = act(referral, rid, "revoke", user="caseworker.tulcan", etag=stale.json()["current_etag"],
                body={"reason_code": "survivor_request"})
    assert fresh.status_code == 200


def test_creation_refusals(stack, referral, intake):
    case_id = intake.register()
    intake.grant(case_id, categories=("identity", "health_needs"))
    # outside the survivor's consent
    r = create(referral, case_id, categories=("identity", "incident_summary"))
    assert r.status_code == 409 and r.json()["type"].endswith("/consent-required")
    assert r.json()["missing_categories"] == ["incident_summary"]
    # consent for the hospital does not cover HIAS
    r = create(referral, case_id, service_id=HIAS_LEGAL, categories=("identity",))
    assert r.status_code == 409 and r.json()["missing_categories"] == ["identity"]
    # another office's caseworker, an unknown case, a provider, no token
    assert create(referral, case_id, user="caseworker.quito").status_code == 404
    assert create(referral, str(uuid.uuid4())).status_code == 404
    assert create(referral, case_id, user="provider.alas").status_code == 403
    assert referral.client.post("/v1/referrals", json={}).status_code == 401
    # a service not connected to Care Route
    r = create(referral, case_id, service_id=MSP_IBARRA)
    assert r.status_code == 409 and r.json()["type"].endswith("/service-not-accepting")
    # bad input: no echo of the input
    r = create(referral, case_id, priority="whenever", reason="SECRET-ECHO")
    assert r.status_code == 422 and "SECRET-ECHO" not in r.text and "whenever" not in r.text
    r = create(referral, case_id, unexpected="SECRET-ECHO")
    assert r.status_code == 422 and "SECRET-ECHO" not in r.text
    r = create(referral, case_id, service_id=str(uuid.uuid4()))
    assert r.status_code == 422
    r = create(referral, case_id, categories=())
    assert r.status_code == 422
    # one open referral per case and service
    assert create(referral, case_id).status_code == 201
    dup = create(referral, case_id)
    assert dup.status_code == 409 and dup.json()["type"].endswith("/duplicate-referral")


def test_partner_caseworker_refers_cases_her_organisation_registered(referral, intake):
    case_id = intake.register(office="/civil-society/alas-de-colibri", caseworker="caseworker.alas")
    intake.grant(case_id, office="/civil-society/alas-de-colibri")
    r = create(referral, case_id, user="caseworker.alas")
    assert r.status_code == 201, r.text
    assert r.json()["referring_office"] == "/civil-society/alas-de-colibri"
    assert create(referral, case_id, user="caseworker.tulcan", service_id=ALAS_PSY).status_code == 404
    # the partner's own service-providers do not see the referral they did not receive
    assert referral.call("GET", f"/v1/referrals/{r.json()['id']}", user="provider.alas").status_code == 404


def test_closed_cases_take_no_new_referrals(referral, intake):
    case_id = intake.register()
    intake.grant(case_id)
    intake.publish("careroute.case", "case.closed", {"case_id": case_id, "office": "/iom/tulcan",
                                                     "closure_reason": "needs_met"}, key=case_id)
    wait_for(lambda: intake.case_row(case_id).status == "closed", 60, message="closure projected")
    r = create(referral, case_id)
    assert r.status_code == 409 and r.json()["type"].endswith("/case-closed")


def test_lists_for_each_side(referral, intake):
    case_id, r = make(referral, intake, priority="emergency")
    rid = r.json()["id"]
    sent = referral.call("GET", f"/v1/referrals?case_id={case_id}", user="caseworker.tulcan").json()
    assert [i["id"] for i in sent["items"]] == [rid] and sent["total"] == 1
    assert referral.call("GET", f"/v1/referrals?case_id={case_id}", user="caseworker.quito").json()["total"] == 0
    assert referral.call("GET", "/v1/referrals/inbox", user="provider.hias").json()["items"] == [] or all(
        i["receiving_organisation"]["group_path"] == "/civil-society/hias"
        for i in referral.call("GET", "/v1/referrals/inbox", user="provider.hias").json()["items"])
    assert referral.call("GET", "/v1/referrals/inbox", user="caseworker.tulcan").status_code == 403
    pending = referral.call("GET", "/v1/referrals/inbox?status=pending&priority=emergency&limit=100",
                            user=PROVIDER).json()
    assert rid in [i["id"] for i in pending["items"]]
    assert referral.call("GET", "/v1/referrals/inbox?limit=0", user=PROVIDER).status_code == 422
    assert referral.call("GET", "/v1/referrals/inbox?status=bogus", user=PROVIDER).status_code == 422


def test_government_official_reads_referrals_to_their_institution_but_cannot_answer(referral, intake):
    """official.msp belongs to the MSP hospital in Tulcán: it sees the hospital's referrals (read only)."""
    case_id = intake.register()
    intake.grant(case_id)
    created = create(referral, case_id)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    inbox = referral.call("GET", "/v1/referrals/inbox", user="official.msp")
    assert inbox.status_code == 200 and rid in [r["id"] for r in inbox.json()["items"]]
    seen = referral.call("GET", f"/v1/referrals/{rid}", user="official.msp")
    assert seen.status_code == 200
    assert seen.json()["allowed_actions"] == [] and "shared_data_url" not in seen.json()
    refused = act(referral, rid, "accept", user="official.msp", etag=seen.headers["etag"])
    assert refused.status_code == 403
    # an official of another institution sees nothing of it
    assert referral.call("GET", f"/v1/referrals/{rid}", user="official.ministerio").status_code == 404
    assert rid not in [r["id"] for r in referral.call("GET", "/v1/referrals/inbox", user="official.ministerio")
                       .json()["items"]]
