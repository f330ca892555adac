"""Clinical windows after sexual violence: HIV post-exposure prophylaxis (PEP) within 72 hours and
emergency contraception (EC) within 120 hours of the incident.

Staff often know only the date and the part of the day. Two rules keep the clock on the safe side:
- the window is *open* while ANY moment of the reported period is less than 120 h ago (so a survivor
  who may still be in time is never turned away by rounding);
- the *deadlines* are counted from the EARLIEST moment of the period ("act before"), so nobody is
  told there is more time than there may be.
Times are Ecuador's mainland time (UTC-5, no daylight saving)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from .vocabulary import SEXUAL_VIOLENCE_TYPES, GbvimsType, LegalType, TimeOfDay

ECUADOR = timezone(timedelta(hours=-5), "ECT")
PEP_HOURS = 72
EC_HOURS = 120

_PERIODS = {
    TimeOfDay.NIGHT: (0, 6), TimeOfDay.MORNING: (6, 12), TimeOfDay.AFTERNOON: (12, 18),
    TimeOfDay.EVENING: (18, 24), TimeOfDay.UNKNOWN: (0, 24),
}


def is_sexual_violence(gbvims_type: GbvimsType | str, legal_types) -> bool:
    return gbvims_type in SEXUAL_VIOLENCE_TYPES or LegalType.SEXUAL in set(legal_types or ())


def incident_period(occurred_on: date, time_of_day: TimeOfDay, at_time: time | None = None) -> tuple[datetime, datetime]:
    """The earliest and latest moment (UTC) the incident may have happened."""
    if at_time is not None:
        moment = datetime.combine(occurred_on, at_time.replace(tzinfo=None), ECUADOR).astimezone(UTC)
        return moment, moment
    start_h, end_h = _PERIODS[TimeOfDay(time_of_day)]
    day = datetime.combine(occurred_on, time(0), ECUADOR)
    return (day + timedelta(hours=start_h)).astimezone(UTC), \
        (day + timedelta(hours=end_h) - timedelta(seconds=1)).astimezone(UTC)


@dataclass(frozen=True)
class ClinicalWindow:
    incident_id: str
    incident_at: datetime       # earliest possible moment of the incident
    pep_deadline: datetime
    ec_deadline: datetime
    latest_at: datetime         # latest possible moment of the incident

    @property
    def closes_at(self) -> datetime:
        """When no moment of the reported period can still be within 120 h."""
        return self.latest_at + timedelta(hours=EC_HOURS)

    def pep_open(self, now: datetime) -> bool:
        """PEP may still be in time (the deadline to act on is `pep_deadline`)."""
        return now < self.latest_at + timedelta(hours=PEP_HOURS)

    def ec_open(self, now: datetime) -> bool:
        return now < self.closes_at

    def as_event(self) -> dict:
        return {"incident_id": self.incident_id, "incident_at": _iso(self.incident_at),
                "pep_deadline": _iso(self.pep_deadline), "ec_deadline": _iso(self.ec_deadline)}


def clinical_window(*, incident_id: str, gbvims_type, legal_types, occurred_on: date, time_of_day: TimeOfDay,
                    at_time: time | None, now: datetime) -> ClinicalWindow | None:
    """The window for a sexual-violence incident that may be less than 120 h old; None otherwise."""
    if not is_sexual_violence(gbvims_type, legal_types):
        return None
    earliest, latest = incident_period(occurred_on, time_of_day, at_time)
    closes_at = latest + timedelta(hours=EC_HOURS)
    if now >= closes_at:
        return None
    return ClinicalWindow(incident_id=incident_id, incident_at=earliest,
                          pep_deadline=earliest + timedelta(hours=PEP_HOURS),
                          ec_deadline=earliest + timedelta(hours=EC_HOURS), latest_at=latest)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
