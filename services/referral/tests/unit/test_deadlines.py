"""Priority clocks, driven by a fake clock."""
from datetime import timedelta

import pytest
from referral.domain.clock import FakeClock
from referral.domain.deadlines import ClinicalWindow, ClockPolicy, due_clock_actions
from referral.domain.vocabulary import Priority, ReferralStatus

from .helpers import T0, new_referral

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("priority,window", [(Priority.EMERGENCY, timedelta(hours=24)),
                                             (Priority.URGENT, timedelta(hours=72)),
                                             (Priority.NORMAL, timedelta(days=14))])
def test_response_deadline_per_priority(priority, window):
    policy = ClockPolicy()
    assert policy.response_due(priority, T0) == T0 + window
    assert policy.approaching_at(priority, T0) == T0 + window * 0.75
    assert policy.expires_at(priority, T0) > policy.response_due(priority, T0)


def test_grace_periods_are_documented_defaults_and_configurable():
    policy = ClockPolicy()
    assert policy.expires_at(Priority.EMERGENCY, T0) == T0 + timedelta(hours=36)
    assert policy.expires_at(Priority.URGENT, T0) == T0 + timedelta(hours=96)
    assert policy.expires_at(Priority.NORMAL, T0) == T0 + timedelta(days=17)
    custom = ClockPolicy(approaching_fraction=0.5, grace={p: timedelta(0) for p in Priority})
    assert custom.expires_at(Priority.URGENT, T0) == custom.response_due(Priority.URGENT, T0)
    with pytest.raises(ValueError):
        ClockPolicy(approaching_fraction=1.0)


def run_clock(referral, clock, policy):
    actions = due_clock_actions(status=referral.status, priority=referral.priority, created_at=referral.created_at,
                                response_due_at=referral.response_due_at, expires_at=referral.expires_at,
                                approaching_notified=referral.deadline_approaching_notified_at is not None,
                                overdue_notified=referral.overdue_notified_at is not None, now=clock.now(),
                                policy=policy)
    for action in actions:
        {"deadline_approaching": referral.mark_deadline_approaching, "overdue": referral.mark_overdue,
         "expire": referral.expire}[action](at=clock.now())
    return actions


def test_an_emergency_referral_walks_through_its_clock():
    clock, policy = FakeClock(T0), ClockPolicy()
    r = new_referral(Priority.EMERGENCY, now=clock.now())
    r.pull_events()
    assert run_clock(r, clock, policy) == []
    clock.advance(timedelta(hours=17, minutes=59))
    assert run_clock(r, clock, policy) == []
    clock.advance(timedelta(minutes=1))                      # 18 h = 75 % of 24 h
    assert run_clock(r, clock, policy) == ["deadline_approaching"]
    assert run_clock(r, clock, policy) == []                 # once
    clock.advance(timedelta(hours=6))                        # 24 h
    assert run_clock(r, clock, policy) == ["overdue"]
    clock.advance(timedelta(hours=1))
    assert run_clock(r, clock, policy) == []                 # once
    clock.advance(timedelta(hours=11))                       # 36 h = deadline + 12 h grace
    assert run_clock(r, clock, policy) == ["expire"]
    assert r.status == ReferralStatus.EXPIRED
    assert [e.name for e in r.pull_events()] == ["referral.deadline_approaching", "referral.overdue",
                                                 "referral.expired"]
    clock.advance(timedelta(days=1))
    assert run_clock(r, clock, policy) == []


def test_a_clock_that_wakes_late_does_not_replay_what_no_longer_helps():
    clock, policy = FakeClock(T0), ClockPolicy()
    r = new_referral(Priority.URGENT, now=clock.now())
    clock.advance(timedelta(hours=80))                       # past the deadline, before expiry
    assert run_clock(r, clock, policy) == ["overdue"]
    r2 = new_referral(Priority.URGENT, now=T0)
    clock.set(T0 + timedelta(days=10))                       # past expiry
    assert run_clock(r2, clock, policy) == ["expire"]


def test_answered_referrals_have_no_clock():
    from .helpers import RECEIVER
    clock, policy = FakeClock(T0), ClockPolicy()
    r = new_referral(Priority.EMERGENCY, now=clock.now())
    r.accept(by=RECEIVER, at=clock.now())
    clock.advance(timedelta(days=30))
    assert run_clock(r, clock, policy) == []


def test_fake_clock_is_timezone_aware():
    with pytest.raises(ValueError):
        from datetime import datetime
        FakeClock(datetime(2026, 1, 1))


def test_clinical_window_after_rape():
    w = ClinicalWindow.from_incident("inc-1", T0)
    assert w.pep_deadline == T0 + timedelta(hours=72) and w.ec_deadline == T0 + timedelta(hours=120)
    view = w.view(T0 + timedelta(hours=70))
    assert view["pep_open"] and view["ec_open"] and view["pep_hours_left"] == 2.0
    view = w.view(T0 + timedelta(hours=100))
    assert not view["pep_open"] and view["ec_open"] and view["pep_hours_left"] == 0.0
    assert w.event_data() == {"incident_at": T0.isoformat(), "pep_deadline": (T0 + timedelta(hours=72)).isoformat(),
                              "ec_deadline": (T0 + timedelta(hours=120)).isoformat()}
