"""The access policy matrix."""
from datetime import UTC, datetime, timedelta

import pytest
from careroute_platform.auth import Principal
from intake import policy

pytestmark = pytest.mark.unit
NOW = datetime(2026, 5, 10, tzinfo=UTC)
TULCAN, QUITO, ALAS = "/iom/tulcan", "/iom/centro-amor-quito", "/civil-society/alas-de-colibri"


def who(role, group):
    return Principal(subject=f"{role}-{group}", username=role, roles=frozenset({role}), groups=(group,),
                     client_id="careroute-frontend")


CASE = policy.CaseScope(TULCAN)


@pytest.mark.parametrize("principal, action, allowed, reason", [
    (who("caseworker", TULCAN), "case.read", True, "own-office"),
    (who("supervisor", TULCAN), "erase", True, "own-office"),
    (who("caseworker", TULCAN), "erase", False, "supervisor-only"),
    (who("caseworker", TULCAN), "export", False, "supervisor-only"),
    (who("caseworker", QUITO), "case.read", False, "outside-office"),
    (who("supervisor", QUITO), "case.read", False, "outside-office"),
    (who("caseworker", ALAS), "case.read", False, "outside-office"),
    (who("service-provider", ALAS), "case.read", False, "role-not-allowed"),
    (who("government-official", "/government/ministerio-mujer-ddhh"), "case.read", False, "government-statistics-only"),
    (who("auditor", "/iom/oversight"), "case.read", False, "auditor-no-case-content"),
    (who("caseworker", "/government/msp/hospital-tulcan"), "case.read", False, "organisation-kind-not-allowed"),
])
def test_case_access_matrix(principal, action, allowed, reason):
    decision = policy.case_access(principal, CASE, action)
    assert decision.allowed is allowed and decision.reason == reason


def test_partner_caseworker_sees_the_cases_of_her_organisation():
    assert policy.case_access(who("caseworker", ALAS), policy.CaseScope(ALAS), "case.read")
    assert policy.list_scope(who("caseworker", ALAS)) == ALAS
    assert policy.list_scope(who("service-provider", ALAS)) is None
    assert policy.list_scope(who("government-official", "/government/x")) is None


def grant(status="accepted", org=ALAS, cats=("identity", "health_needs", "legal_needs"), until=None):
    return policy.ReferralGrant("c", org, "health_cmr", frozenset(cats), status, until)


def test_provider_reads_only_referred_and_consented_categories():
    decision, cats = policy.shared_data(who("service-provider", ALAS), grant(), frozenset({"health_needs", "contact_details"}), NOW)
    assert decision and cats == {"health_needs"}


@pytest.mark.parametrize("principal, g, reason", [
    (who("service-provider", "/civil-society/quimera"), grant(), "not-receiving-organisation"),
    (who("caseworker", ALAS), grant(), "not-service-provider"),
    (who("service-provider", ALAS), grant(status="created"), "referral-created"),
    (who("service-provider", ALAS), grant(status="revoked"), "referral-revoked"),
    (who("service-provider", ALAS), grant(status="completed", until=NOW - timedelta(seconds=1)), "referral-completed"),
    (who("service-provider", ALAS), grant(cats=("legal_needs",)), "no-consented-category"),
])
def test_provider_refusals(principal, g, reason):
    decision, cats = policy.shared_data(principal, g, frozenset({"identity", "health_needs"}), NOW)
    assert not decision and decision.reason == reason and cats == frozenset()


def test_completed_referral_keeps_access_during_follow_up():
    decision, _ = policy.shared_data(who("service-provider", ALAS), grant(status="completed", until=NOW + timedelta(days=1)),
                                     frozenset({"identity"}), NOW)
    assert decision


@pytest.mark.parametrize("role, allowed", [("government-official", True), ("supervisor", True), ("caseworker", False),
                                           ("auditor", False), ("service-provider", False)])
def test_statistics(role, allowed):
    assert bool(policy.statistics(who(role, TULCAN))) is allowed


def test_transfer_decisions_belong_to_the_receiving_office():
    assert policy.transfer_decision(who("supervisor", QUITO), to_office=QUITO)
    assert not policy.transfer_decision(who("supervisor", TULCAN), to_office=QUITO)
    assert not policy.transfer_decision(who("service-provider", QUITO), to_office=QUITO)
