"""Consent rules (survivor-centred; Ecuador's LOPDP and the GBV case-management guidelines).

Who may give consent depends on the survivor's age:
- 18 and over: the survivor herself;
- 15 to 17: the adolescent herself (LOPDP), or a caregiver with the adolescent's assent;
- 6 to 14: a caregiver, with the child's assent;
- under 6: a caregiver (a young child cannot give informed assent).
When only an age band is known, the rule for the youngest age in the band applies, except that an
adolescent consenting herself needs a known exact age (the 12-17 band straddles 15).

A consent is per receiving organisation (group path) or per service type, and per data category; it
may expire and may be withdrawn at any time. Registration itself needs a consent to be registered."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .ages import Age
from .errors import RuleViolation
from .vocabulary import ConsentGiver, DataCategory

ALL_CATEGORIES: tuple[str, ...] = tuple(c.value for c in DataCategory)


def check_consent_giver(*, given_by: ConsentGiver, child_assent: bool | None, caregiver_relationship: str | None,
                        age: Age, field: str = "consent") -> None:
    given_by = ConsentGiver(given_by)
    if given_by is ConsentGiver.SURVIVOR:
        if not age.at_least(18):
            raise RuleViolation("consent-giver-minor", field=f"{field}.given_by",
                                es="Una persona menor de 18 años no consiente como adulta: use adolescente o cuidador/a.",
                                en="A survivor under 18 cannot consent as an adult: use adolescent or caregiver.")
        return
    if given_by is ConsentGiver.ADOLESCENT:
        if age.years is None or not 15 <= age.years <= 17:
            raise RuleViolation("consent-adolescent-age", field=f"{field}.given_by",
                                es="Solo una adolescente de 15 a 17 años (edad exacta conocida) consiente por sí misma.",
                                en="Only an adolescent aged 15-17 (exact age known) consents herself.")
        return
    # caregiver
    if age.at_least(18):
        raise RuleViolation("consent-caregiver-adult", field=f"{field}.given_by",
                            es="Una sobreviviente adulta consiente por sí misma.",
                            en="An adult survivor consents herself.")
    if caregiver_relationship is None:
        raise RuleViolation("consent-caregiver-relationship", field=f"{field}.caregiver_relationship",
                            es="Indique la relación del cuidador/a con el niño/a.",
                            en="Give the caregiver's relationship to the child.")
    assent_needed = not age.below(6)
    if assent_needed and child_assent is not True:
        raise RuleViolation("consent-child-assent", field=f"{field}.child_assent",
                            es="Se requiere el asentimiento del niño/a o adolescente.",
                            en="The child's or adolescent's assent is required.")


def check_given_at(given_at: datetime, now: datetime, field: str = "consent.given_at") -> None:
    if given_at > now:
        raise RuleViolation("consent-in-future", field=field, es="La fecha del consentimiento no puede ser futura.",
                            en="The consent date cannot be in the future.")


def check_expiry(expires_at: datetime | None, now: datetime, field: str) -> None:
    if expires_at is not None and expires_at <= now:
        raise RuleViolation("consent-expired", field=field, es="La fecha de vencimiento ya pasó.",
                            en="The expiry date has already passed.")


@dataclass(frozen=True)
class ConsentScope:
    """What one consent allows: sharing with an organisation or with a service type."""
    recipient_organisation: str | None
    recipient_service_type: str | None
    categories: frozenset[str]
    expires_at: datetime | None
    withdrawn_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.withdrawn_at is None and (self.expires_at is None or self.expires_at > now)

    def covers(self, *, organisation: str, service_type: str | None) -> bool:
        return (self.recipient_organisation == organisation
                or (service_type is not None and self.recipient_service_type == service_type))


def consented_categories(scopes, *, organisation: str, service_type: str | None, now: datetime) -> frozenset[str]:
    """The union of the categories the survivor currently agrees to share with this recipient."""
    granted: set[str] = set()
    for scope in scopes:
        if scope.active(now) and scope.covers(organisation=organisation, service_type=service_type):
            granted |= scope.categories
    return frozenset(granted)
