"""Directory admin CRUD with refusals, search, HSDS export."""
import csv
import io
import json
import uuid
import zipfile

import pytest
from careroute_devstack.testing import wait_for

from .conftest import HIAS_LEGAL, MSP_TULCAN, SHELTER_TULCAN, access_events, create

pytestmark = pytest.mark.integration
ADMIN = "admin.directory"


def org_body(path):
    return {"group_path": path, "name": {"es": "Fundación Prueba", "en": "Test Foundation"},
            "description": {"es": "Organización de prueba.", "en": "Test organisation."},
            "email": "contacto@prueba.example", "phone": "+593 2 000 9999",
            "contacts": [{"name": "Mesa de referencias", "email": "ref@prueba.example"}]}


def service_body(org_id, **kw):
    body = {"organisation_id": org_id, "service_type": "psychosocial",
            "name": {"es": "Apoyo psicosocial de prueba", "en": "Test psychosocial support"},
            "description": {"es": "Servicio de prueba.", "en": "Test service."},
            "languages": ["es", "en"], "eligibility": {"min_age": 18, "sexes": ["female"]},
            "schedules": [{"weekday": d, "opens_at": "08:00", "closes_at": "17:00"} for d in range(5)],
            "locations": [{"name": "Sede Huaquillas", "province": "El Oro", "canton": "Huaquillas",
                           "canton_code": "0707", "address": "Calle ficticia 1"}]}
    body.update(kw)
    return body


def test_admin_crud_with_refusals(referral, kafka_tap):
    path = f"/civil-society/prueba-{uuid.uuid4().hex[:8]}"
    assert referral.call("POST", "/v1/directory/organisations", user="supervisor.tulcan",
                         json=org_body(path)).status_code == 403
    assert referral.client.post("/v1/directory/organisations", json=org_body(path)).status_code == 401
    bad = dict(org_body(path), group_path="/elsewhere/x")
    assert referral.call("POST", "/v1/directory/organisations", user=ADMIN, json=bad).status_code == 422
    created = referral.call("POST", "/v1/directory/organisations", user=ADMIN, json=org_body(path))
    assert created.status_code == 201, created.text
    org = created.json()
    assert org["kind"] == "civil-society" and org["etag"] == created.headers["etag"]
    assert referral.call("POST", "/v1/directory/organisations", user=ADMIN, json=org_body(path)).status_code == 409

    # renamed: names are data
    url = f"/v1/directory/organisations/{org['id']}"
    rename = {"name": {"es": "Fundación Prueba Renombrada", "en": "Renamed Test Foundation"}}
    assert referral.call("PATCH", url, user=ADMIN, json=rename).status_code == 428
    assert referral.call("PATCH", url, user=ADMIN, json=rename, headers={"If-Match": 'W/"9"'}).status_code == 412
    assert referral.call("PATCH", url, user=ADMIN, json={"status": None},
                         headers={"If-Match": org["etag"]}).status_code == 422
    renamed = referral.call("PATCH", url, user=ADMIN, json=rename, headers={"If-Match": org["etag"]})
    assert renamed.status_code == 200 and renamed.json()["name"]["es"] == "Fundación Prueba Renombrada"
    assert referral.call("PATCH", url, user="caseworker.tulcan", json=rename,
                         headers={"If-Match": renamed.headers["etag"]}).status_code == 403

    svc = referral.call("POST", "/v1/directory/services", user=ADMIN, json=service_body(org["id"]))
    assert svc.status_code == 201, svc.text
    service = svc.json()
    assert service["hours"]["timezone"] == "America/Guayaquil" and service["locations"][0]["canton_code"] == "0707"
    unknown_org = referral.call("POST", "/v1/directory/services", user=ADMIN, json=service_body(str(uuid.uuid4())))
    assert unknown_org.status_code == 422
    bad_hours = service_body(org["id"], schedules=[{"weekday": 9, "opens_at": "25:00", "closes_at": "08:00"}])
    assert referral.call("POST", "/v1/directory/services", user=ADMIN, json=bad_hours).status_code == 422
    suspended = referral.call("PATCH", f"/v1/directory/services/{service['id']}", user=ADMIN,
                              json={"status": "suspended"}, headers={"If-Match": service["etag"]})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"

    events = wait_for(lambda: (e := [x for x in kafka_tap.events(["careroute.directory"])
                                     if x.data.get("organisation_id") == org["id"]]) and len(e) >= 4 and e, 30,
                      message="directory events")
    # keyed by organisation or service id: order holds per entity, not across them
    per_entity = {}
    for e in events:
        per_entity.setdefault(e.type.rsplit(".", 2)[-2], []).append(e)
    assert [e.data["change"] for e in per_entity["organisation_changed"]] == ["created", "updated"]
    assert [e.data["change"] for e in per_entity["service_changed"]] == ["created", "updated"]
    last = per_entity["service_changed"][-1]
    assert last.data["status"] == "suspended" and last.data["cantons"] == ["Huaquillas"] and last.key == service["id"]
    audit = wait_for(lambda: access_events(kafka_tap, org["id"]), 30, message="admin write audited")
    assert {e.data["action"] for e in audit} >= {"directory.organisation.create", "directory.organisation.update"}
    denied = [e for e in kafka_tap.events(["careroute.access"]) if e.data["outcome"] == "denied"
              and e.data["action"] == "POST /v1/directory/organisations"]
    assert denied and denied[-1].data["reason"] == "role-missing"


