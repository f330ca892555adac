"""Entries are built by allow-list: the right who/what/when, never a field the list does not name."""
from __future__ import annotations

import json
import uuid

import pytest
import rfc8785
from audit.domain.entry import EntryRejected, build_entry, trace_id_of
from audit.domain.merkle import leaf_hash
from audit.verifier import entry_leaf_hash
from careroute_platform.access import Decision, access_event
from careroute_platform.auth import Principal

pytestmark = pytest.mark.unit
MARKER = "MARIA-PEREZ-0991234567"
KEYS = {"v", "event_id", "event_type", "time", "actor", "action", "resource", "case_id", "outcome", "reason",
        "purpose", "service", "trace_id"}


def principal(roles=("caseworker",), org="/iom/tulcan") -> Principal:
    return Principal(subject="5b1c0f0e-2f7c-4d7e-9d55-1d0f8e6f3a11", username="caseworker.tulcan",
                     roles=frozenset(roles), groups=(org,), client_id="careroute-frontend")


def from_event(event, **overrides):
    args = {"event_id": event.id, "event_type": event.type, "source": event.source, "time": event.time,
            "key": event.key, "traceparent": event.traceparent, "data": event.data}
    args.update(overrides)
    return build_entry(**args)


def test_access_event_entry():
    case_id = str(uuid.uuid4())
    tp = f"00-{'ab' * 16}-{'cd' * 8}-01"
    event = access_event(service="intake", principal=principal(), action="case.read", resource_type="case",
                         resource_id=case_id, decision=Decision(True, "own-office"), purpose="safety plan review",
                         key=case_id, traceparent=tp)
    entry = from_event(event)
    body = entry.body
    assert set(body) == KEYS
    assert body["actor"] == {"subject": "5b1c0f0e-2f7c-4d7e-9d55-1d0f8e6f3a11", "organisation": "/iom/tulcan",
                             "roles": ["caseworker"], "client": "careroute-frontend"}
    assert body["resource"] == {"type": "case", "id": case_id} and body["case_id"] == case_id
    assert (body["action"], body["outcome"], body["reason"], body["service"]) == ("case.read", "allowed",
                                                                                  "own-office", "intake")
    assert body["purpose"] == "safety plan review" and body["trace_id"] == "ab" * 16
    assert body["time"].endswith("Z")
    assert entry.canonical == rfc8785.dumps(body) and entry.leaf_hash == leaf_hash(entry.canonical)
    assert entry.leaf_hash == entry_leaf_hash(json.loads(entry.canonical))  # what the verifier computes
    cols = entry.columns()
    assert cols["actor_subject"] == body["actor"]["subject"] and cols["resource_id"] == case_id


def test_planted_and_unknown_fields_never_reach_the_entry():
    event = access_event(service="referral", principal=principal(), action="referral.read",
                         resource_type="referral", resource_id="r-1", decision=Decision(False, "not-referred"),
                         key="case-9")
    data = json.loads(json.dumps(event.data))
    data["survivor_name"] = MARKER
    data["notes"] = {"free_text": MARKER}
    data["actor"]["email"] = MARKER
    data["actor"]["subject"] = MARKER + " with spaces"  # not an id: dropped, not copied
    data["resource"]["label"] = MARKER
    data["reason"] = f"she said {MARKER}"
    entry = from_event(event, data=data)
    text = entry.canonical.decode()
    assert MARKER not in text and "survivor_name" not in text and "email" not in text and "label" not in text
    assert entry.body["actor"]["subject"] is None and entry.body["reason"] is None
    assert entry.body["case_id"] == "case-9"  # key differs from the resource id: it is the case
    assert entry.body["outcome"] == "denied"


def test_domain_event_actor_resource_and_service():
    data = {"case_id": "c-1", "survivor_code": "SV-123", "office": "/iom/tulcan", "caseworker": "u-77",
            "age_band": "18-25", "nationality": "VE", "needs": ["health_cmr"], "risk_level": "high"}
    entry = build_entry(event_id="e1", event_type="org.iom.careroute.case.registered.v1", source="/careroute/intake",
                        time="2025-01-02T03:04:05+00:00", key="c-1", traceparent=None, data=data)
    b = entry.body
    assert b["actor"] == {"subject": "u-77", "organisation": "/iom/tulcan", "roles": [], "client": None}
    assert b["resource"] == {"type": "case", "id": "c-1"} and b["case_id"] == "c-1"
    assert (b["action"], b["outcome"], b["service"]) == ("case.registered", "recorded", "intake")
    assert b["time"] == "2025-01-02T03:04:05.000000Z"
    assert "SV-123" not in entry.canonical.decode() and "VE" not in entry.canonical.decode().replace("v", "")


