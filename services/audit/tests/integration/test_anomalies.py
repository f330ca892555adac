"""Anomaly rules end to end in the harness: a burst of denials by one subject raises exactly one
anomaly.detected event on careroute.anomaly (for notify to tell supervisors), which the log then
records like every other event."""
from __future__ import annotations

import pytest
from careroute_devstack.testing import wait_for

from .conftest import case_read, caseworker, send

pytestmark = pytest.mark.integration
ANOMALY = "org.iom.careroute.anomaly.detected.v1"


def test_a_burst_of_denials_raises_one_anomaly_that_is_itself_logged(audit, producer, kafka_tap):
    assert audit.settings.anomaly_denials_threshold == 5
    who = caseworker(organisation="/civil-society/alas-de-colibri")
    events = [case_read(who, allowed=False) for _ in range(7)]
    for e in events:
        send(producer, "careroute.access", e)

    def raised():
        found = [e for e in kafka_tap.events(["careroute.anomaly"])
                 if e.type == ANOMALY and e.data["subject"] == who.subject]
        return found or None
    [anomaly] = wait_for(raised, 60, interval=0.5, message="anomaly.detected on careroute.anomaly")
    assert anomaly.key == who.subject and anomaly.source == "/careroute/audit"
    assert anomaly.data["rule"] == "denied-access-burst"
    assert anomaly.data["organisation"] == "/civil-society/alas-de-colibri"
    assert anomaly.data["count"] >= 5 and anomaly.data["window_seconds"] == 600
    assert set(anomaly.data) <= {"rule", "subject", "organisation", "count", "threshold", "window_seconds",
                                 "window_start", "window_end"}

    def logged():
        r = audit.call("GET", "/entries/by-event/" + anomaly.id, user="auditor.oversight")
        return r.json() if r.status_code == 200 else None
    entry = wait_for(logged, 40, interval=0.3, message="the anomaly in the log")["entry"]
    assert entry["action"] == "anomaly.detected" and entry["outcome"] == "recorded"
    assert entry["resource"] == {"type": "staff_member", "id": who.subject}
    assert entry["actor"]["client"] == "careroute-audit" and entry["service"] == "audit"
    # all seven denials are logged, and still only one anomaly for this subject and window
    def all_logged():
        return all(audit.call("GET", "/entries/by-event/" + e.id, user="auditor.oversight").status_code == 200
                   for e in events)
    wait_for(all_logged, 40, interval=0.3, message="denials logged")
    assert len(raised()) == 1
