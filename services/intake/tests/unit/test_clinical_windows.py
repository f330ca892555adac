"""PEP (72 h) and emergency contraception (120 h) windows after sexual violence."""
from datetime import UTC, date, datetime, time, timedelta

import pytest
from intake.domain.clinical import ECUADOR, clinical_window, incident_period, is_sexual_violence
from intake.domain.vocabulary import GbvimsType, LegalType, TimeOfDay

pytestmark = pytest.mark.unit
NOW = datetime(2026, 5, 10, 15, 0, tzinfo=UTC)  # 10:00 in Ecuador


def window(gbvims=GbvimsType.RAPE, legal=(), on=date(2026, 5, 9), tod=TimeOfDay.NIGHT, at=None, now=NOW):
    return clinical_window(incident_id="i", gbvims_type=gbvims, legal_types=legal, occurred_on=on,
                           time_of_day=tod, at_time=at, now=now)


@pytest.mark.parametrize("gbvims, legal, expected", [
    (GbvimsType.RAPE, (), True), (GbvimsType.SEXUAL_ASSAULT, (), True),
    (GbvimsType.PHYSICAL_ASSAULT, (LegalType.SEXUAL,), True), (GbvimsType.PHYSICAL_ASSAULT, (LegalType.FISICA,), False),
    (GbvimsType.PSYCHOLOGICAL_ABUSE, (), False)])
def test_which_incidents_are_sexual_violence(gbvims, legal, expected):
    assert is_sexual_violence(gbvims, legal) is expected


def test_exact_time_gives_exact_deadlines():
    w = window(at=time(22, 30))
    incident_at = datetime(2026, 5, 9, 22, 30, tzinfo=ECUADOR)
    assert w.incident_at == incident_at
    assert w.pep_deadline == incident_at + timedelta(hours=72)
    assert w.ec_deadline == incident_at + timedelta(hours=120)
    assert w.pep_open(NOW) and w.ec_open(NOW)
    assert w.as_event()["pep_deadline"].endswith("Z")


def test_part_of_day_counts_deadlines_from_its_earliest_moment():
    w = window(tod=TimeOfDay.EVENING)
    assert w.incident_at == datetime(2026, 5, 9, 18, 0, tzinfo=ECUADOR)
    earliest, latest = incident_period(date(2026, 5, 9), TimeOfDay.EVENING)
    assert latest - earliest == timedelta(hours=6) - timedelta(seconds=1)


def test_window_stays_open_while_any_moment_of_the_period_may_be_within_120_hours():
    # unknown time on 5 May: the latest moment is 23:59:59 local on 5 May
    on = date(2026, 5, 5)
    closes = datetime(2026, 5, 5, 23, 59, 59, tzinfo=ECUADOR) + timedelta(hours=120)
    assert window(on=on, tod=TimeOfDay.UNKNOWN, now=closes - timedelta(minutes=1)) is not None
    assert window(on=on, tod=TimeOfDay.UNKNOWN, now=closes) is None


def test_old_or_non_sexual_incidents_open_no_window():
    assert window(on=date(2026, 4, 1)) is None
    assert window(gbvims=GbvimsType.PHYSICAL_ASSAULT) is None


def test_pep_closes_before_ec():
    w = window(at=time(1, 0), on=date(2026, 5, 6))
    later = datetime(2026, 5, 6, 1, 0, tzinfo=ECUADOR) + timedelta(hours=100)
    assert not w.pep_open(later) and w.ec_open(later)
