"""Institutional systems, the clock worker, coordination figures, access events, and the scan that
no free text reaches any topic."""
import json
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select
from careroute_devstack.testing import wait_for
from careroute_platform import contracts
from referral.domain.clock import FakeClock
from referral.service_layer.clocks import ReferralClock
from referral.service_layer.context import Context

from .conftest import ALL_TOPICS, FISCALIA_CARCHI, HOSPITAL, access_events, act, create, referral_events

pytestmark = pytest.mark.integration
MARKER = "FREE-TEXT-MARKER-42"


def test_institutional_system_lists_and_answers_through_the_same_api(stack, referral, intake, kafka_tap):
    token = stack.client_token("msp-hospital-tulcan-system")
    case_id = intake.register()
    intake.grant(case_id)
    r = create(referral, case_id, priority="emergency", reason=MARKER)
    rid = r.json()["id"]
    inbox = referral.client.get("/v1/referrals/inbox?status=pending&limit=100",
                                headers={"Authorization": f"Bearer {token}"})
    assert inbox.status_code == 200
    item = next(i for i in inbox.json()["items"] if i["id"] == rid)
    accepted = act(referral, rid, "accept", user=None, etag=item["etag"], token=token)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["answer"]["answered_via_client"] == "msp-hospital-tulcan-system"
    done = act(referral, rid, "complete", user=None, etag=accepted.headers["etag"], token=token,
               body={"service_delivered": True, "outcome_code": "ongoing_care", "note": MARKER})
    assert done.status_code == 200
    # another institution's system sees none of it
    fiscalia = stack.client_token("fiscalia-carchi-system")
    assert referral.client.get(f"/v1/referrals/{rid}",
                               headers={"Authorization": f"Bearer {fiscalia}"}).status_code == 404
    events = wait_for(lambda: (e := referral_events(kafka_tap, rid)) and len(e) >= 3 and e, 30, message="events")
    assert events[1].data["acted_by_client"] == "msp-hospital-tulcan-system"


def test_the_clock_warns_flags_and_expires_once_each(referral, intake, kafka_tap):
    case_id = intake.register()
    intake.grant(case_id, organisation="/government/fiscalia/carchi", categories=("identity", "legal_needs"))
    r = create(referral, case_id, service_id=FISCALIA_CARCHI, priority="emergency",
               categories=("identity", "legal_needs"))
    rid = r.json()["id"]
    created_at = referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.tulcan").json()["created_at"]
    from datetime import datetime
    t0 = datetime.fromisoformat(created_at)
    clock = FakeClock(t0)
    ticker = ReferralClock(Context(referral.runtime, clock))

    def mine(counts_before=None):
        return [e.type.rsplit(".", 2)[-2] for e in referral_events(kafka_tap, rid)]

    clock.set(t0 + timedelta(hours=18, minutes=1))
    ticker.tick()
    ticker.tick()
    clock.set(t0 + timedelta(hours=24, minutes=1))
    ticker.tick()
    seen = referral.call("GET", f"/v1/referrals/{rid}", user="provider.fiscalia").json()
    assert seen["status"] == "pending" and seen["version"] == 1       # overdue is a flag, not a state
    clock.set(t0 + timedelta(hours=36, minutes=1))
    ticker.tick()
    ticker.tick()
    names = wait_for(lambda: (n := mine()) and len(n) >= 4 and n, 30, message="clock events")
    assert names == ["created", "deadline_approaching", "overdue", "expired"]
    seen = referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.tulcan").json()
    assert seen["status"] == "expired" and seen["answer"]["expired_at"]
    late = act(referral, rid, "accept", user="provider.fiscalia", etag=seen["etag"])
    assert late.status_code == 409


def test_an_expired_consent_revokes_on_the_next_tick(referral, intake):
    from datetime import datetime
    case_id = intake.register()
    expiry = datetime.now(UTC) + timedelta(days=1)
    intake.grant(case_id, expires_at=expiry)
    r = create(referral, case_id)
    rid = r.json()["id"]
    clock = FakeClock(expiry + timedelta(minutes=1))
    ReferralClock(Context(referral.runtime, clock)).tick()
    seen = referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.tulcan").json()
    assert seen["status"] == "revoked" and seen["answer"]["revoke_reason"] == "consent_expired"


