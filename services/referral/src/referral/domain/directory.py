"""The service directory's rules that do not need a database: opening hours in Ecuador's time
zone, place-name matching, and whether a service can take a referral right now."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from .vocabulary import OrganisationStatus, OverrideKind, ServiceStatus

ECUADOR = ZoneInfo("America/Guayaquil")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class OpeningHours:
    """One weekly opening: weekday 0 = Monday. `closes_at` <= `opens_at` means it runs past
    midnight (e.g. a night shift 20:00–08:00); 00:00–00:00 is the whole day."""
    weekday: int
    opens_at: time
    closes_at: time

    def covers(self, local: datetime) -> bool:
        t = local.time().replace(tzinfo=None)
        day = local.weekday()
        if self.opens_at == self.closes_at:            # the whole day
            return day == self.weekday
        if self.opens_at < self.closes_at:
            return day == self.weekday and self.opens_at <= t < self.closes_at
        # overnight: from opens_at on `weekday` until closes_at the next day
        return (day == self.weekday and t >= self.opens_at) or \
               (day == (self.weekday + 1) % 7 and t < self.closes_at)


def is_open(hours: list[OpeningHours], moment: datetime, *, open_24_7: bool = False) -> bool:
    if open_24_7:
        return True
    local = moment.astimezone(ECUADOR)
    return any(h.covers(local) for h in hours)


def normalise_place(name: str | None) -> str:
    """'Tulcán', 'TULCAN' and ' tulcan ' are the same canton."""
    if not name:
        return ""
    decomposed = unicodedata.normalize("NFKD", name)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


@dataclass(frozen=True)
class Availability:
    """Whether a service can receive a referral; which problems a supervisor may override."""
    refusable: tuple[str, ...]      # codes that cannot be overridden
    overridable: tuple[OverrideKind, ...]

    @property
    def ok(self) -> bool:
        return not self.refusable and not self.overridable


def availability(*, service_status: str, accepts_referrals: bool, organisation_status: str) -> Availability:
    refusable: list[str] = []
    overridable: list[OverrideKind] = []
    if not accepts_referrals:
        refusable.append("not_accepting_referrals")  # nobody on Care Route would answer it
    if organisation_status != OrganisationStatus.ACTIVE:
        refusable.append("organisation_inactive")
    if service_status == ServiceStatus.SUSPENDED:
        overridable.append(OverrideKind.SERVICE_SUSPENDED)
    elif service_status == ServiceStatus.AT_CAPACITY:
        overridable.append(OverrideKind.SERVICE_AT_CAPACITY)
    return Availability(tuple(refusable), tuple(overridable))
