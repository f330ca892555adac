"""Opening hours in Ecuador's time zone, place names, availability."""
from datetime import UTC, datetime, time

import pytest
from referral.domain.directory import OpeningHours, availability, is_open, normalise_place
from referral.domain.vocabulary import OverrideKind

pytestmark = pytest.mark.unit
WEEKDAYS = [OpeningHours(d, time(8), time(17)) for d in range(5)]


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_opening_hours_are_in_guayaquil_time():
    # Monday 2 March 2026: 13:00 UTC = 08:00 in Ecuador (UTC-5)
    assert not is_open(WEEKDAYS, utc(2026, 3, 2, 12, 59))
    assert is_open(WEEKDAYS, utc(2026, 3, 2, 13, 0))
    assert is_open(WEEKDAYS, utc(2026, 3, 2, 21, 59))
    assert not is_open(WEEKDAYS, utc(2026, 3, 2, 22, 0))
    # Saturday
    assert not is_open(WEEKDAYS, utc(2026, 3, 7, 15, 0))


def test_overnight_and_whole_day_openings():
    night = [OpeningHours(4, time(20), time(8))]  # Friday 20:00 to Saturday 08:00
    assert is_open(night, utc(2026, 3, 7, 2, 0))        # Friday 21:00 local
    assert is_open(night, utc(2026, 3, 7, 12, 0))       # Saturday 07:00 local
    assert not is_open(night, utc(2026, 3, 7, 14, 0))
    sunday = [OpeningHours(6, time(0), time(0))]
    assert is_open(sunday, utc(2026, 3, 8, 23, 0))
    assert is_open([], utc(2026, 3, 8, 3, 0), open_24_7=True)


def test_place_names_match_without_accents_or_case():
    assert normalise_place(" TULCÁN ") == normalise_place("tulcan") == "tulcan"
    assert normalise_place("Lago  Agrio") == "lago agrio"


def test_availability():
    ok = availability(service_status="available", accepts_referrals=True, organisation_status="active")
    assert ok.ok
    full = availability(service_status="at_capacity", accepts_referrals=True, organisation_status="active")
    assert full.overridable == (OverrideKind.SERVICE_AT_CAPACITY,) and not full.refusable
    off = availability(service_status="suspended", accepts_referrals=False, organisation_status="inactive")
    assert off.refusable == ("not_accepting_referrals", "organisation_inactive")
