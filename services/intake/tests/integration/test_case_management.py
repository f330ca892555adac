"""Reading, listing, updating (If-Match), closing; incidents and notes."""
import pytest
from careroute_devstack.testing import wait_for
from intake.adapters.orm import case_notes
from sqlalchemy import select

from .conftest import drain, dump, events_for, incident, marker, register

pytestmark = pytest.mark.integration


def test_read_gives_etag_and_stays_in_the_office(intake):
    case = register(intake)
    r = intake.call("GET", f"/v1/cases/{case['id']}", user="supervisor.tulcan")
    assert r.status_code == 200 and r.headers["etag"] == 'W/"1"'
    assert r.json()["profile"]["nationality"] == "VE"
    for user in ("caseworker.quito", "supervisor.quito", "caseworker.alas", "caseworker.lagoagrio"):
        other = intake.call("GET", f"/v1/cases/{case['id']}", user=user)
        assert other.status_code == 404 and other.headers["content-type"].startswith("application/problem+json")
    missing = intake.call("GET", "/v1/cases/00000000-0000-4000-8000-000000000000", user="caseworker.tulcan")
    assert missing.status_code == 404
    assert intake.call("GET", "/v1/cases/not-a-uuid", user="caseworker.tulcan").status_code == 422


@pytest.mark.parametrize("user, status", [(None, 401), ("official.ministerio", 403), ("auditor.oversight", 403),
                                          ("provider.alas", 403)])
def test_case_endpoints_refuse_non_staff(intake, user, status):
    case = register(intake)
    for method, path in (("GET", f"/v1/cases/{case['id']}"), ("GET", "/v1/cases"),
                         ("GET", f"/v1/cases/{case['id']}/notes"), ("GET", f"/v1/cases/{case['id']}/incidents"),
                         ("GET", f"/v1/cases/{case['id']}/consents")):
        assert intake.call(method, path, user=user).status_code == status


def test_list_paginates_filters_and_stays_in_scope(intake):
    ids = {register(intake, user="caseworker.lagoagrio", risk=risk)["id"] for risk in ("low", "low", "medium")}
    page = intake.call("GET", "/v1/cases?limit=2&offset=0", user="caseworker.lagoagrio").json()
    assert page["limit"] == 2 and len(page["items"]) == 2 and page["total"] >= 3
    assert all(c["office"] == "/iom/lago-agrio" for c in page["items"])
    low = intake.call("GET", "/v1/cases?risk_level=low&limit=100", user="caseworker.lagoagrio").json()
    assert {c["risk_level"] for c in low["items"]} == {"low"} and len(ids & {c["id"] for c in low["items"]}) == 2
    tulcan = intake.call("GET", "/v1/cases?limit=100", user="caseworker.tulcan").json()
    assert not ids & {c["id"] for c in tulcan["items"]}
    for bad in ("limit=0", "limit=101", "offset=-1", "status=nope", "survivor_code=ZqEvil"):
        r = intake.call("GET", f"/v1/cases?{bad}", user="caseworker.tulcan")
        assert r.status_code == 422 and "ZqEvil" not in r.text