def test_referral_to_a_suspended_service_is_refused_unless_overridden(referral, intake):
    org = referral.call("POST", "/v1/directory/organisations", user=ADMIN,
                        json=org_body(f"/civil-society/pausa-{uuid.uuid4().hex[:8]}")).json()
    svc = referral.call("POST", "/v1/directory/services", user=ADMIN,
                        json=service_body(org["id"], status="suspended", eligibility={})).json()
    case_id = intake.register()
    intake.grant(case_id, organisation=None, service_type="psychosocial", categories=("identity",))
    r = create(referral, case_id, service_id=svc["id"], categories=("identity",))
    assert r.status_code == 409 and r.json()["type"].endswith("/service-suspended")
    ok = create(referral, case_id, service_id=svc["id"], categories=("identity",), user="supervisor.tulcan",
                override={"justification": "La organización confirmó que atiende este caso hoy."})
    assert ok.status_code == 201 and ok.json()["override"]["kinds"] == ["service_suspended"]


def test_search_by_type_canton_open_now_and_case_eligibility(referral, intake, kafka_tap):
    r = referral.call("GET", "/v1/directory/services?service_type=health_cmr&canton=Tulcan&limit=100",
                      user="caseworker.tulcan").json()
    assert [s["id"] for s in r["items"]] == [MSP_TULCAN] and r["items"][0]["open_now"] is True
    by_code = referral.call("GET", "/v1/directory/services?service_type=health_cmr&canton=0401",
                            user="provider.hias").json()
    assert [s["id"] for s in by_code["items"]] == [MSP_TULCAN]
    # Sunday 3 a.m. in Ecuador: only 24/7 services
    night = referral.call("GET", "/v1/directory/services?canton=0401&open_at=2026-03-08T08:00:00Z&limit=100",
                          user="caseworker.tulcan").json()["items"]
    assert night and all(s["hours"]["open_24_7"] for s in night)
    man = intake.register(sex="male")
    eligible = referral.call("GET", f"/v1/directory/services?canton=0401&case_id={man}&limit=100",
                             user="caseworker.tulcan").json()["items"]
    assert SHELTER_TULCAN not in [s["id"] for s in eligible]
    assert all(s["eligibility_for_case"]["verdict"] != "not_eligible" for s in eligible)
    everything = referral.call("GET", f"/v1/directory/services?canton=0401&case_id={man}&include_ineligible=true"
                                      "&limit=100", user="caseworker.tulcan").json()["items"]
    assert next(s for s in everything if s["id"] == SHELTER_TULCAN)["eligibility_for_case"]["unmet"] == ["sex"]
    # another office may not search for this case; the attempt is audited
    assert referral.call("GET", f"/v1/directory/services?case_id={man}", user="caseworker.quito").status_code == 404
    denied = wait_for(lambda: [e for e in access_events(kafka_tap, man) if e.data["outcome"] == "denied"], 30,
                      message="denied search audited")
    assert denied[0].data["action"] == "directory.search_for_case"
    # shelters' addresses are never shown
    shelter = referral.call("GET", f"/v1/directory/services/{SHELTER_TULCAN}", user="caseworker.tulcan").json()
    assert shelter["locations"][0]["address"] is None and shelter["locations"][0]["confidential"] is True
    assert referral.call("GET", "/v1/directory/services?open_at=2026-03-08T08:00:00",
                         user="caseworker.tulcan").status_code == 422
    assert referral.call("GET", "/v1/directory/services", user=None).status_code == 401


def test_hsds_export_json_zip_and_csv(referral):
    exported = referral.call("GET", "/v1/directory/export/hsds.json?lang=en", user="caseworker.tulcan")
    assert exported.status_code == 200
    body = exported.json()
    assert body["hsds_version"] == "3.0" and body["total_items"] >= 45
    service = next(s for s in body["contents"] if s["id"] == HIAS_LEGAL)
    assert service["organization"]["name"] == "HIAS Ecuador"
    assert service["service_at_locations"] and service["attributes"][0]["taxonomy_term"]["code"] == "legal_aid"
    shelter = next(s for s in body["contents"] if s["id"] == SHELTER_TULCAN)
    assert shelter["service_at_locations"][0]["location"]["addresses"][0]["address_1"] == ""

    zipped = referral.call("GET", "/v1/directory/export/hsds.zip", user="provider.alas")
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    package = json.loads(archive.read("datapackage.json"))
    assert {r["name"] for r in package["resources"]} >= {"organization", "service", "location", "schedule"}
    services = list(csv.DictReader(io.StringIO(archive.read("service.csv").decode())))
    assert len(services) == body["total_items"]

    one = referral.call("GET", "/v1/directory/export/hsds/organization.csv", user="official.ministerio")
    assert one.status_code == 200 and one.headers["content-type"].startswith("text/csv")
    assert one.text.splitlines()[0].startswith("id,name,")
    assert referral.call("GET", "/v1/directory/export/hsds/nothing.csv", user="caseworker.tulcan").status_code == 404
    assert referral.call("GET", "/v1/directory/export/hsds.json?lang=fr", user="caseworker.tulcan").status_code == 422


def test_vocabularies_are_bilingual(referral):
    labels = referral.call("GET", "/v1/vocabularies", user="provider.msp-tulcan").json()
    assert labels["service_type"]["protection_measures"]["es"].startswith("Medidas de protección")
    assert set(labels["decline_reason"]["no_capacity"]) == {"es", "en"}


def test_seeding_is_idempotent_and_the_api_documents_itself(referral):
    from datetime import datetime, timezone

    from referral.service_layer.seed import seed_directory

    assert seed_directory(referral.runtime, now=datetime.now(timezone.utc)) == {"organisations": 0, "services": 0}
    spec = referral.client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/v1/referrals", "/v1/referrals/inbox", "/v1/referrals/{referral_id}/accept",
                 "/v1/directory/services", "/v1/directory/export/hsds.json", "/v1/statistics/referrals"):
        assert path in paths
    metrics = referral.client.get("/metrics").text
    assert "referral_transitions_total" in metrics
