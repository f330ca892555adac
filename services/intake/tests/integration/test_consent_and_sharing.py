"""A receiving organisation with an accepted referral reads exactly the consented categories;
withdrawal of consent emits `consent.withdrawn` and ends that access. The referral service is
simulated by publishing its CloudEvents to careroute.referral."""
import uuid
from datetime import UTC, datetime

import pytest
from careroute_devstack.testing import wait_for
from careroute_platform.cloudevents import Event, event_type, to_kafka
from careroute_platform.outbox import make_producer

from .conftest import drain, events_for, incident, marker, register, registration, when

pytestmark = pytest.mark.integration
ALAS = "/civil-society/alas-de-colibri"


@pytest.fixture(scope="module")
def producer(stack):
    p = make_producer(stack.cfg.bootstrap)
    yield p
    p.close(timeout=5)


def referral_event(producer, name, *, referral_id, case_id, organisation=ALAS, service_type="health_cmr",
                   categories=None, **extra):
    data = {"referral_id": referral_id, "case_id": case_id, "referring_office": "/iom/tulcan",
            "referring_caseworker": "x", "receiving_organisation": organisation, "service_type": service_type,
            "priority": "urgent", "status": name.split(".")[1], "occurred_at": datetime.now(UTC).isoformat(),
            **extra}
    if categories is not None:
        data["categories"] = categories
    key, value, headers = to_kafka(Event(type=event_type(name), source="/careroute/referral", data=data, key=case_id))
    producer.send("careroute.referral", key=key, value=value, headers=headers).get(30)


def shared(intake, referral_id, user="provider.alas"):
    return intake.call("GET", f"/v1/referrals/{referral_id}/shared-data", user=user)


def until_status(intake, referral_id, status, user="provider.alas"):
    return wait_for(lambda: when(shared(intake, referral_id, user), lambda r: r.status_code == status),
                    timeout=40, message=f"shared-data {status}")


def test_accepted_referral_reads_exactly_the_consented_categories(intake, producer, kafka_tap):
    given, phone = marker("Shared"), "+593 98 765 4321"
    case = register(intake, given=given, phone=phone,
                    incident=incident(days_ago=1, gbvims_type="rape", legal_types=["sexual"]),
                    sharing=[{"recipient_organisation": ALAS, "categories": ["identity", "health_needs"]},
                             {"recipient_service_type": "psychosocial", "categories": ["psychosocial_needs"]}])
    rid = str(uuid.uuid4())
    # Before the referral is accepted the provider sees nothing (404, no existence leak).
    assert shared(intake, rid).status_code == 404
    referral_event(producer, "referral.created", referral_id=rid, case_id=case["id"],
                   categories=["identity", "contact_details", "health_needs", "incident_summary"])
    referral_event(producer, "referral.accepted", referral_id=rid, case_id=case["id"])
    body = until_status(intake, rid, 200).json()
    # referred (identity, contact, health, incident) ∩ consented to Alas (identity, health) = identity, health
    assert body["categories"] == ["health_needs", "identity"]
    assert body["identity"]["given_names"] == given
    assert body["health_needs"]["needs"] == ["health_cmr"] and body["health_needs"]["clinical_window"]["pep_open"]
    assert "contact_details" not in body and "incident_summary" not in body and phone not in str(body)
    assert "psychosocial_needs" not in body  # consented by service type, but this referral is health_cmr

    # Other organisations and roles see nothing.
    assert shared(intake, rid, "provider.quimera").status_code == 404
    assert shared(intake, rid, "caseworker.alas").status_code == 403
    assert shared(intake, rid, "official.ministerio").status_code == 403
    assert shared(intake, rid, None).status_code == 401
    assert shared(intake, "bad id!", "provider.alas").status_code in (404, 422)

    # Withdrawal: consent.withdrawn is published and the access ends at once.
    consents = intake.call("GET", f"/v1/cases/{case['id']}/consents", user="caseworker.tulcan").json()["items"]
    to_alas = next(c for c in consents if c["recipient_organisation"] == ALAS and c["purpose"] == "sharing")
    r = intake.call("DELETE", f"/v1/cases/{case['id']}/consents/{to_alas['id']}", user="caseworker.tulcan")
    assert r.status_code == 200 and r.json()["active"] is False
    after = shared(intake, rid)
    assert after.status_code == 403 and after.json()["type"].endswith("/consent-required")
    again = intake.call("DELETE", f"/v1/cases/{case['id']}/consents/{to_alas['id']}", user="caseworker.tulcan")
    assert again.status_code == 200
    drain(intake)
    withdrawn = wait_for(lambda: [e for e in events_for(kafka_tap, ["careroute.consent"], case["id"])
                                  if e.name == "consent.withdrawn"], message="consent.withdrawn")
    assert len(withdrawn) == 1
    assert withdrawn[0].data == {"case_id": case["id"], "consent_id": to_alas["id"], "office": "/iom/tulcan",
                                 "purpose": "sharing", "recipient_organisation": ALAS,
                                 "categories": ["health_needs", "identity"]}