def test_referral_events_after_creation_are_acted_by_the_service_not_the_referrer():
    data = {"case_id": "c-1", "referral_id": "r-1", "referring_caseworker": "u-1", "referring_office": "/iom/tulcan",
            "receiving_organisation": "/civil-society/quimera", "status": "declined", "reason_code": "no-capacity"}
    created = build_entry(event_id="e1", event_type="org.iom.careroute.referral.created.v1",
                          source="/careroute/referral", time=None, key="c-1", traceparent=None, data=data)
    declined = build_entry(event_id="e2", event_type="org.iom.careroute.referral.declined.v1",
                           source="/careroute/referral", time=None, key="c-1", traceparent=None, data=data)
    assert created.body["actor"]["subject"] == "u-1" and created.body["actor"]["organisation"] == "/iom/tulcan"
    assert declined.body["actor"] == {"subject": None, "organisation": None, "roles": [],
                                      "client": "careroute-referral"}
    assert declined.body["resource"] == {"type": "referral", "id": "r-1"}
    assert declined.body["reason"] == "no-capacity" and declined.body["time"] is None


def test_referral_answers_name_who_acted_from_which_side():
    base = {"case_id": "c-1", "referral_id": "r-1", "referring_caseworker": "u-1", "referring_office": "/iom/tulcan",
            "receiving_organisation": "/government/msp/hospital-tulcan", "status": "accepted"}
    accepted = build_entry(event_id="e1", event_type="org.iom.careroute.referral.accepted.v1",
                           source="/careroute/referral", time=None, key="c-1", traceparent=None,
                           data={**base, "acted_by": "svc-msp", "acted_by_client": "msp-hospital-tulcan-system"})
    assert accepted.body["actor"] == {"subject": "svc-msp", "organisation": "/government/msp/hospital-tulcan",
                                      "roles": [], "client": "msp-hospital-tulcan-system"}
    created = build_entry(event_id="e2", event_type="org.iom.careroute.referral.created.v1",
                          source="/careroute/referral", time=None, key="c-1", traceparent=None,
                          data={**base, "created_by": "u-9"})
    assert created.body["actor"]["subject"] == "u-9" and created.body["actor"]["organisation"] == "/iom/tulcan"
    org = build_entry(event_id="e3", event_type="org.iom.careroute.directory.organisation_changed.v1",
                      source="/careroute/referral", time=None, key="o", traceparent=None,
                      data={"organisation_id": "0b8e9a3c-1d2e-4f5a-8b7c-6d5e4f3a2b1c", "organisation": "/iom/tulcan"})
    assert org.body["resource"] == {"type": "organisation", "id": "0b8e9a3c-1d2e-4f5a-8b7c-6d5e4f3a2b1c"}


def test_unknown_event_types_are_still_recorded_generically():
    entry = build_entry(event_id="e1", event_type="org.iom.careroute.shelter.opened.v2", source="/careroute/x",
                        time=None, key="k", traceparent=None, data={"shelter_id": "s-1", "name": MARKER})
    assert entry.body["resource"] == {"type": "shelter", "id": "s-1"}
    assert MARKER not in entry.canonical.decode()


@pytest.mark.parametrize("change", [
    {"event_id": ""}, {"event_id": "x" * 129}, {"event_id": "bad id"}, {"event_type": "com.other.thing.v1"},
    {"data": []}, {"data": {"action": "read", "resource": {"type": "case", "id": "c"}, "outcome": "allowed"}},
    {"data": {"actor": {}, "action": "read", "resource": {"type": "case", "id": "c"}, "outcome": "maybe"}},
    {"data": {"actor": {}, "action": "read\n", "resource": {"type": "case", "id": "c"}, "outcome": "allowed"}},
    {"data": {"actor": {}, "action": "read", "resource": "case", "outcome": "allowed"}},
])
def test_events_that_cannot_be_recorded_faithfully_are_rejected(change):
    args = {"event_id": "e1", "event_type": "org.iom.careroute.access.recorded.v1", "source": "/careroute/intake",
            "time": None, "key": "k", "traceparent": None,
            "data": {"actor": {}, "action": "read", "resource": {"type": "case", "id": "c"}, "outcome": "allowed"}}
    build_entry(**args)
    args.update(change)
    with pytest.raises(EntryRejected):
        build_entry(**args)


def test_trace_ids_come_only_from_valid_traceparents():
    assert trace_id_of(f"00-{'a' * 32}-{'b' * 16}-01") == "a" * 32
    assert trace_id_of(f"00-{'0' * 32}-{'b' * 16}-01") is None
    assert trace_id_of("garbage") is None and trace_id_of(None) is None
