"""Races, idempotency, consent withdrawal, erasure, events out of order or twice, overrides."""
import threading
import uuid
from datetime import UTC, datetime

import pytest
from careroute_devstack.testing import wait_for
from referral.adapters.orm import cases, consents, purged_referrals, referrals
from sqlalchemy import func, select, text

from .conftest import (
    FISCALIA_CARCHI,
    HOSPITAL,
    JUNTA_TULCAN,
    SHELTER_TULCAN,
    access_events,
    act,
    create,
    referral_events,
    subject_of,
)

pytestmark = pytest.mark.integration
PROVIDER = "provider.msp-tulcan"


def test_racing_accept_and_decline_exactly_one_wins(stack, referral, intake):
    for _ in range(4):
        case_id = intake.register()
        intake.grant(case_id)
        r = create(referral, case_id)
        rid, etag = r.json()["id"], r.headers["etag"]
        barrier = threading.Barrier(2)
        results = {}

        def answer(action, body, barrier=barrier, results=results, rid=rid, etag=etag):
            barrier.wait()
            results[action] = act(referral, rid, action, user=PROVIDER, etag=etag, body=body)

        threads = [threading.Thread(target=answer, args=("accept", {})),
                   threading.Thread(target=answer, args=("decline", {"reason_code": "no_capacity"}))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        codes = sorted(res.status_code for res in results.values())
        assert codes == [200, 409], {a: (res.status_code, res.text) for a, res in results.items()}
        loser = next(res for res in results.values() if res.status_code == 409)
        assert loser.json()["type"].endswith("/illegal-transition")
        winner = next(a for a, res in results.items() if res.status_code == 200)
        with referral.runtime.engine.connect() as conn:
            row = conn.execute(select(referrals.c.status, referrals.c.version).where(referrals.c.id == rid)).one()
        assert row.status == {"accept": "accepted", "decline": "declined"}[winner] and row.version == 2


def test_idempotent_creation(referral, intake, kafka_tap):
    case_id = intake.register()
    intake.grant(case_id)
    key = str(uuid.uuid4())
    first = create(referral, case_id, headers={"Idempotency-Key": key})
    again = create(referral, case_id, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    with referral.runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(referrals)
                            .where(referrals.c.case_id == case_id)).scalar_one() == 1
    other = create(referral, case_id, headers={"Idempotency-Key": key}, priority="normal")
    assert other.status_code == 422
    wait_for(lambda: referral_events(kafka_tap, first.json()["id"]), 30, message="created event")
    created = [e for e in referral_events(kafka_tap, first.json()["id"]) if e.type.endswith("created.v1")]
    assert len(created) == 1


def test_consent_withdrawn_revokes_open_referrals_and_ends_access(referral, intake, kafka_tap):
    case_id = intake.register()
    consent_id = intake.grant(case_id)
    other = intake.grant(case_id, organisation=None, service_type="psychosocial", categories=("identity",))
    r = create(referral, case_id)
    rid = r.json()["id"]
    intake.withdraw(case_id, consent_id)
    wait_for(lambda: referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.tulcan").json()["status"]
             == "revoked", 30, message="referral revoked")
    seen = referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.tulcan").json()
    assert seen["answer"]["revoke_reason"] == "consent_withdrawn"
    theirs = referral.call("GET", f"/v1/referrals/{rid}", user=PROVIDER).json()
    assert "shared_data_url" not in theirs and "reason" not in theirs and "clinical_window" not in theirs
    assert act(referral, rid, "accept", user=PROVIDER, etag=theirs["etag"]).status_code == 409
    # and no new referral to that organisation while the withdrawal stands
    again = create(referral, case_id)
    assert again.status_code == 409 and again.json()["type"].endswith("/consent-required")
    revoked = wait_for(lambda: [e for e in referral_events(kafka_tap, rid) if e.type.endswith("revoked.v1")], 30,
                       message="revoked event")
    assert revoked[0].data["reason_code"] == "consent_withdrawn" and revoked[0].data["acted_by"] is None
    assert other  # the psychosocial consent is untouched


def test_consent_is_checked_inside_the_creating_transaction(referral, intake):
    """A withdrawal being applied (case row locked, consent changed, not yet committed) makes a
    concurrent creation wait; once the withdrawal commits, the creation is refused."""
    case_id = intake.register()
    consent_id = intake.grant(case_id)
    engine = referral.runtime.engine
    conn = engine.connect()
    tx = conn.begin()
    conn.execute(select(cases).where(cases.c.case_id == case_id).with_for_update())
    conn.execute(consents.update().where(consents.c.consent_id == consent_id)
                 .values(withdrawn_categories=["identity", "contact_details", "health_needs"],
                         withdrawn_at=datetime.now(UTC)))
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", create(referral, case_id)))
    thread.start()

    def creation_waits_on_the_lock():
        with engine.connect() as c:
            return c.execute(text("select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                                  "and datname = current_database()")).scalar_one() > 0
    wait_for(creation_waits_on_the_lock, 20, message="creation blocked on the case row")
    tx.commit()
    conn.close()
    thread.join(30)
    assert result["r"].status_code == 409, result["r"].text
    assert result["r"].json()["type"].endswith("/consent-required")


def test_a_withdrawal_arriving_before_its_grant_is_not_undone(referral, intake):
    case_id = intake.register()
    consent_id = str(uuid.uuid4())
    intake.withdraw(case_id, consent_id)
    intake.publish("careroute.consent", "consent.granted", {
        "case_id": case_id, "consent_id": consent_id, "office": "/iom/tulcan", "purpose": "sharing",
        "given_by": "survivor", "recipient_organisation": HOSPITAL,
        "categories": ["identity", "contact_details", "health_needs"], "reporting": True, "expires_at": None},
        key=case_id)
    wait_for(lambda: intake.consent_row(consent_id).granted, 30, message="late grant projected")
    r = create(referral, case_id)
    assert r.status_code == 409 and r.json()["missing_categories"] == ["health_needs", "identity"]


def test_case_events_out_of_order_and_twice(stack, referral, intake):
    case_id = str(uuid.uuid4())
    caseworker = subject_of(stack, "caseworker.tulcan")
    update = {"case_id": case_id, "office": "/iom/tulcan", "version": 3, "changed": ["risk_level"],
              "caseworker": caseworker, "risk_level": "high", "status": "open", "needs": ["health_cmr"],
              "age_band": "26_40", "sex": "female", "nationality": "VE", "mobility_status": "refugee",
              "province": "04", "canton": "0401"}
    intake.publish("careroute.case", "case.updated", update, key=case_id)
    wait_for(lambda: (row := intake.case_row(case_id)) is not None and row.case_version == 3, 30,
             message="update projected")
    older = dict(update, version=2, risk_level="low", mobility_status="irregular_migrant")
    intake.publish("careroute.case", "case.updated", older, key=case_id)
    intake.register(case_id=case_id, risk_level="low", mobility_status="irregular_migrant", canton="1001",
                    province="10")
    row = intake.case_row(case_id)
    assert row.registered and row.case_version == 3
    assert (row.risk_level, row.mobility_status, row.canton) == ("high", "refugee", "0401")
    # the same event delivered twice has one effect
    dup_id = str(uuid.uuid4())
    newer = dict(update, version=4, risk_level="medium")
    intake.publish("careroute.case", "case.updated", newer, key=case_id, event_id=dup_id)
    intake.publish("careroute.case", "case.updated", dict(newer, version=5, risk_level="low"), key=case_id,
                   event_id=dup_id)
    # a later event on the same case (same partition): once it is processed, so is the duplicate
    after = intake.publish("careroute.case", "case.updated", dict(newer, version=6, changed=["needs"]), key=case_id)
    intake.wait_processed(after)
    assert intake.case_row(case_id).case_version == 6
    with referral.runtime.engine.connect() as conn:
        processed = referral.runtime.processed_table
        assert conn.execute(select(func.count()).select_from(processed)
                            .where(processed.c.event_id == dup_id)).scalar_one() == 1
    assert intake.case_row(case_id).risk_level == "medium"


def test_case_erased_purges_its_referrals(referral, intake, kafka_tap):
    case_id = intake.register()
    intake.grant(case_id)
    intake.grant(case_id, organisation="/government/fiscalia/carchi", categories=("identity", "legal_needs"))
    open_one = create(referral, case_id, reason="ERASE-ME")
    closed_one = create(referral, case_id, service_id=FISCALIA_CARCHI, categories=("identity", "legal_needs"))
    assert open_one.status_code == closed_one.status_code == 201
    revoke = act(referral, closed_one.json()["id"], "revoke", user="caseworker.tulcan",
                 etag=closed_one.headers["etag"], body={"reason_code": "entered_in_error"})
    assert revoke.status_code == 200
    intake.erase(case_id)
    for rid in (open_one.json()["id"], closed_one.json()["id"]):
        assert referral.call("GET", f"/v1/referrals/{rid}", user="caseworker.tulcan").status_code == 404
    with referral.runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(referrals)
                            .where(referrals.c.case_id == case_id)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(purged_referrals)
                            .where(purged_referrals.c.case_id == case_id)).scalar_one() == 2
        assert conn.execute(text("select count(*) from referrals where reason = 'ERASE-ME'")).scalar_one() == 0
        assert conn.execute(text("select count(*) from idempotency_keys where response::text like '%ERASE-ME%'")
                            ).scalar_one() == 0
    events = wait_for(lambda: (e := referral_events(kafka_tap, open_one.json()["id"])) and
                      any(x.type.endswith("purged.v1") for x in e) and e, 30, message="purge events")
    kinds = [e.type.rsplit(".", 2)[-2] for e in events]
    assert kinds[-2:] == ["revoked", "purged"]
    assert events[-2].data["reason_code"] == "case_erased"
    # nothing resurrects an erased case
    late = intake.publish("careroute.case", "case.registered", {
        "case_id": case_id, "survivor_code": "TUL-2026-ABCDEF", "office": "/iom/tulcan", "caseworker": None,
        "age_band": "26_40", "sex": "female", "nationality": "VE", "mobility_status": "refugee", "province": "04",
        "canton": "0401", "risk_level": "low", "needs": [], "reporting_consent": True, "clinical_window": None},
        key=case_id)
    intake.wait_processed(late)
    assert intake.case_row(case_id).erased and not intake.case_row(case_id).registered
    assert create(referral, case_id).status_code == 404


def test_supervisor_override_for_a_suspended_or_ineligible_service(referral, intake, kafka_tap):
    case_id = intake.register(sex="male")
    intake.grant(case_id, organisation="/civil-society/casa-de-acogida-tulcan", categories=("identity",))
    refused = create(referral, case_id, service_id=SHELTER_TULCAN, categories=("identity",))
    assert refused.status_code == 422 and refused.json()["type"].endswith("/eligibility-not-met")
    assert refused.json()["unmet_criteria"] == ["sex"] and refused.json()["overridable"] is True
    override = {"justification": "Hombre trans en riesgo alto; la casa confirmó por teléfono."}
    by_caseworker = create(referral, case_id, service_id=SHELTER_TULCAN, categories=("identity",), override=override)
    assert by_caseworker.status_code == 403
    short = create(referral, case_id, service_id=SHELTER_TULCAN, categories=("identity",), user="supervisor.tulcan",
                   override={"justification": "porque"})
    assert short.status_code == 422
    ok = create(referral, case_id, service_id=SHELTER_TULCAN, categories=("identity",), user="supervisor.tulcan",
                override=override)
    assert ok.status_code == 201, ok.text
    assert ok.json()["override"] == {"applied": True, "kinds": ["eligibility"], "legal_basis": None,
                                     "justification": override["justification"], "by": ok.json()["override"]["by"]}
    rid = ok.json()["id"]
    created = wait_for(lambda: [e for e in referral_events(kafka_tap, rid) if e.type.endswith("created.v1")], 30,
                       message="created event")[0]
    assert created.data["override"] is True and created.data["override_kinds"] == ["eligibility"]
    assert "Hombre" not in str(created.data)
    audit = wait_for(lambda: [e for e in access_events(kafka_tap, rid) if e.data["action"] == "referral.create"], 30,
                     message="access event")[0]
    assert audit.data["purpose"] == "supervisor-override:eligibility" and audit.data["outcome"] == "allowed"


def test_consent_override_needs_a_legal_basis_that_applies(referral, intake, kafka_tap):
    child = intake.register(age_band="12_17")
    no_basis = create(referral, child, service_id=JUNTA_TULCAN, categories=("identity", "protection_needs"),
                      user="supervisor.tulcan", override={"justification": "Niña en riesgo; obligación legal de proteger."})
    assert no_basis.status_code == 409 and no_basis.json()["type"].endswith("/override-not-allowed")
    ok = create(referral, child, service_id=JUNTA_TULCAN, categories=("identity", "protection_needs"),
                user="supervisor.tulcan", override={"justification": "Niña en riesgo; obligación legal de proteger.",
                                                    "legal_basis": "child_protection"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["override"]["kinds"] == ["consent"] and ok.json()["override"]["legal_basis"] == "child_protection"
    adult = intake.register()
    not_child = create(referral, adult, service_id=JUNTA_TULCAN, categories=("identity",), user="supervisor.tulcan",
                       override={"justification": "Intento de excepción sin base legal.",
                                 "legal_basis": "child_protection"})
    assert not_child.status_code == 409
    audit = wait_for(lambda: [e for e in access_events(kafka_tap, ok.json()["id"])
                              if e.data["action"] == "referral.create"], 30, message="access event")[0]
    assert audit.data["purpose"] == "supervisor-override:consent;legal-basis:child_protection"


def test_clinical_window_is_shown_on_sexual_violence_referrals(referral, intake, kafka_tap):
    case_id = intake.register()
    intake.grant(case_id)
    intake.clinical_window(case_id, hours_ago=10)
    r = create(referral, case_id, priority="urgent")
    assert r.status_code == 201
    window = r.json()["clinical_window"]
    assert window["pep_open"] and window["ec_open"] and 61 <= window["pep_hours_left"] <= 62
    assert r.json()["warnings"] == ["clinical_window_open_consider_emergency"]
    inbox = referral.call("GET", "/v1/referrals/inbox?limit=100", user=PROVIDER).json()["items"]
    assert next(i for i in inbox if i["id"] == r.json()["id"])["clinical_window"]["pep_open"]
    created = wait_for(lambda: [e for e in referral_events(kafka_tap, r.json()["id"])
                                if e.type.endswith("created.v1")], 30, message="created event")[0]
    assert created.data["clinical_window"]["pep_deadline"]
