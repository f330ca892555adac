import pytest
from referral.domain.eligibility import CaseProfile, Eligibility, Verdict, check, parse_age_band

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("band,expected", [("18-59", (18, 59)), ("12_17", (12, 17)), ("60+", (60, 200)),
                                           ("0-4", (0, 4)), ("under_5", (0, 4)), ("adult", None), (None, None),
                                           ("17-12", None)])
def test_age_bands(band, expected):
    assert parse_age_band(band) == expected


SHELTER = Eligibility.of(min_age=18, sexes=["female"])


def test_adult_woman_is_eligible_for_the_shelter():
    r = check(SHELTER, CaseProfile("18-59", "female", "VEN", "migrant"))
    assert r.verdict == Verdict.ELIGIBLE and r.allowed


def test_a_girl_or_a_man_is_not():
    assert check(SHELTER, CaseProfile("12-17", "female")).unmet == ("age",)
    r = check(SHELTER, CaseProfile("18-59", "male"))
    assert r.verdict == Verdict.NOT_ELIGIBLE and r.unmet == ("sex",) and not r.allowed


def test_a_band_across_the_limit_or_unknown_data_is_unknown_not_excluded():
    r = check(SHELTER, CaseProfile("15-19", "female"))
    assert r.verdict == Verdict.UNKNOWN and r.uncertain == ("age",) and r.allowed
    r = check(SHELTER, CaseProfile(None, None))
    assert r.verdict == Verdict.UNKNOWN and set(r.uncertain) == {"age", "sex"}


def test_nationality_and_mobility_status_are_case_insensitive():
    e = Eligibility.of(nationalities=["ven", "COL"], mobility_statuses=["Refugee", "asylum_seeker"])
    assert check(e, CaseProfile(nationality="VEN", mobility_status="refugee")).verdict == Verdict.ELIGIBLE
    r = check(e, CaseProfile(nationality="ECU", mobility_status="host_community"))
    assert set(r.unmet) == {"nationality", "mobility_status"}


def test_no_criteria_means_everyone():
    assert check(Eligibility(), CaseProfile()).verdict == Verdict.ELIGIBLE