def test_coordination_figures(referral, intake):
    for _ in range(6):
        case_id = intake.register(canton="2101", province="21")
        intake.grant(case_id, organisation="/civil-society/hias", categories=("identity", "legal_needs"))
        from .conftest import HIAS_LEGAL
        r = create(referral, case_id, service_id=HIAS_LEGAL, categories=("identity", "legal_needs"))
        act(referral, r.json()["id"], "accept", user="provider.hias", etag=r.headers["etag"])
    figures = referral.call("GET", "/v1/statistics/referrals?province=21&service_type=legal_aid",
                            user="official.ministerio")
    assert figures.status_code == 200, figures.text
    data = figures.json()
    assert data["total_referrals"] >= 6 and data["acceptance_rate"] == 1.0
    canton = next(row for row in data["by_canton"] if row["canton"] == "2101")
    assert canton["canton_name"] == "Lago Agrio" and canton["referrals"] >= 6
    assert "case_id" not in json.dumps(data)
    small = referral.call("GET", "/v1/statistics/referrals?province=07", user="supervisor.quito").json()
    assert small["total_referrals"] in (None, 0)
    as_csv = referral.call("GET", "/v1/statistics/referrals?format=csv", user="official.msp")
    assert as_csv.status_code == 200 and as_csv.text.startswith("section,dimension,metric,value,suppressed")
    assert referral.call("GET", "/v1/statistics/referrals", user="caseworker.tulcan").status_code == 403
    assert referral.call("GET", "/v1/statistics/referrals?from=2026-01-01T00:00:00",
                         user="official.ministerio").status_code == 422


def test_reads_are_audited_allowed_and_denied(referral, intake, kafka_tap):
    case_id = intake.register()
    intake.grant(case_id)
    rid = create(referral, case_id).json()["id"]
    assert referral.call("GET", f"/v1/referrals/{rid}", user="provider.msp-tulcan").status_code == 200
    assert referral.call("GET", f"/v1/referrals/{rid}", user="provider.quimera").status_code == 404
    referral.call("GET", "/v1/referrals/inbox?limit=100", user="provider.msp-tulcan")
    events = wait_for(lambda: (e := access_events(kafka_tap, rid)) and
                      {x.data["action"] for x in e} >= {"referral.create", "referral.read", "referral.inbox"} and
                      any(x.data["outcome"] == "denied" for x in e) and e, 30, message="access events")
    read = next(e for e in events if e.data["action"] == "referral.read" and e.data["outcome"] == "allowed")
    assert read.data["actor"]["organisation"] == HOSPITAL and read.data["reason"] == "receiving-organisation"
    assert read.key == case_id
    denied = next(e for e in events if e.data["outcome"] == "denied")
    assert denied.data["actor"]["organisation"] == "/civil-society/quimera" and denied.data["reason"] == "not-party"


def test_events_validate_and_no_free_text_reaches_any_topic(referral, intake, kafka_tap):
    case_id = intake.register()
    intake.grant(case_id)
    r = create(referral, case_id, reason=MARKER)
    rid = r.json()["id"]
    d = act(referral, rid, "decline", user="provider.msp-tulcan", etag=r.headers["etag"],
            body={"reason_code": "other", "note": MARKER})
    assert d.status_code == 200
    r2 = create(referral, case_id, reason=MARKER)
    a = act(referral, r2.json()["id"], "accept", user="provider.msp-tulcan", etag=r2.headers["etag"])
    act(referral, r2.json()["id"], "close", user="provider.msp-tulcan", etag=a.headers["etag"],
        body={"reason_code": "other", "note": MARKER})
    wait_for(lambda: len(referral_events(kafka_tap, r2.json()["id"])) >= 3, 30, message="events published")
    records = kafka_tap.read_all(ALL_TOPICS + [f"{t}.dlt" for t in ALL_TOPICS])
    assert records
    for record in records:
        assert MARKER.encode() not in (record.value or b"")
        assert all(MARKER.encode() not in v for _, v in record.headers or [])
    # other suites simulate the referral service with hand-made events: check only what this service wrote
    with referral.runtime.engine.connect() as conn:
        written = {str(i) for i in conn.execute(select(referral.runtime.outbox_table.c.id)).scalars()}
    ours = [e for e in kafka_tap.events(["careroute.referral", "careroute.directory", "careroute.access"])
            if e.id in written]
    assert ours
    for event in ours:
        contracts.validate(event.type, event.data)
