"""Planted personal data (unique markers in names, phone, document number, address, caregiver,
safety plan and notes) never appears in any event on any topic, in the logs, in /metrics or in
error bodies."""
import io
import logging
import random
import uuid
from datetime import UTC, datetime

import pytest
from careroute_platform.contracts import topics
from careroute_platform.logging import PersonalDataGuard
from pythonjsonlogger.json import JsonFormatter

from .conftest import drain, incident, marker, registration

pytestmark = pytest.mark.integration


def test_planted_personal_data_stays_in_the_vault(intake, kafka_tap, caplog):
    given, family, address = marker("PGiven"), marker("PFamily"), marker("PAddress")
    caregiver, plan, note = marker("PCare"), marker("PPlan"), marker("PNote")
    digits = "".join(random.choice("0123456789") for _ in range(8))
    phone, document = f"+593 9{digits[:1]} {digits[1:4]} {digits[4:]}", f"ZQ{uuid.uuid4().hex[:12].upper()}"
    planted = [given, family, address, caregiver, plan, note, phone, phone.replace(" ", ""), document]

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PersonalDataGuard())
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    caplog.set_level(logging.INFO)
    try:
        body = registration(given=given, family=family, phone=phone, document=document, risk="high",
                            dob="2010-02-01", consent={"given_by": "adolescent"},
                            incident=incident(days_ago=0, gbvims_type="rape", legal_types=["sexual"]),
                            sharing=[{"recipient_organisation": "/civil-society/alas-de-colibri",
                                      "categories": ["identity", "contact_details"]}])
        body["survivor"].update(address=address, caregiver={"given_names": caregiver, "relationship": "mother",
                                                            "phone": phone})
        body["risk"]["safety_plan"] = f"Stay at {plan}"
        created = intake.call("POST", "/v1/cases", user="caseworker.tulcan", json=body)
        assert created.status_code == 201, created.text
        case = created.json()
        cid = case["id"]
        bodies = [created.text]
        calls = [
            ("POST", f"/v1/cases/{cid}/notes", "caseworker.tulcan", {"note_type": "follow_up", "text": note}, {}),
            ("GET", f"/v1/cases/{cid}/identity?purpose=contact_survivor", "caseworker.tulcan", None, {}),
            ("GET", f"/v1/cases/{cid}/export", "supervisor.tulcan", None, {}),
            ("PUT", f"/v1/cases/{cid}/identity", "caseworker.tulcan",
             {"given_names": given, "family_names": family, "phone": phone, "document_type": "passport",
              "document_number": document, "date_of_birth": "2010-02-01"}, {"If-Match": 'W/"1"'}),
            ("POST", f"/v1/cases/{cid}/transfers", "caseworker.tulcan",
             {"to_office": "/iom/centro-amor-quito", "reason_code": "safety",
              "consent": {"given_by": "adolescent", "given_at": datetime.now(UTC).isoformat()}}, {}),
            ("PATCH", f"/v1/cases/{cid}", "caseworker.tulcan",
             {"risk": {"level": "high", "safety_plan": f"Moved: {plan}"}, "needs": ["safe_shelter"]}, {"If-Match": 'W/"2"'}),
        ]
        for method, path, user, json_body, headers in calls:
            r = intake.call(method, path, user=user, json=json_body, headers=headers)
            assert r.status_code < 300, (path, r.status_code)
        # Error paths, with the planted values in the input: never echoed.
        bad_calls = [
            ("POST", "/v1/cases", {**body, "survivor": {**body["survivor"], "phone": f"{phone} ext {given}"}}),
            ("POST", "/v1/cases", {**body, "profile": {**body["profile"], "nationality": given}}),
            ("POST", "/v1/cases", {**body, "notes": note}),
            ("POST", f"/v1/cases/{cid}/notes", {"note_type": given, "text": note}),
            ("POST", f"/v1/cases/{cid}/notes", {"note_type": "other", "text": note + "\x00"}),
            ("PUT", f"/v1/cases/{cid}/identity", {"given_names": given, "document_number": document}),
            ("PATCH", f"/v1/cases/{cid}", {"caseworker": given}),
        ]
        for method, path, json_body in bad_calls:
            r = intake.call(method, path, user="caseworker.tulcan", json=json_body, headers={"If-Match": 'W/"3"'})
            assert r.status_code in (400, 404, 409, 412, 422), (path, r.status_code)
            bodies.append(r.text)
        r = intake.call("GET", f"/v1/cases/{cid}/identity?purpose=contact_survivor", user="caseworker.quito")
        assert r.status_code == 404
        bodies.append(r.text)
        drain(intake)
    finally:
        logging.getLogger().removeHandler(handler)

    # 1. events on every topic (values and headers), including the dead-letter topics
    names = [t for name in topics() for t in (name, f"{name}.dlt")]
    records = kafka_tap.read_all(names)
    assert any(r.key == cid.encode() for r in records)
    for record in records:
        blob = (record.value or b"") + b"".join(v for _, v in record.headers or [])
        for value in planted:
            assert value.encode() not in blob, f"planted value on {record.topic}"

    # 2. logs: the JSON output and every raw record with all its attributes
    logged = stream.getvalue() + "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    for value in planted:
        assert value not in logged

    # 3. /metrics: no planted values, and no ids in labels
    metrics = intake.client.get("/metrics").text
    assert "intake_cases_registered_total" in metrics and "intake_consents_withdrawn_total" in metrics
    for value in [*planted, cid, case["survivor_code"]]:
        assert value not in metrics

    # 4. error bodies (only the success bodies of identity reads may carry them)
    for text in bodies[1:]:
        for value in planted:
            assert value not in text
    assert given not in bodies[0]  # the registration answer carries no identity
