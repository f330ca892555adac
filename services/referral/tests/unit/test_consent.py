"""Consent scope: organisation or service type, categories, expiry, withdrawal that sticks."""
from datetime import timedelta

import pytest
from referral.domain.consent import ConsentGrant, coverage

from .helpers import T0

pytestmark = pytest.mark.unit
HOSPITAL = "/government/msp/hospital-tulcan"


def grant(cid="c1", org=HOSPITAL, stype=None, cats=("identity", "health_needs"), withdrawn=(), expires=None,
          granted=True):
    return ConsentGrant(cid, org, stype, frozenset(cats), frozenset(withdrawn), expires, granted)


def cover(grants, cats, org=HOSPITAL, stype="health_cmr", at=T0):
    return coverage(grants, organisation=org, service_type=stype, categories=set(cats), at=at)


def test_consent_for_the_receiving_organisation_covers_its_categories():
    c = cover([grant()], {"identity", "health_needs"})
    assert c.complete and c.consent_ids == ("c1",)


def test_categories_outside_the_consent_are_missing():
    c = cover([grant()], {"identity", "incident_summary"})
    assert not c.complete and c.missing == {"incident_summary"}


def test_consent_to_another_organisation_does_not_count_not_even_a_parent():
    assert not cover([grant(org="/civil-society/hias")], {"identity"}).complete
    assert not cover([grant(org="/government/msp")], {"identity"}).complete


def test_consent_for_the_service_type_covers_any_organisation_of_that_type():
    g = grant(org=None, stype="health_cmr")
    assert cover([g], {"identity"}, org="/government/msp/hospital-lago-agrio").complete
    assert not cover([g], {"identity"}, stype="legal_aid").complete


def test_two_consents_together_can_cover():
    grants = [grant("c1", cats=("identity",)), grant("c2", org=None, stype="health_cmr", cats=("health_needs",))]
    c = cover(grants, {"identity", "health_needs"})
    assert c.complete and c.consent_ids == ("c1", "c2")


def test_expired_consent_does_not_cover():
    g = grant(expires=T0 + timedelta(hours=1))
    assert cover([g], {"identity"}, at=T0).complete
    assert cover([g], {"identity"}, at=T0).expires_at == T0 + timedelta(hours=1)
    assert not cover([g], {"identity"}, at=T0 + timedelta(hours=1)).complete


def test_withdrawal_removes_categories_and_a_late_grant_cannot_restore_them():
    partially = grant(withdrawn=("health_needs",))
    assert cover([partially], {"identity"}).complete
    assert not cover([partially], {"health_needs"}).complete
    withdrawal_only = grant(cats=(), withdrawn=("identity", "health_needs"), granted=False)
    assert not cover([withdrawal_only], {"identity"}).complete
    late_grant = grant(withdrawn=("identity", "health_needs"))   # the grant arrived after its withdrawal
    assert not cover([late_grant], {"identity"}).complete
