"""Registration: consent first, identity into the vault, codes-only events, idempotency, validation
and refused callers."""
import uuid

import pytest
from careroute_devstack.testing import wait_for
from intake.adapters.orm import cases, vault_fields
from sqlalchemy import select

from .conftest import drain, dump, events_for, events_including, incident, marker, register, registration

pytestmark = pytest.mark.integration
CASE_TOPICS = ["careroute.case", "careroute.consent"]


def test_registration_publishes_codes_only_events(intake, kafka_tap):
    given, family, doc = marker("Given"), marker("Family"), "V" + uuid.uuid4().hex[:9]
    body = registration(given=given, family=family, document=doc,
                        incident=incident(days_ago=1, gbvims_type="rape", legal_types=["sexual", "fisica"]),
                        sharing=[{"recipient_organisation": "/civil-society/alas-de-colibri",
                                  "categories": ["health_needs", "identity"]}])
    r = intake.call("POST", "/v1/cases", user="caseworker.tulcan", json=body)
    assert r.status_code == 201, r.text
    case = r.json()
    assert r.headers["etag"] == 'W/"1"' and r.headers["location"] == f"/v1/cases/{case['id']}"
    assert case["survivor_code"].startswith("TUL-") and case["office"] == "/iom/tulcan"
    assert case["clinical_window"]["pep_open"] is True
    assert given not in r.text and doc not in r.text  # identity is not in the case representation

    drain(intake)
    wanted = {"case.registered", "incident.recorded", "consent.granted", "case.clinical_window_opened"}
    found = wait_for(lambda: events_including(kafka_tap, CASE_TOPICS, case["id"], wanted), message="registration events")
    by_name = {e.name: e for e in found}
    registered = by_name["case.registered"].data
    assert registered["survivor_code"] == case["survivor_code"] and registered["office"] == "/iom/tulcan"
    assert registered["age_band"] == "26_40" and registered["reporting_consent"] is True
    assert set(registered["clinical_window"]) == {"incident_id", "incident_at", "pep_deadline", "ec_deadline"}
    assert by_name["incident.recorded"].data["sexual_violence"] is True
    assert by_name["case.registered"].type == "org.iom.careroute.case.registered.v1"
    granted = [e.data for e in found if e.name == "consent.granted"]
    assert {g["purpose"] for g in granted} == {"registration", "sharing"}
    assert any(g.get("recipient_organisation") == "/civil-society/alas-de-colibri"
               and g["categories"] == ["health_needs", "identity"] for g in granted)
    for e in found:
        assert given not in dump(e.data) and family not in dump(e.data) and doc not in dump(e.data)


def test_identity_is_stored_only_as_ciphertext(intake):
    given = marker("Cipher")
    case = register(intake, given=given)
    with intake.runtime.engine.connect() as conn:
        blobs = conn.execute(select(vault_fields.c.ciphertext).where(vault_fields.c.case_id == case["id"])).scalars().all()
        row = conn.execute(select(cases).where(cases.c.id == case["id"])).one()
    assert blobs and all(given.encode() not in b for b in blobs)
    assert given not in dump(row._asdict())


