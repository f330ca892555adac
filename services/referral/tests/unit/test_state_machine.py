"""The referral lifecycle: every legal and every illegal transition, who may make it, what it emits."""
import pytest
from referral.domain.referral import (
    TRANSITIONS,
    Actor,
    CounterReferral,
    IllegalTransition,
    InvalidAnswer,
    NotPermitted,
    ReferralError,
    Side,
)
from referral.domain.vocabulary import OutcomeCode, ReferralStatus, ServiceType

from .helpers import RECEIVER, REFERRER, SYSTEM, later, new_referral

pytestmark = pytest.mark.unit

COUNTER = CounterReferral(True, OutcomeCode.NEEDS_MET, True, (ServiceType.PSYCHOSOCIAL,), "note")
ACTIONS = {
    "accept": (RECEIVER, lambda r, by, at: r.accept(by=by, at=at)),
    "decline": (RECEIVER, lambda r, by, at: r.decline(by=by, at=at, reason_code="no_capacity")),
    "complete": (RECEIVER, lambda r, by, at: r.complete(by=by, at=at, counter_referral=COUNTER)),
    "close": (RECEIVER, lambda r, by, at: r.close(by=by, at=at, reason_code="survivor_did_not_attend")),
    "revoke": (REFERRER, lambda r, by, at: r.revoke(by=by, at=at, reason_code="survivor_request")),
    "expire": (SYSTEM, lambda r, by, at: r.expire(at=at)),
}
PATHS = {  # how to bring a fresh referral into each status
    ReferralStatus.PENDING: [],
    ReferralStatus.ACCEPTED: ["accept"],
    ReferralStatus.DECLINED: ["decline"],
    ReferralStatus.EXPIRED: ["expire"],
    ReferralStatus.REVOKED: ["revoke"],
    ReferralStatus.COMPLETED: ["accept", "complete"],
    ReferralStatus.CLOSED: ["accept", "close"],
}
FAR = later(24 * 30)  # after any expiry


def referral_in(status: ReferralStatus):
    r = new_referral()
    for action in PATHS[status]:
        by, do = ACTIONS[action]
        do(r, by, FAR)
    assert r.status == status
    r.pull_events()
    return r


@pytest.mark.parametrize("status", list(ReferralStatus))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_transition_is_legal_exactly_when_the_table_says(status, action):
    sources, target, _ = TRANSITIONS[action]
    r = referral_in(status)
    by, do = ACTIONS[action]
    version = r.version
    if status in sources:
        do(r, by, FAR)
        assert r.status == target
        assert r.version == version + 1
        events = r.pull_events()
        assert [e.name for e in events] == [f"referral.{target.value}" if action != "expire" else "referral.expired"]
    else:
        with pytest.raises(IllegalTransition) as info:
            do(r, by, FAR)
        assert r.status == status and r.version == version and not r.events
        assert info.value.detail["es"] and info.value.detail["en"]


def test_legal_transition_table_is_the_one_in_the_brief():
    legal = {(s.value, a) for a, (sources, _, _) in TRANSITIONS.items() for s in sources}
    assert legal == {("pending", "accept"), ("pending", "decline"), ("pending", "expire"), ("pending", "revoke"),
                     ("accepted", "complete"), ("accepted", "close"), ("accepted", "revoke")}


@pytest.mark.parametrize("action", ["accept", "decline", "complete", "close"])
def test_only_the_receiving_side_answers(action):
    r = referral_in(ReferralStatus.PENDING if action in ("accept", "decline") else ReferralStatus.ACCEPTED)
    _, do = ACTIONS[action]
    for wrong in (REFERRER, SYSTEM):
        with pytest.raises(NotPermitted) as info:
            do(r, wrong, FAR)
        assert info.value.required == Side.RECEIVING


@pytest.mark.parametrize("status", [ReferralStatus.PENDING, ReferralStatus.ACCEPTED])
def test_only_the_referring_side_or_the_system_revokes(status):
    r = referral_in(status)
    with pytest.raises(NotPermitted) as info:
        r.revoke(by=RECEIVER, at=FAR, reason_code="survivor_request")
    assert info.value.required == Side.REFERRING
    r.revoke(by=SYSTEM, at=FAR, reason_code="consent_withdrawn")
    assert r.status == ReferralStatus.REVOKED


def test_revoke_never_after_completion():
    r = referral_in(ReferralStatus.COMPLETED)
    with pytest.raises(IllegalTransition):
        r.revoke(by=REFERRER, at=FAR, reason_code="survivor_request")


