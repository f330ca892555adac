"""Who is told what, and what a consumed event may contribute."""
import uuid
from datetime import datetime, timezone

import pytest

from careroute_platform.cloudevents import Event, event_type
from careroute_platform.consumer import PermanentError
from notify.domain import routing
from notify.domain.kinds import Kind, is_mandatory, preference_locked
from notify.domain.routing import ReferralFacts
from notify.service_layer import messages as m

pytestmark = pytest.mark.unit

DUE = datetime(2025, 11, 12, 19, 0, tzinfo=timezone.utc)


def facts(**over) -> ReferralFacts:
    base = dict(referral_id=str(uuid.uuid4()), case_id="case-1", referring_office="/iom/tulcan",
                receiving_organisation="/civil-society/alas-de-colibri", referring_caseworker="sub-cw",
                service_type="psychosocial", priority="normal", status="pending", response_due_at=DUE)
    base.update(over)
    return ReferralFacts(**base)


def test_a_new_referral_goes_to_the_receiving_organisations_providers():
    [notice] = routing.referral_notices("referral.created", facts(priority="emergency"))
    assert notice.kind is Kind.REFERRAL_RECEIVED
    assert notice.audience == routing.Audience.members("/civil-society/alas-de-colibri", ("service-provider",))
    assert notice.mandatory and notice.deadline == DUE and notice.reference.startswith("REF-")


@pytest.mark.parametrize("name", ["referral.accepted", "referral.declined", "referral.expired", "referral.completed"])
def test_the_loop_closes_at_the_referring_caseworker(name):
    [notice] = routing.referral_notices(name, facts())
    assert notice.audience == routing.Audience.user("sub-cw", "/iom/tulcan")


def test_without_a_named_caseworker_the_referring_office_is_told():
    [notice] = routing.referral_notices("referral.accepted", facts(referring_caseworker=None))
    assert notice.audience.organisation == "/iom/tulcan"
    assert set(notice.audience.roles) == {"caseworker", "supervisor"}


def test_overdue_escalates_to_referring_supervisors_and_the_receiving_organisation():
    notices = routing.referral_notices("referral.overdue", facts())
    assert {(n.audience.organisation, n.audience.roles) for n in notices} == {
        ("/civil-society/alas-de-colibri", ("service-provider",)), ("/iom/tulcan", ("supervisor",))}
    assert all(n.mandatory for n in notices)


def test_an_office_referring_to_itself_gets_one_entry_for_both_roles():
    notices = routing.referral_notices("referral.overdue", facts(receiving_organisation="/iom/tulcan"))
    assert len(notices) == 1 and notices[0].audience.roles == ("service-provider", "supervisor")


def test_closed_referrals_only_go_to_webhooks_of_both_ends():
    f = facts()
    assert routing.referral_notices("referral.closed", f) == []
    hooks = routing.referral_webhooks("referral.closed", f, event_id="e1", link="https://x/referrals/1")
    assert {h.organisation for h in hooks} == {"/civil-society/alas-de-colibri", "/iom/tulcan"}
    assert set(hooks[0].data) <= {"event_id", "referral_id", "case_id", "receiving_organisation", "referring_office",
                                  "service_type", "priority", "status", "reason_code", "outcome_code",
                                  "response_due_at", "link"}


def test_consent_withdrawal_reaches_only_organisations_holding_a_covered_referral():
    held = [facts(referral_id="r1", receiving_organisation="/civil-society/hias", service_type="legal_aid"),
            facts(referral_id="r2", receiving_organisation="/civil-society/quimera", service_type="psychosocial"),
            facts(referral_id="r3", receiving_organisation="/civil-society/quimera", service_type="psychosocial")]
    pairs = routing.consent_withdrawn_notices(case_id="c", consent_id="k", referrals=held,
                                              recipient_organisation=None, recipient_service_type="psychosocial",
                                              categories=["health_needs"])
    assert [n.audience.organisation for n, _ in pairs] == ["/civil-society/quimera"]
    pairs = routing.consent_withdrawn_notices(case_id="c", consent_id="k", referrals=held,
                                              recipient_organisation="/civil-society/fiscalia-x",
                                              recipient_service_type=None, categories=[])
    assert pairs == []  # never referred there: telling them would reveal the case


def test_anomalies_go_to_the_oversight_office():
    notice = routing.anomaly_notice(rule="unusual-case-reads", count=40, window_seconds=3600,
                                    organisation="/iom/tulcan", oversight_group="/iom/oversight",
                                    oversight_roles=("auditor", "supervisor"))
    assert notice.audience.organisation == "/iom/oversight" and "subject" not in notice.params


def test_emergencies_cannot_be_muted():
    assert is_mandatory(Kind.REFERRAL_OVERDUE, "normal") and is_mandatory(Kind.CLINICAL_WINDOW_OPENED, None)
    assert is_mandatory(Kind.REFERRAL_RECEIVED, "emergency") and not is_mandatory(Kind.REFERRAL_RECEIVED, "urgent")
    assert preference_locked(Kind.REFERRAL_OVERDUE) and not preference_locked(Kind.REFERRAL_RECEIVED)


def event(name: str, data: dict) -> Event:
    return Event(type=event_type(name), source="/careroute/referral", data=data, key="case-1")


def test_unexpected_fields_are_dropped_when_reading_an_event():
    data = {"referral_id": str(uuid.uuid4()), "case_id": "case-1", "referring_office": "/iom/tulcan",
            "referring_caseworker": "sub", "receiving_organisation": "/civil-society/hias", "priority": "urgent",
            "survivor_name": "ZZ-MARIA", "notes": "she said ..."}
    msg = m.parse(m.ReferralCreated, event("referral.created", data))
    assert "survivor_name" not in msg.model_dump() and "notes" not in msg.model_dump()


@pytest.mark.parametrize("bad", [
    {"priority": "very-high"},                                 # not a priority
    {"reason_code": "Maria Perez called +593 99 123 4567"},    # free text where a code belongs
    {"receiving_organisation": "Alas de Colibrí"},             # not a group path
    {"referral_id": None},
])
def test_malformed_data_for_a_known_type_is_a_permanent_error(bad):
    data = {"referral_id": str(uuid.uuid4()), "case_id": "case-1", "referring_office": "/iom/tulcan",
            "referring_caseworker": "sub", "receiving_organisation": "/civil-society/hias", "priority": "urgent"}
    data.update(bad)
    with pytest.raises(PermanentError) as info:
        m.parse(m.ReferralCreated, event("referral.created", data))
    assert "Maria" not in str(info.value) and "593" not in str(info.value)
