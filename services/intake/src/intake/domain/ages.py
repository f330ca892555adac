"""Ages: exact years from a date of birth or a stated age, or only a GBVIMS age band."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .errors import RuleViolation
from .vocabulary import AgeBand

_BANDS = [(0, 11, AgeBand.AGE_0_11), (12, 17, AgeBand.AGE_12_17), (18, 25, AgeBand.AGE_18_25),
          (26, 40, AgeBand.AGE_26_40), (41, 60, AgeBand.AGE_41_60), (61, 200, AgeBand.AGE_61_PLUS)]
MAX_AGE = 120


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def band_for(age: int) -> AgeBand:
    for low, high, band in _BANDS:
        if low <= age <= high:
            return band
    raise ValueError("age out of range")


def band_range(band: AgeBand) -> tuple[int, int]:
    for low, high, b in _BANDS:
        if b == band:
            return low, high
    raise ValueError("unknown band")


@dataclass(frozen=True)
class Age:
    """What is known of the survivor's age: `years` when exact, always a `band`."""
    years: int | None
    band: AgeBand

    @property
    def is_adult(self) -> bool | None:
        """True/False when certain, None when the band straddles 18 (it never does with GBVIMS bands)."""
        low, _ = band_range(self.band) if self.years is None else (self.years, self.years)
        return low >= 18

    def at_least(self, years: int) -> bool:
        """Certainly at least `years` old."""
        low = self.years if self.years is not None else band_range(self.band)[0]
        return low >= years

    def below(self, years: int) -> bool:
        """Certainly younger than `years`."""
        high = self.years if self.years is not None else band_range(self.band)[1]
        return high < years


def resolve_age(*, date_of_birth: date | None, age_years: int | None, age_band: AgeBand | None,
                today: date) -> Age:
    """Combine what was given, refusing inconsistent statements. At least one must be present."""
    if date_of_birth is not None:
        if date_of_birth > today:
            raise RuleViolation("dob-in-future", field="survivor.date_of_birth",
                                es="La fecha de nacimiento no puede ser futura.",
                                en="The date of birth cannot be in the future.")
        computed = age_on(date_of_birth, today)
        if computed > MAX_AGE:
            raise RuleViolation("dob-too-old", field="survivor.date_of_birth",
                                es="La fecha de nacimiento no es plausible.", en="The date of birth is not plausible.")
        if age_years is not None and age_years != computed:
            raise RuleViolation("age-inconsistent", field="profile.age_years",
                                es="La edad no coincide con la fecha de nacimiento.",
                                en="The age does not match the date of birth.")
        age_years = computed
    if age_years is not None:
        if not 0 <= age_years <= MAX_AGE:
            raise RuleViolation("age-out-of-range", field="profile.age_years",
                                es="La edad no es plausible.", en="The age is not plausible.")
        band = band_for(age_years)
        if age_band is not None and age_band != band:
            raise RuleViolation("age-band-inconsistent", field="profile.age_band",
                                es="El grupo de edad no coincide con la edad.",
                                en="The age band does not match the age.")
        return Age(age_years, band)
    if age_band is None:
        raise RuleViolation("age-required", field="profile.age_band",
                            es="Indique la edad, la fecha de nacimiento o el grupo de edad.",
                            en="Give the age, the date of birth or the age band.")
    return Age(None, age_band)