def test_only_the_clock_expires_and_not_before_time():
    r = new_referral()
    with pytest.raises(ReferralError):
        r.expire(at=r.expires_at - (r.expires_at - r.created_at) / 10)
    r.expire(at=r.expires_at)
    assert r.status == ReferralStatus.EXPIRED
    assert r.first_response_at is None


def test_users_cannot_pick_system_revoke_reasons():
    r = new_referral()
    for code in ("consent_withdrawn", "consent_expired", "case_erased"):
        with pytest.raises(InvalidAnswer):
            r.revoke(by=REFERRER, at=later(1), reason_code=code)
    assert r.status == ReferralStatus.PENDING


@pytest.mark.parametrize("action,reason", [("decline", "other"), ("close", "other"), ("revoke", "other")])
def test_reason_other_needs_a_note(action, reason):
    r = new_referral()
    if action == "close":
        r.accept(by=RECEIVER, at=later(1))
    by = REFERRER if action == "revoke" else RECEIVER
    method = getattr(r, action)
    with pytest.raises(InvalidAnswer):
        method(by=by, at=later(2), reason_code=reason)
    method(by=by, at=later(2), reason_code=reason, note="explained")
    assert r.status != ReferralStatus.PENDING or action == "close"


def test_unknown_reason_codes_are_refused():
    r = new_referral()
    with pytest.raises(ValueError):
        r.decline(by=RECEIVER, at=later(1), reason_code="because")


def test_counter_referral_must_be_coherent():
    with pytest.raises(InvalidAnswer):
        CounterReferral(False, OutcomeCode.NEEDS_MET, False)
    with pytest.raises(InvalidAnswer):
        CounterReferral(True, OutcomeCode.ONGOING_CARE, False, (ServiceType.LEGAL_AID,))
    ok = CounterReferral(False, OutcomeCode.REFERRED_ONWARD, True, (ServiceType.LEGAL_AID,), "n")
    assert ok.codes() == {"service_delivered": False, "outcome_code": "referred_onward", "follow_up_advised": True,
                          "follow_up_service_types": ["legal_aid"]}


def test_first_answer_time_and_answerer_are_recorded():
    r = new_referral()
    r.pull_events()
    client = Actor(Side.RECEIVING, "svc-account", "/government/msp/hospital-tulcan", "msp-hospital-tulcan-system")
    r.accept(by=client, at=later(3))
    assert r.first_response_at == later(3) and r.accepted_by == "svc-account"
    assert r.answered_via_client == "msp-hospital-tulcan-system"
    r.complete(by=RECEIVER, at=later(30), counter_referral=COUNTER)
    assert r.first_response_at == later(3)
    (accepted, completed) = r.pull_events()
    assert accepted.data["acted_by_client"] == "msp-hospital-tulcan-system"
    assert completed.data["counter_referral"]["outcome_code"] == "needs_met"
    assert "note" not in completed.data["counter_referral"]


def test_created_event_carries_codes_and_not_the_reason():
    r = new_referral(reason="MARKER-free-text")
    (created,) = r.pull_events()
    assert created.name == "referral.created"
    assert "MARKER" not in repr(created.data)
    assert created.data["categories"] == ["health_needs", "identity"]
    assert created.data["services_requested"] == ["health_cmr"]


def test_creation_validates_its_input():
    with pytest.raises(InvalidAnswer):
        new_referral(categories=[])
    with pytest.raises(InvalidAnswer):
        new_referral(reason="x" * 2001)
    with pytest.raises(InvalidAnswer):
        new_referral(override_kinds=["eligibility"])  # no justification, no supervisor


def test_clock_marks_happen_once_and_do_not_move_the_version():
    r = new_referral()
    r.pull_events()
    r.mark_deadline_approaching(at=later(60))
    r.mark_deadline_approaching(at=later(61))
    r.mark_overdue(at=later(73))
    r.mark_overdue(at=later(74))
    assert [e.name for e in r.pull_events()] == ["referral.deadline_approaching", "referral.overdue"]
    assert r.version == 1
    r.accept(by=RECEIVER, at=later(75))
    r.mark_overdue(at=later(76))
    assert [e.name for e in r.pull_events()] == ["referral.accepted"]


def test_allowed_actions_per_side():
    r = new_referral()
    assert r.allowed_actions(Side.RECEIVING) == ["accept", "decline"]
    assert r.allowed_actions(Side.REFERRING) == ["revoke"]
    r.accept(by=RECEIVER, at=later(1))
    assert r.allowed_actions(Side.RECEIVING) == ["complete", "close"]
    assert r.allowed_actions(Side.REFERRING) == ["revoke"]
