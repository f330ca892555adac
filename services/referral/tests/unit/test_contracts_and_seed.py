"""Every event this service can emit validates against its contract and carries no free text; the
seed directory is well formed; the HSDS export has HSDS's tables and keeps shelters' addresses out."""
import json
import uuid
from datetime import UTC, datetime

import pytest
from careroute_platform import contracts
from referral.domain.referral import CounterReferral, DomainEvent
from referral.domain.vocabulary import OutcomeCode, ServiceType
from referral.service_layer.events import referral_event
from referral.service_layer.seed import CITIES, directory_seed

from .helpers import RECEIVER, REFERRER, SYSTEM, T0, later, new_referral

pytestmark = pytest.mark.unit
MARKER = "MARKER-7f3a"
FREE_TEXT_NAMES = {"reason", "note", "justification", "override_justification", "decline_note", "close_note",
                   "revoke_note", "name", "description"}


def all_lifecycle_events():
    events = []
    r = new_referral(reason=MARKER, clinical_window={"incident_at": T0.isoformat(), "pep_deadline": None,
                                                     "ec_deadline": None})
    r.mark_deadline_approaching(at=later(60))
    r.mark_overdue(at=later(72))
    r.accept(by=RECEIVER, at=later(73))
    r.complete(by=RECEIVER, at=later(80), counter_referral=CounterReferral(True, OutcomeCode.NEEDS_MET, True,
                                                                           (ServiceType.LEGAL_AID,), MARKER))
    events += [(r, e) for e in r.pull_events()]
    r2 = new_referral()
    r2.pull_events()
    r2.decline(by=RECEIVER, at=later(1), reason_code="other", note=MARKER)
    events += [(r2, e) for e in r2.pull_events()]
    r3 = new_referral()
    r3.pull_events()
    r3.accept(by=RECEIVER, at=later(1))
    r3.close(by=RECEIVER, at=later(2), reason_code="other", note=MARKER)
    events += [(r3, e) for e in r3.pull_events()]
    r4 = new_referral()
    r4.pull_events()
    r4.revoke(by=REFERRER, at=later(1), reason_code="other", note=MARKER)
    events += [(r4, e) for e in r4.pull_events()]
    r5 = new_referral()
    r5.pull_events()
    r5.expire(at=r5.expires_at)
    r6 = new_referral()
    r6.pull_events()
    r6.revoke(by=SYSTEM, at=later(1), reason_code="consent_withdrawn")
    events += [(r5, e) for e in r5.pull_events()] + [(r6, e) for e in r6.pull_events()]
    events.append((r6, DomainEvent("referral.purged", {})))
    return events


def test_every_referral_event_validates_and_carries_no_free_text():
    names = set()
    for referral, domain_event in all_lifecycle_events():
        event = referral_event(referral, domain_event, later(100))
        contracts.validate(event.type, event.data)
        assert MARKER not in json.dumps(event.data)
        assert event.key == referral.case_id
        names.add(domain_event.name)
    assert names == {f"referral.{n}" for n in ("created", "accepted", "declined", "expired", "revoked", "completed",
                                               "closed", "deadline_approaching", "overdue", "purged")}


def test_schemas_are_closed_and_carry_the_routing_fields():
    for event_type in contracts.known_event_types():
        name = event_type.removeprefix("org.iom.careroute.")
        if not name.startswith(("referral.", "directory.")):
            continue
        schema = json.loads((contracts.contracts_dir() / "events" / f"{name}.json").read_text())
        assert schema["additionalProperties"] is False
        assert not FREE_TEXT_NAMES & set(schema["properties"])
        if name.startswith("referral."):
            for field in ("referring_office", "referring_caseworker", "receiving_organisation", "priority", "status",
                          "service_type", "case_id", "referral_id"):
                assert field in schema["required"], (name, field)


def test_topics_carry_the_aggregates():
    assert contracts.topic_for("referral") == "careroute.referral"
    assert contracts.topic_for("directory") == "careroute.directory"


def test_a_contract_violation_is_refused_before_the_outbox():
    r = new_referral()
    (created,) = r.pull_events()
    event = referral_event(r, created, T0)
    bad = dict(event.data, reason="leaked")
    with pytest.raises(contracts.ContractViolation) as info:
        contracts.validate(event.type, bad)
    assert "leaked" not in str(info.value)


