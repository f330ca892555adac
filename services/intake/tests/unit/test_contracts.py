"""The intake event contracts: closed schemas that refuse free text where a code belongs."""
import json

import pytest
from careroute_platform.contracts import ContractViolation, contracts_dir, topic_for, validate

pytestmark = pytest.mark.unit
CASE_ID = "6f1c1a52-3d0e-4b8e-9a57-0c7a1d3c2b11"
NAMES = ["case.registered", "case.updated", "case.closed", "case.erased", "case.clinical_window_opened",
         "case.possible_duplicate", "incident.recorded", "transfer.requested", "transfer.accepted",
         "transfer.declined", "transfer.expired", "consent.granted", "consent.withdrawn"]


@pytest.mark.parametrize("name", NAMES)
def test_schemas_are_closed_and_routed(name):
    schema = json.loads((contracts_dir() / "events" / f"{name}.v1.json").read_text())
    assert schema["additionalProperties"] is False and "case_id" in schema["required"]
    assert topic_for(name.split(".")[0]) in ("careroute.case", "careroute.consent")


REGISTERED = {"case_id": CASE_ID, "survivor_code": "TUL-2026-7QK4M2", "office": "/iom/tulcan",
              "caseworker": "0d6a9c3e-8f5b-4c2a-b1e7-3a9d2c4e5f60", "age_band": "26_40", "sex": "female",
              "nationality": "VE", "mobility_status": "refugee", "province": "04", "canton": "0401",
              "risk_level": "high", "needs": ["health_cmr"], "reporting_consent": True, "clinical_window": None}


def test_a_valid_registration_event():
    validate("org.iom.careroute.case.registered.v1", REGISTERED)


@pytest.mark.parametrize("field, value", [("survivor_code", "Maria Perez"), ("caseworker", "maria.perez"),
                                          ("canton", "Tulcán"), ("nationality", "Venezuela"),
                                          ("office", "/iom/Maria Perez"), ("given_names", "Maria")])
def test_free_text_is_refused(field, value):
    with pytest.raises(ContractViolation) as err:
        validate("org.iom.careroute.case.registered.v1", {**REGISTERED, field: value})
    assert value not in str(err.value)


def test_consent_names_exactly_one_recipient():
    base = {"case_id": CASE_ID, "consent_id": CASE_ID, "office": "/iom/tulcan", "purpose": "sharing",
            "given_by": "survivor", "categories": ["identity"], "reporting": False, "expires_at": None}
    validate("org.iom.careroute.consent.granted.v1", {**base, "recipient_service_type": "psychosocial"})
    with pytest.raises(ContractViolation):
        validate("org.iom.careroute.consent.granted.v1", base)
    with pytest.raises(ContractViolation):
        validate("org.iom.careroute.consent.granted.v1", {**base, "recipient_service_type": "psychosocial",
                                                         "recipient_organisation": "/civil-society/hias"})