def test_service_type_consent_and_the_end_of_a_referral(intake, producer):
    case = register(intake, sharing=[{"recipient_service_type": "psychosocial",
                                      "categories": ["psychosocial_needs", "contact_details"]}])
    rid = str(uuid.uuid4())
    # accepted arrives before created: access opens, categories come with created
    referral_event(producer, "referral.accepted", referral_id=rid, case_id=case["id"], service_type="psychosocial",
                   organisation="/civil-society/quimera")
    referral_event(producer, "referral.created", referral_id=rid, case_id=case["id"], service_type="psychosocial",
                   organisation="/civil-society/quimera", categories=["psychosocial_needs", "contact_details"])
    body = until_status(intake, rid, 200, "provider.quimera").json()
    assert body["categories"] == ["contact_details", "psychosocial_needs"]
    assert body["contact_details"]["phone"] and body["psychosocial_needs"]["needs"] == ["psychosocial"]
    referral_event(producer, "referral.revoked", referral_id=rid, case_id=case["id"], service_type="psychosocial",
                   organisation="/civil-society/quimera", reason_code="survivor_request")
    until_status(intake, rid, 404, "provider.quimera")
    # a late, duplicated `accepted` never reopens an ended referral
    referral_event(producer, "referral.accepted", referral_id=rid, case_id=case["id"], service_type="psychosocial",
                   organisation="/civil-society/quimera")
    rid2 = str(uuid.uuid4())
    referral_event(producer, "referral.created", referral_id=rid2, case_id=case["id"], service_type="psychosocial",
                   organisation="/civil-society/quimera", categories=["psychosocial_needs"])
    referral_event(producer, "referral.accepted", referral_id=rid2, case_id=case["id"], service_type="psychosocial",
                   organisation="/civil-society/quimera")
    until_status(intake, rid2, 200, "provider.quimera")  # the later events were processed
    assert shared(intake, rid, "provider.quimera").status_code == 404


def test_completed_referral_keeps_read_access_for_follow_up(intake, producer):
    case = register(intake, sharing=[{"recipient_organisation": "/civil-society/hias", "categories": ["legal_needs"]}],
                    needs=["legal_aid"])
    rid = str(uuid.uuid4())
    referral_event(producer, "referral.created", referral_id=rid, case_id=case["id"], service_type="legal_aid",
                   organisation="/civil-society/hias", categories=["legal_needs"])
    referral_event(producer, "referral.completed", referral_id=rid, case_id=case["id"], service_type="legal_aid",
                   organisation="/civil-society/hias", counter_referral={"outcome": "service_delivered"})
    body = until_status(intake, rid, 200, "provider.hias").json()
    assert body["legal_needs"]["needs"] == ["legal_aid"]
    referral_event(producer, "referral.closed", referral_id=rid, case_id=case["id"], service_type="legal_aid",
                   organisation="/civil-society/hias", reason_code="other")
    until_status(intake, rid, 404, "provider.hias")


def test_consent_endpoints(intake, kafka_tap):
    case = register(intake, reporting=False)
    path = f"/v1/cases/{case['id']}/consents"
    now = datetime.now(UTC).isoformat()
    grant = {"purpose": "sharing", "given_by": "survivor", "given_at": now,
             "recipient_organisation": "/government/msp/hospital-tulcan", "categories": ["health_needs"]}
    r = intake.call("POST", path, user="caseworker.tulcan", json=grant)
    assert r.status_code == 201 and r.json()["active"]
    renewal = {"purpose": "registration", "given_by": "survivor", "given_at": now, "reporting": True}
    assert intake.call("POST", path, user="caseworker.tulcan", json=renewal).status_code == 201
    assert intake.call("GET", f"/v1/cases/{case['id']}", user="caseworker.tulcan").json()["reporting_consent"] is True
    for bad in ({**grant, "recipient_service_type": "psychosocial"}, {**grant, "categories": []},
                {**grant, "given_by": "adolescent"}, {**grant, "expires_at": "2000-01-01T00:00:00Z"},
                {**grant, "given_at": "2999-01-01T00:00:00Z"}, {**grant, "recipient_organisation": "ZqEvil"},
                {**renewal, "reporting": None}, {**grant, "extra": "ZqEvil"}):
        bad_r = intake.call("POST", path, user="caseworker.tulcan", json=bad)
        assert bad_r.status_code == 422 and "ZqEvil" not in bad_r.text
    assert intake.call("POST", path, user="caseworker.quito", json=grant).status_code == 404
    assert intake.call("DELETE", f"{path}/{uuid.uuid4()}", user="caseworker.tulcan").status_code == 404
    assert intake.call("GET", path, user="caseworker.quito").status_code == 404


def test_withdrawing_consent_to_be_registered_closes_the_case(intake, kafka_tap):
    case = register(intake, sharing=[{"recipient_organisation": ALAS, "categories": ["identity"]}])
    consents = intake.call("GET", f"/v1/cases/{case['id']}/consents", user="caseworker.tulcan").json()["items"]
    registration_consent = next(c for c in consents if c["purpose"] == "registration")
    r = intake.call("DELETE", f"/v1/cases/{case['id']}/consents/{registration_consent['id']}", user="caseworker.tulcan")
    assert r.status_code == 200
    after = intake.call("GET", f"/v1/cases/{case['id']}", user="caseworker.tulcan").json()
    assert after["status"] == "closed" and after["closure_reason"] == "consent_withdrawn"
    assert after["reporting_consent"] is False
    drain(intake)
    withdrawn = wait_for(lambda: when(
        [e for e in events_for(kafka_tap, ["careroute.consent"], case["id"]) if e.name == "consent.withdrawn"],
        lambda evs: len(evs) == 2), message="both consents withdrawn")
    assert {e.data["purpose"] for e in withdrawn} == {"registration", "sharing"}


_ = registration
