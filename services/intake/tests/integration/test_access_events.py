"""Every read and write, allowed or denied, becomes an access event on careroute.access."""
import pytest
from careroute_devstack.testing import wait_for

from .conftest import drain, register

pytestmark = pytest.mark.integration


def access_events(tap, resource_id):
    return [e.data for e in tap.events(["careroute.access"]) if e.data["resource"]["id"] == resource_id]


def test_allowed_and_denied_reads_are_recorded(intake, kafka_tap):
    case = register(intake)
    cid = case["id"]
    intake.call("GET", f"/v1/cases/{cid}", user="caseworker.tulcan")
    intake.call("GET", f"/v1/cases/{cid}/identity?purpose=safety_planning", user="supervisor.tulcan")
    intake.call("GET", f"/v1/cases/{cid}", user="caseworker.quito")              # outside the office
    intake.call("GET", f"/v1/cases/{cid}/export", user="caseworker.tulcan")      # role refused at the door
    drain(intake)

    def recorded():
        evs = access_events(kafka_tap, cid)
        wanted = {("case.create", "allowed"), ("case.read", "allowed"), ("identity.read", "allowed"),
                  ("case.read", "denied")}
        return evs if wanted <= {(e["action"], e["outcome"]) for e in evs} else None

    evs = wait_for(recorded, timeout=30, message="access events")
    denied = next(e for e in evs if e["action"] == "case.read" and e["outcome"] == "denied")
    assert denied["reason"] == "outside-office" and denied["actor"]["organisation"] == "/iom/centro-amor-quito"
    assert denied["service"] == "intake" and denied["resource"] == {"type": "case", "id": cid}
    identity = next(e for e in evs if e["action"] == "identity.read")
    assert identity["purpose"] == "safety_planning" and identity["resource"]["type"] == "case.identity"
    assert identity["actor"]["roles"] == ["supervisor"] and identity["trace_id"]
    role_denials = [e.data for e in kafka_tap.events(["careroute.access"])
                    if e.data["reason"] == "role-missing" and e.data["action"] == "GET /v1/cases/{case_id}/export"]
    assert role_denials


def test_unauthenticated_calls_are_recorded(intake, kafka_tap):
    intake.call("GET", "/v1/statistics/incidents", headers={"Authorization": "Bearer not-a-token"})
    drain(intake)
    wait_for(lambda: [e for e in kafka_tap.events(["careroute.access"])
                      if e.data["action"] == "authenticate" and e.data["outcome"] == "denied"
                      and e.data["resource"]["id"] == "/v1/statistics/incidents"], message="authentication denial")