def test_double_submission_with_an_idempotency_key_makes_one_case(intake):
    body = registration(given=marker("Idem"))
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = intake.call("POST", "/v1/cases", user="caseworker.tulcan", json=body, headers=headers)
    second = intake.call("POST", "/v1/cases", user="caseworker.tulcan", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    with intake.runtime.engine.connect() as conn:
        count = conn.execute(select(cases.c.id).where(cases.c.survivor_code == first.json()["survivor_code"])).all()
    assert len(count) == 1
    body["needs"] = ["legal_aid"]
    reused = intake.call("POST", "/v1/cases", user="caseworker.tulcan", json=body, headers=headers)
    assert reused.status_code == 422 and reused.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b["profile"].update(nationality="QQ"), "nationality"),
    (lambda b: b["profile"].update(canton="1701"), "profile"),
    (lambda b: b["survivor"].update(given_names="Ana\u202eZqEvil"), "given_names"),
    (lambda b: b["survivor"].update(phone="call ZqEvil please"), "phone"),
    (lambda b: b["survivor"].update(date_of_birth="2999-01-01"), "survivor"),
    (lambda b: b.update(survivor_code="TUL-2026-AAAAAA"), "survivor_code"),
    (lambda b: b["consent"].update(registration=False), "registration"),
    (lambda b: b["risk"].update(level="high"), "safety_plan"),
    (lambda b: b["profile"].update(age_years=12), "age_years"),
    (lambda b: b["consent"].update(given_by="adolescent"), "given_by"),
    (lambda b: b.update(needs=["health_cmr", "health_cmr"]), "needs"),
    (lambda b: b["consent"].update(given_at="2999-01-01T00:00:00Z"), "given_at"),
])
def test_bad_registrations_get_problem_json_without_echo(intake, mutate, field):
    body = registration(given="ZqEvilGiven")
    mutate(body)
    r = intake.call("POST", "/v1/cases", user="caseworker.tulcan", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "ZqEvil" not in r.text and "2999" not in r.text
    assert any(field in (e.get("field") or "") for e in r.json().get("errors", [])), r.text


def test_a_child_needs_a_caregiver_and_her_assent(intake):
    body = registration(dob="2016-01-10", consent={"given_by": "caregiver", "caregiver_relationship": "mother"})
    r = intake.call("POST", "/v1/cases", user="caseworker.tulcan", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "consent-child-assent"
    body["consent"]["child_assent"] = True
    assert intake.call("POST", "/v1/cases", user="caseworker.tulcan", json=body).status_code == 201


def test_partner_caseworker_registers_for_her_organisation(intake):
    case = register(intake, user="caseworker.alas")
    assert case["office"] == "/civil-society/alas-de-colibri" and case["survivor_code"].startswith("ALA-")
    assert intake.call("GET", f"/v1/cases/{case['id']}", user="caseworker.alas").status_code == 200
    assert intake.call("GET", f"/v1/cases/{case['id']}", user="caseworker.tulcan").status_code == 404


@pytest.mark.parametrize("user, status", [(None, 401), ("official.ministerio", 403), ("auditor.oversight", 403),
                                          ("provider.alas", 403), ("admin.directory", 403)])
def test_who_may_not_register(intake, user, status):
    r = intake.call("POST", "/v1/cases", user=user, json=registration())
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")


def test_same_survivor_at_two_offices_is_flagged_to_supervisors(intake, kafka_tap):
    given, family = marker("Dup"), marker("Dup")
    first = register(intake, given=given, family=family, dob="1990-07-01", document="")
    second = register(intake, user="caseworker.quito", given=given.upper(), family=f" {family.lower()} ",
                      dob="1990-07-01", document="")
    drain(intake)
    flagged = wait_for(lambda: [e for e in events_for(kafka_tap, ["careroute.case"], second["id"])
                                if e.name == "case.possible_duplicate"], message="duplicate flag")
    assert flagged[0].data == {"case_id": second["id"], "office": "/iom/centro-amor-quito",
                               "other_case_id": first["id"], "other_office": "/iom/tulcan", "matched_on": "name_dob"}
    for user in ("supervisor.tulcan", "supervisor.quito"):
        r = intake.call("GET", "/v1/duplicates", user=user)
        assert r.status_code == 200 and any(d["case_id"] == second["id"] for d in r.json()["items"])
    assert given not in intake.call("GET", "/v1/duplicates", user="supervisor.tulcan").text
    assert intake.call("GET", "/v1/duplicates", user="caseworker.tulcan").status_code == 403
    flag_id = next(d["id"] for d in intake.call("GET", "/v1/duplicates", user="supervisor.quito").json()["items"]
                   if d["case_id"] == second["id"])
    r = intake.call("POST", f"/v1/duplicates/{flag_id}/resolve", user="supervisor.quito",
                    json={"resolution": "confirmed"})
    assert r.status_code == 200 and r.json()["status"] == "confirmed"


def test_duplicate_resolution_refusals(intake):
    assert intake.call("POST", "/v1/duplicates/00000000-0000-4000-8000-000000000000/resolve", user="supervisor.tulcan",
                       json={"resolution": "confirmed"}).status_code == 404
    bad = intake.call("POST", "/v1/duplicates/00000000-0000-4000-8000-000000000000/resolve", user="supervisor.tulcan",
                      json={"resolution": "ZqEvil"})
    assert bad.status_code == 422 and "ZqEvil" not in bad.text
    assert intake.call("POST", "/v1/duplicates/00000000-0000-4000-8000-000000000000/resolve",
                       json={"resolution": "confirmed"}).status_code == 401
    assert intake.call("GET", "/v1/duplicates?status=ZqEvil", user="supervisor.tulcan").status_code == 422
    assert intake.call("GET", "/v1/transfers?direction=sideways", user="caseworker.tulcan").status_code == 422
