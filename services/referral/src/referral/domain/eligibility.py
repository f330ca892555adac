"""Eligibility: does a case (as the local projection knows it) meet a service's criteria?

The projection holds an age band, not a birth date. A band wholly inside the service's range is
eligible, one wholly outside is not, one that straddles the limit is `unknown` — the receiving
organisation decides then. Unknown case attributes never exclude anyone."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

# intake's bands: 0_11, 12_17, 18_25, 26_40, 41_60, 61_plus
_RANGE = re.compile(r"^\s*(\d{1,3})\s*(?:-|_|–|to)\s*(\d{1,3})\s*$")
_OPEN = re.compile(r"^\s*(\d{1,3})\s*(?:\+|_?plus|_?or_?more|-)\s*$")
_UNDER = re.compile(r"^\s*(?:under|lt|<)_?(\d{1,3})\s*$")


def parse_age_band(band: str | None) -> tuple[int, int] | None:
    """'12-17' -> (12, 17); '60+' -> (60, 200); 'under_5' -> (0, 4); anything else -> None."""
    if not band:
        return None
    if m := _RANGE.match(band):
        lo, hi = int(m.group(1)), int(m.group(2))
        return (lo, hi) if lo <= hi else None
    if m := _OPEN.match(band):
        return int(m.group(1)), 200
    if m := _UNDER.match(band):
        return 0, max(0, int(m.group(1)) - 1)
    return None


class Verdict(StrEnum):
    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not_eligible"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Eligibility:
    min_age: int | None = None
    max_age: int | None = None
    sexes: frozenset[str] = frozenset()            # empty: any
    nationalities: frozenset[str] = frozenset()    # ISO 3166-1 alpha-2 (as intake), upper case; empty: any
    mobility_statuses: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *, min_age=None, max_age=None, sexes=(), nationalities=(), mobility_statuses=()) -> Eligibility:
        return cls(min_age, max_age, frozenset(s.lower() for s in sexes or ()),
                   frozenset(n.upper() for n in nationalities or ()),
                   frozenset(m.lower() for m in mobility_statuses or ()))


@dataclass(frozen=True)
class CaseProfile:
    age_band: str | None = None
    sex: str | None = None
    nationality: str | None = None
    mobility_status: str | None = None


@dataclass(frozen=True)
class EligibilityResult:
    verdict: Verdict
    unmet: tuple[str, ...] = field(default=())     # criteria codes: age, sex, nationality, mobility_status
    uncertain: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.verdict != Verdict.NOT_ELIGIBLE

    def as_dict(self) -> dict:
        return {"verdict": self.verdict.value, "unmet": list(self.unmet), "uncertain": list(self.uncertain)}


def check(eligibility: Eligibility, case: CaseProfile) -> EligibilityResult:
    unmet: list[str] = []
    uncertain: list[str] = []
    if eligibility.min_age is not None or eligibility.max_age is not None:
        lo_req = eligibility.min_age if eligibility.min_age is not None else 0
        hi_req = eligibility.max_age if eligibility.max_age is not None else 200
        band = parse_age_band(case.age_band)
        if band is None:
            uncertain.append("age")
        else:
            lo, hi = band
            if hi < lo_req or lo > hi_req:
                unmet.append("age")
            elif lo < lo_req or hi > hi_req:
                uncertain.append("age")
    for code, allowed, value, norm in (
        ("sex", eligibility.sexes, case.sex, str.lower),
        ("nationality", eligibility.nationalities, case.nationality, str.upper),
        ("mobility_status", eligibility.mobility_statuses, case.mobility_status, str.lower),
    ):
        if not allowed:
            continue
        if not value:
            uncertain.append(code)
        elif norm(value) not in allowed:
            unmet.append(code)
    if unmet:
        verdict = Verdict.NOT_ELIGIBLE
    elif uncertain:
        verdict = Verdict.UNKNOWN
    else:
        verdict = Verdict.ELIGIBLE
    return EligibilityResult(verdict, tuple(unmet), tuple(uncertain))