def test_seed_directory_is_well_formed():
    orgs, svcs = directory_seed()
    org_ids = [o["id"] for o in orgs]
    assert len(set(org_ids)) == len(org_ids) and len({o["group_path"] for o in orgs}) == len(orgs)
    assert len({s["id"] for s in svcs}) == len(svcs)
    paths = {o["group_path"] for o in orgs}
    types = {s["service_type"] for s in svcs}
    assert types == {t.value for t in ServiceType}
    cantons = {loc["canton"] for s in svcs for loc in s["locations"]}
    assert cantons == {c[1] for c in CITIES.values()}
    for s in svcs:
        assert s["organisation_path"] in paths
        for loc in s["locations"]:
            if loc["confidential"]:
                assert loc["address"] is None and loc["latitude"] is None
            else:
                assert -5.1 <= loc["latitude"] <= 1.7 and -92.1 <= loc["longitude"] <= -75.1
    for o in orgs:  # fictitious contact details only
        assert o["email"].endswith(".example") and o["website"].endswith(".example")
    # the realm's organisations take referrals through Care Route
    connected = {s["organisation_path"] for s in svcs if s["accepts_referrals"]}
    assert {"/government/msp/hospital-tulcan", "/government/fiscalia/carchi", "/civil-society/alas-de-colibri",
            "/civil-society/quimera", "/civil-society/hias", "/civil-society/casa-de-acogida-tulcan"} <= connected
    # ids are stable: the seed is idempotent across runs
    assert directory_seed()[0][0]["id"] == orgs[0]["id"]
    assert str(uuid.UUID(orgs[0]["id"])) == orgs[0]["id"]


def test_hsds_tables_from_the_seed():
    from datetime import time

    from referral.service_layer import hsds

    orgs, svcs = directory_seed()
    now = datetime(2026, 3, 2, tzinfo=UTC)
    org_rows = {}
    for o in orgs:
        org_rows[o["id"]] = {"id": o["id"], "group_path": o["group_path"], "kind": o["group_path"].split("/")[1],
                             "name_es": o["name"]["es"], "name_en": o["name"]["en"], "alternate_name": None,
                             "description_es": o["description"]["es"], "description_en": o["description"]["en"],
                             "email": o["email"], "phone": "=cmd()", "website": o["website"], "contacts": []}
    by_path = {o["group_path"]: o["id"] for o in orgs}
    svc_rows = []
    for s in svcs:
        svc_rows.append({
            "id": s["id"], "organisation_id": by_path[s["organisation_path"]], "service_type": s["service_type"],
            "name_es": s["name"]["es"], "name_en": s["name"]["en"], "description_es": "d", "description_en": "d",
            "application_process_es": None, "application_process_en": None, "status": s["status"],
            "accepts_referrals": s["accepts_referrals"], "languages": s["languages"], "cost": "free",
            "fees_description_es": None, "fees_description_en": None, "min_age": s["eligibility"]["min_age"],
            "max_age": None, "sexes": s["eligibility"]["sexes"], "nationalities": [], "mobility_statuses": [],
            "eligibility_description_es": None, "eligibility_description_en": None, "open_24_7": s["open_24_7"],
            "email": None, "phone": "+593 2 000 0001", "updated_at": now, "contacts": [],
            "schedules": [{"id": f"h{i}", "weekday": h["weekday"], "opens_at": time.fromisoformat(h["opens_at"]),
                           "closes_at": time.fromisoformat(h["closes_at"])} for i, h in enumerate(s["schedules"])],
            "locations": [{**loc, "sal_id": f"{s['id']}-{loc['id']}"} for loc in s["locations"]]})
    tables = hsds.tables(org_rows, svc_rows, lang="en")
    assert {"organization", "service", "location", "address", "service_at_location", "schedule", "phone",
            "language", "taxonomy_term", "attribute"} <= set(tables)
    assert len(tables["service"]) == len(svcs)
    shelter_locations = {loc["id"] for s in svcs if s["service_type"] == "safe_shelter" for loc in s["locations"]}
    for row in tables["address"]:
        if row["location_id"] in shelter_locations:
            assert row["address_1"] == ""
    assert {r["status"] for r in tables["service"]} <= {"active", "temporarily closed"}
    csv_text = hsds.to_csv(tables["phone"])
    assert "'=cmd()" in csv_text and "+593 2 000 0001" in csv_text and "'+593" not in csv_text
    compiled = hsds.compiled_services(org_rows, svc_rows, lang="es")
    assert compiled["total_items"] == len(svcs)
    first = compiled["contents"][0]
    assert first["organization"]["id"] == first["organization_id"]
    assert first["service_at_locations"][0]["location"]["addresses"]
