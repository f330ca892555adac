"""Who may consent (survivor; adolescent 15+; caregiver with the child's assent) and what a consent covers."""
from datetime import UTC, datetime, timedelta

import pytest
from intake.domain.ages import Age, resolve_age
from intake.domain.consent import ConsentScope, check_consent_giver, consented_categories
from intake.domain.errors import RuleViolation
from intake.domain.vocabulary import AgeBand, ConsentGiver

pytestmark = pytest.mark.unit


def age(years=None, band=None):
    from intake.domain.ages import band_for

    return Age(years, band or band_for(years))


def check(given_by, a, assent=None, relationship="mother"):
    check_consent_giver(given_by=given_by, child_assent=assent, caregiver_relationship=relationship, age=a)


@pytest.mark.parametrize("given_by, a, assent", [
    (ConsentGiver.SURVIVOR, age(18), None), (ConsentGiver.SURVIVOR, age(band=AgeBand.AGE_26_40), None),
    (ConsentGiver.ADOLESCENT, age(15), None), (ConsentGiver.ADOLESCENT, age(17), None),
    (ConsentGiver.CAREGIVER, age(16), True), (ConsentGiver.CAREGIVER, age(10), True),
    (ConsentGiver.CAREGIVER, age(4), None), (ConsentGiver.CAREGIVER, age(band=AgeBand.AGE_12_17), True),
])
def test_allowed(given_by, a, assent):
    check(given_by, a, assent)


@pytest.mark.parametrize("given_by, a, assent, rule", [
    (ConsentGiver.SURVIVOR, age(17), None, "consent-giver-minor"),
    (ConsentGiver.SURVIVOR, age(band=AgeBand.AGE_12_17), None, "consent-giver-minor"),
    (ConsentGiver.ADOLESCENT, age(14), None, "consent-adolescent-age"),
    (ConsentGiver.ADOLESCENT, age(band=AgeBand.AGE_12_17), None, "consent-adolescent-age"),
    (ConsentGiver.ADOLESCENT, age(19), None, "consent-adolescent-age"),
    (ConsentGiver.CAREGIVER, age(10), None, "consent-child-assent"),
    (ConsentGiver.CAREGIVER, age(10), False, "consent-child-assent"),
    (ConsentGiver.CAREGIVER, age(30), True, "consent-caregiver-adult"),
])
def test_refused(given_by, a, assent, rule):
    with pytest.raises(RuleViolation) as err:
        check(given_by, a, assent)
    assert err.value.rule == rule


def test_caregiver_must_state_the_relationship():
    with pytest.raises(RuleViolation) as err:
        check(ConsentGiver.CAREGIVER, age(8), True, relationship=None)
    assert err.value.rule == "consent-caregiver-relationship"


def test_age_statements_must_agree():
    from datetime import date

    today = date(2026, 5, 10)
    assert resolve_age(date_of_birth=date(2010, 5, 11), age_years=None, age_band=None, today=today).years == 15
    with pytest.raises(RuleViolation):
        resolve_age(date_of_birth=date(2010, 5, 11), age_years=16, age_band=None, today=today)
    with pytest.raises(RuleViolation):
        resolve_age(date_of_birth=None, age_years=30, age_band=AgeBand.AGE_12_17, today=today)
    with pytest.raises(RuleViolation):
        resolve_age(date_of_birth=date(2030, 1, 1), age_years=None, age_band=None, today=today)
    with pytest.raises(RuleViolation):
        resolve_age(date_of_birth=None, age_years=None, age_band=None, today=today)


NOW = datetime(2026, 5, 10, tzinfo=UTC)


def scope(org=None, service=None, cats=("health_needs",), expires=None, withdrawn=None):
    return ConsentScope(org, service, frozenset(cats), expires, withdrawn)


def test_consented_categories_by_organisation_or_service_type():
    scopes = [scope(org="/civil-society/alas-de-colibri", cats=("identity", "health_needs")),
              scope(service="psychosocial", cats=("psychosocial_needs",)),
              scope(org="/civil-society/quimera", cats=("legal_needs",))]
    assert consented_categories(scopes, organisation="/civil-society/alas-de-colibri", service_type="psychosocial",
                                now=NOW) == {"identity", "health_needs", "psychosocial_needs"}
    assert consented_categories(scopes, organisation="/civil-society/hias", service_type="legal_aid", now=NOW) == set()


def test_withdrawn_or_expired_consent_grants_nothing():
    scopes = [scope(org="/x/y", withdrawn=NOW - timedelta(days=1)), scope(org="/x/y", expires=NOW)]
    assert consented_categories(scopes, organisation="/x/y", service_type=None, now=NOW) == set()