def test_update_requires_if_match_and_refuses_stale_versions(intake, kafka_tap):
    case = register(intake)
    path = f"/v1/cases/{case['id']}"
    change = {"needs": ["legal_aid"], "profile": {"disability": ["visual"]}}
    assert intake.call("PATCH", path, user="caseworker.tulcan", json=change).status_code == 428
    ok = intake.call("PATCH", path, user="caseworker.tulcan", json=change, headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == 'W/"2"' and ok.json()["needs"] == ["legal_aid"]
    stale = intake.call("PATCH", path, user="caseworker.tulcan", json={"needs": ["psychosocial"]},
                        headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412 and stale.json()["current_etag"] == 'W/"2"'
    other_office = intake.call("PATCH", path, user="caseworker.quito", json=change, headers={"If-Match": 'W/"2"'})
    assert other_office.status_code == 404
    drain(intake)
    updated = wait_for(lambda: [e for e in events_for(kafka_tap, ["careroute.case"], case["id"])
                                if e.name == "case.updated"], message="case.updated")
    assert updated[0].data["changed"] == ["disability", "needs"] and updated[0].data["version"] == 2


@pytest.mark.parametrize("body", [{}, {"needs": None}, {"status": "closed"}, {"risk": {"level": "high"}},
                                  {"office": "/iom/quito"}, {"profile": {"sex": None}},
                                  {"profile": {"age_years": 70}}, {"caseworker": "ZqEvil<script>"}])
def test_bad_updates(intake, body):
    case = register(intake)
    r = intake.call("PATCH", f"/v1/cases/{case['id']}", user="caseworker.tulcan", json=body,
                    headers={"If-Match": 'W/"1"'})
    assert r.status_code == 422, r.text
    assert "ZqEvil" not in r.text


def test_high_risk_needs_a_safety_plan_which_stays_in_the_vault(intake):
    case = register(intake)
    plan = marker("Plan")
    r = intake.call("PATCH", f"/v1/cases/{case['id']}", user="caseworker.tulcan",
                    json={"risk": {"level": "high", "safety_plan": f"Safe house via {plan}"}}, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 200 and r.json()["safety_plan_in_place"] is True
    assert plan in intake.call("GET", f"/v1/cases/{case['id']}", user="caseworker.tulcan").json()["safety_plan"]


def test_close_and_reopen(intake, kafka_tap):
    case = register(intake)
    path = f"/v1/cases/{case['id']}"
    assert intake.call("POST", f"{path}/close", user="caseworker.tulcan", json={"closure_reason": "needs_met"}
                       ).status_code == 428
    assert intake.call("POST", f"{path}/close", user="caseworker.tulcan", json={"closure_reason": "ZqEvil"},
                       headers={"If-Match": 'W/"1"'}).status_code == 422
    closed = intake.call("POST", f"{path}/close", user="caseworker.tulcan", json={"closure_reason": "needs_met"},
                         headers={"If-Match": 'W/"1"'})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    again = intake.call("POST", f"{path}/close", user="caseworker.tulcan", json={"closure_reason": "needs_met"},
                        headers={"If-Match": 'W/"2"'})
    assert again.status_code == 409
    blocked = intake.call("POST", f"{path}/incidents", user="caseworker.tulcan", json=incident())
    assert blocked.status_code == 409
    reopened = intake.call("PATCH", path, user="caseworker.tulcan", json={"status": "open"}, headers={"If-Match": 'W/"2"'})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    drain(intake)
    wait_for(lambda: [e for e in events_for(kafka_tap, ["careroute.case"], case["id"])
                      if e.name == "case.closed" and e.data["closure_reason"] == "needs_met"], message="case.closed")


def test_incidents_and_clinical_window_on_an_existing_case(intake, kafka_tap):
    case = register(intake)
    r = intake.call("POST", f"/v1/cases/{case['id']}/incidents", user="caseworker.tulcan",
                    json=incident(days_ago=0, gbvims_type="sexual_assault", legal_types=["sexual"],
                                  context_flags=["intimate_partner_violence"], reported_to=["police"]))
    assert r.status_code == 201, r.text
    assert r.json()["sexual_violence"] is True
    listed = intake.call("GET", f"/v1/cases/{case['id']}/incidents", user="caseworker.tulcan").json()
    assert [i["id"] for i in listed] == [r.json()["id"]]
    assert intake.call("GET", f"/v1/cases/{case['id']}", user="caseworker.tulcan").json()["clinical_window"]["ec_open"]
    drain(intake)
    window = wait_for(lambda: [e for e in events_for(kafka_tap, ["careroute.case"], case["id"])
                               if e.name == "case.clinical_window_opened"], message="clinical window")
    assert window[0].data["incident_id"] == r.json()["id"]
    for bad in ({**incident(), "gbvims_type": "ZqEvil"}, {**incident(), "occurred_on": "2999-01-01"},
                {**incident(), "perpetrators": {"count": 0, "sex": "male", "age_group": "0_11", "relationship": "unknown"}},
                {**incident(), "narrative": "ZqEvil story"}, {**incident(), "reported_to": ["not_reported", "police"]}):
        bad_r = intake.call("POST", f"/v1/cases/{case['id']}/incidents", user="caseworker.tulcan", json=bad)
        assert bad_r.status_code == 422 and "ZqEvil" not in bad_r.text
    assert intake.call("POST", f"/v1/cases/{case['id']}/incidents", user="caseworker.quito",
                       json=incident()).status_code == 404


def test_notes_are_sealed_and_only_for_the_office(intake):
    case = register(intake)
    text = f"Survivor said {marker('Note')}"
    r = intake.call("POST", f"/v1/cases/{case['id']}/notes", user="caseworker.tulcan",
                    json={"note_type": "follow_up", "text": text})
    assert r.status_code == 201
    with intake.runtime.engine.connect() as conn:
        blobs = conn.execute(select(case_notes.c.ciphertext).where(case_notes.c.case_id == case["id"])).scalars().all()
    assert blobs and text.encode() not in blobs[0]
    notes = intake.call("GET", f"/v1/cases/{case['id']}/notes", user="supervisor.tulcan").json()
    assert notes["total"] == 1 and notes["items"][0]["text"] == text
    assert intake.call("GET", f"/v1/cases/{case['id']}/notes", user="caseworker.quito").status_code == 404
    for bad in ({"note_type": "follow_up", "text": "x" * 8001}, {"note_type": "follow_up", "text": "ZqEvil\x07"},
                {"note_type": "gossip", "text": "ZqEvil"}, {"note_type": "follow_up"}):
        bad_r = intake.call("POST", f"/v1/cases/{case['id']}/notes", user="caseworker.tulcan", json=bad)
        assert bad_r.status_code == 422 and "ZqEvil" not in bad_r.text and "xxxxxxxx" not in bad_r.text
    assert dump(notes)  # serialisable


def test_vocabularies_are_bilingual(intake):
    r = intake.call("GET", "/v1/vocabularies", user="caseworker.tulcan")
    assert r.status_code == 200
    body = r.json()
    assert {"code": "rape", "labels": {"es": "Violación", "en": "Rape"}} in body["gbvims_type"]
    assert any(p["code"] == "04" for p in body["province"])
    assert intake.call("GET", "/v1/vocabularies").status_code == 401


def test_openapi_documents_every_operation_with_its_errors(intake):
    spec = intake.client.get("/openapi.json").json()
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    assert len(operations) >= 24
    for path, method, op in operations:
        assert path.startswith("/v1/")
        assert "401" in op["responses"], (method, path)
        if path != "/v1/vocabularies":
            assert "404" in op["responses"] and "422" in op["responses"], (method, path)
    registration = spec["paths"]["/v1/cases"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert registration["$ref"].endswith("/RegistrationIn")
    assert spec["components"]["schemas"]["RegistrationIn"]["additionalProperties"] is False
