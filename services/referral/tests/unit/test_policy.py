"""Row and field access."""
from types import SimpleNamespace

import pytest
from careroute_platform.auth import Principal
from referral import policy
from referral.domain.referral import Side

pytestmark = pytest.mark.unit


def who(roles, group, client="careroute-cli", service_account=False):
    return Principal(subject=f"sub-{roles[0]}-{group}", username="u", roles=frozenset(roles), groups=(group,),
                     client_id=client, is_service_account=service_account)


REF = SimpleNamespace(referring_office="/iom/tulcan", receiving_organisation="/government/msp/hospital-tulcan")
CASE = SimpleNamespace(registered=True, erased=False, office="/iom/tulcan")


def test_case_scope_is_the_office():
    assert policy.can_act_for_case(who(["caseworker"], "/iom/tulcan"), CASE)
    assert policy.can_act_for_case(who(["supervisor"], "/iom/tulcan"), CASE)
    assert policy.can_act_for_case(who(["caseworker"], "/iom/ibarra"), CASE).reason == "other-office"
    assert policy.can_act_for_case(who(["service-provider"], "/iom/tulcan"), CASE).reason == "role-missing"
    assert policy.can_act_for_case(who(["caseworker"], "/iom/tulcan"), None).reason == "case-unknown"
    erased = SimpleNamespace(registered=True, erased=True, office="/iom/tulcan")
    assert not policy.can_act_for_case(who(["caseworker"], "/iom/tulcan"), erased)


def test_partner_caseworker_for_cases_her_organisation_registered():
    case = SimpleNamespace(registered=True, erased=False, office="/civil-society/alas-de-colibri")
    assert policy.can_act_for_case(who(["caseworker"], "/civil-society/alas-de-colibri"), case)


def test_sides_of_a_referral():
    assert policy.side_of(who(["service-provider"], "/government/msp/hospital-tulcan"), REF) == Side.RECEIVING
    client = who(["service-provider", "integration-client"], "/government/msp/hospital-tulcan",
                 "msp-hospital-tulcan-system", True)
    assert policy.side_of(client, REF) == Side.RECEIVING
    assert policy.side_of(who(["caseworker"], "/iom/tulcan"), REF) == Side.REFERRING
    # same organisation, wrong role: a government official of the hospital sees no referrals
    # an official of the receiving institution reads the referral (receiving side) but may not act
    official = who(["government-official"], "/government/msp/hospital-tulcan")
    assert policy.side_of(official, REF) == Side.RECEIVING and not policy.may_act(official, Side.RECEIVING)
    assert policy.side_of(who(["government-official"], "/government/ministerio-mujer-ddhh"), REF) is None
    assert policy.side_of(who(["service-provider"], "/government/msp"), REF) is None


@pytest.mark.parametrize("action", ["accept", "decline", "complete", "close"])
def test_answers_belong_to_the_receiver(action):
    assert policy.can_act_on_referral(who(["service-provider"], "/government/msp/hospital-tulcan"), REF, action).status == 200
    wrong_side = policy.can_act_on_referral(who(["caseworker"], "/iom/tulcan"), REF, action)
    assert wrong_side.status == 403 and wrong_side.decision.reason == "wrong-side"
    stranger = policy.can_act_on_referral(who(["service-provider"], "/civil-society/hias"), REF, action)
    assert stranger.status == 404


def test_revoke_belongs_to_the_referrer():
    assert policy.can_act_on_referral(who(["supervisor"], "/iom/tulcan"), REF, "revoke").status == 200
    assert policy.can_act_on_referral(who(["service-provider"], "/government/msp/hospital-tulcan"), REF,
                                      "revoke").status == 403
    assert policy.can_act_on_referral(who(["caseworker"], "/iom/ibarra"), REF, "revoke").status == 404


def test_receiver_sees_reason_and_clinical_window_only_within_consent():
    full = policy.field_access(Side.REFERRING, ["identity"], "health_cmr")
    assert full.reason and full.clinical_window and full.override_details
    narrow = policy.field_access(Side.RECEIVING, ["identity", "contact_details"], "health_cmr")
    assert not narrow.reason and not narrow.clinical_window and not narrow.override_details
    health = policy.field_access(Side.RECEIVING, ["identity", "health_needs"], "health_cmr")
    assert health.reason and health.clinical_window
    legal = policy.field_access(Side.RECEIVING, ["legal_needs"], "health_cmr")
    assert not legal.reason
    summary = policy.field_access(Side.RECEIVING, ["incident_summary"], "legal_aid")
    assert summary.reason and summary.clinical_window


def test_statistics_and_directory_roles():
    assert policy.can_read_statistics(who(["government-official"], "/government/ministerio-mujer-ddhh"))
    assert policy.can_read_statistics(who(["supervisor"], "/iom/tulcan"))
    assert not policy.can_read_statistics(who(["caseworker"], "/iom/tulcan"))
    assert policy.can_admin_directory(who(["directory-admin"], "/iom/centro-amor-quito"))
    assert not policy.can_admin_directory(who(["supervisor"], "/iom/tulcan"))
