"""Transfers along the migration route: request with consent, accept (ownership moves), decline,
expiry by the clock — each step an event and audited."""
from datetime import UTC, datetime, timedelta

import pytest
from careroute_devstack.testing import wait_for
from intake.entrypoints.clock import TransferClock
from intake.service_layer.context import intake_context

from .conftest import drain, events_for, events_including, register

pytestmark = pytest.mark.integration
QUITO = "/iom/centro-amor-quito"


def request(intake, case_id, to_office=QUITO, user="caseworker.tulcan", **consent):
    body = {"to_office": to_office, "reason_code": "survivor_relocating",
            "consent": {"given_by": "survivor", "given_at": datetime.now(UTC).isoformat(), **consent}}
    return intake.call("POST", f"/v1/cases/{case_id}/transfers", user=user, json=body)


def test_accepted_transfer_moves_the_case(intake, kafka_tap):
    case = register(intake)
    r = request(intake, case["id"])
    assert r.status_code == 201, r.text
    transfer = r.json()
    assert transfer["status"] == "pending" and r.headers["etag"] == 'W/"1"'
    assert request(intake, case["id"]).status_code == 409  # one pending transfer at a time

    incoming = intake.call("GET", "/v1/transfers?direction=incoming&status=pending", user="supervisor.quito").json()
    mine = next(t for t in incoming["items"] if t["id"] == transfer["id"])
    assert mine["case_summary"]["risk_level"] == "medium" and "given_names" not in str(mine)
    # the receiving office cannot read the case before accepting
    assert intake.call("GET", f"/v1/cases/{case['id']}", user="caseworker.quito").status_code == 404
    accept = f"/v1/cases/{case['id']}/transfers/{transfer['id']}/accept"
    assert intake.call("POST", accept, user="caseworker.quito").status_code == 428
    assert intake.call("POST", accept, user="caseworker.tulcan", headers={"If-Match": 'W/"1"'}).status_code == 404
    assert intake.call("POST", accept, user="caseworker.lagoagrio", headers={"If-Match": 'W/"1"'}).status_code == 404
    done = intake.call("POST", accept, user="caseworker.quito", headers={"If-Match": 'W/"1"'})
    assert done.status_code == 200 and done.json()["status"] == "accepted"
    assert intake.call("POST", accept, user="caseworker.quito", headers={"If-Match": 'W/"2"'}).status_code == 409

    moved = intake.call("GET", f"/v1/cases/{case['id']}", user="caseworker.quito")
    assert moved.status_code == 200 and moved.json()["office"] == QUITO
    assert intake.call("GET", f"/v1/cases/{case['id']}", user="caseworker.tulcan").status_code == 404
    outgoing = intake.call("GET", "/v1/transfers?direction=outgoing", user="caseworker.tulcan").json()
    kept = next(t for t in outgoing["items"] if t["id"] == transfer["id"])
    assert kept["status"] == "accepted" and kept["survivor_code"] is None  # only the transfer record remains
    drain(intake)
    found = wait_for(lambda: events_including(kafka_tap, ["careroute.case"], case["id"],
                                              {"transfer.requested", "transfer.accepted", "case.updated"}),
                     message="transfer events")
    assert found
    accepted = next(e for e in events_for(kafka_tap, ["careroute.case"], case["id"]) if e.name == "transfer.accepted")
    assert accepted.data == {"case_id": case["id"], "transfer_id": transfer["id"], "from_office": "/iom/tulcan",
                             "to_office": QUITO}


def test_declined_transfer_keeps_the_case(intake, kafka_tap):
    case = register(intake)
    transfer = request(intake, case["id"], to_office="/civil-society/alas-de-colibri").json()
    decline = f"/v1/cases/{case['id']}/transfers/{transfer['id']}/decline"
    bad = intake.call("POST", decline, user="caseworker.alas", json={"reason_code": "ZqEvil"}, headers={"If-Match": 'W/"1"'})
    assert bad.status_code == 422 and "ZqEvil" not in bad.text
    r = intake.call("POST", decline, user="caseworker.alas", json={"reason_code": "no_capacity"},
                    headers={"If-Match": 'W/"1"'})
    assert r.status_code == 200 and r.json()["status"] == "declined"
    assert intake.call("GET", f"/v1/cases/{case['id']}", user="caseworker.tulcan").json()["office"] == "/iom/tulcan"
    drain(intake)
    declined = wait_for(lambda: [e for e in events_for(kafka_tap, ["careroute.case"], case["id"])
                                 if e.name == "transfer.declined"], message="transfer.declined")
    assert declined[0].data["reason_code"] == "no_capacity"


def test_pending_transfers_expire(intake, kafka_tap):
    case = register(intake)
    transfer = request(intake, case["id"]).json()
    clock = TransferClock(intake_context(intake.runtime))
    clock.tick(now=datetime.now(UTC) + timedelta(hours=71))
    still = intake.call("GET", f"/v1/cases/{case['id']}/transfers/{transfer['id']}", user="caseworker.quito").json()
    assert still["status"] == "pending" and still["case_summary"] is not None
    clock.tick(now=datetime.now(UTC) + timedelta(hours=73))
    got = intake.call("GET", f"/v1/cases/{case['id']}/transfers/{transfer['id']}", user="caseworker.tulcan").json()
    assert got["status"] == "expired"
    late = intake.call("POST", f"/v1/cases/{case['id']}/transfers/{transfer['id']}/accept", user="caseworker.quito",
                       headers={"If-Match": f'W/"{got["version"]}"'})
    assert late.status_code == 409
    drain(intake)
    wait_for(lambda: [e for e in events_for(kafka_tap, ["careroute.case"], case["id"]) if e.name == "transfer.expired"],
             message="transfer.expired")


@pytest.mark.parametrize("to_office, status", [("/iom/tulcan", 409), ("/government/msp/hospital-tulcan", 409),
                                               ("not an office", 422)])
def test_bad_transfer_requests(intake, to_office, status):
    case = register(intake)
    r = request(intake, case["id"], to_office=to_office)
    assert r.status_code == status and "not an office" not in r.text


def test_transfer_refusals(intake):
    case = register(intake)
    assert request(intake, case["id"], user="caseworker.quito").status_code == 404
    assert request(intake, case["id"], given_by="adolescent").status_code == 422
    assert intake.call("GET", "/v1/transfers", user="official.ministerio").status_code == 403
    assert intake.call("GET", "/v1/transfers").status_code == 401
