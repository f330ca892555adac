"""Request bodies. Unknown fields are refused (a typo must not be silently ignored); free text has
length limits; codes come from the vocabularies."""
from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from careroute_platform.text import CleanText
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..domain.vocabulary import (
    SYSTEM_REVOKE_REASONS,
    CloseReason,
    CostKind,
    DataCategory,
    DeclineReason,
    LegalBasis,
    OrganisationStatus,
    OutcomeCode,
    Priority,
    RevokeReason,
    ServiceStatus,
    ServiceType,
)

CASE_ID = r"^[A-Za-z0-9_-]{1,64}$"
GROUP_PATH = r"^/(iom|government|civil-society)(/[a-z0-9-]{1,60}){1,4}$"
Note = CleanText(2000, multiline=True)
ShortText = CleanText(200)
UserRevokeReason = StrEnum("UserRevokeReason", {r.name: r.value for r in RevokeReason if r not in SYSTEM_REVOKE_REASONS})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OverrideIn(Strict):
    justification: CleanText(2000, multiline=True, min_length=20) = Field(
                               description="A supervisor's written justification (stays in this service)")
    legal_basis: LegalBasis | None = Field(None, description="Required to refer without consent")


class CreateReferralIn(Strict):
    case_id: str = Field(pattern=CASE_ID)
    service_id: UUID
    priority: Priority
    categories: list[DataCategory] = Field(min_length=1, max_length=len(DataCategory))
    services_requested: list[ServiceType] = Field(default_factory=list, max_length=len(ServiceType))
    reason: Note | None = Field(None, description="Free text for the receiver (never in events)")
    override: OverrideIn | None = None


class DeclineIn(Strict):
    reason_code: DeclineReason
    note: Note | None = None


class CloseIn(Strict):
    reason_code: CloseReason
    note: Note | None = None


class RevokeIn(Strict):
    reason_code: UserRevokeReason  # type: ignore[valid-type]
    note: Note | None = None


class CompleteIn(Strict):
    service_delivered: bool
    outcome_code: OutcomeCode
    follow_up_advised: bool = False
    follow_up_service_types: list[ServiceType] = Field(default_factory=list, max_length=len(ServiceType))
    note: Note | None = Field(None, description="The counter-referral note (stays in this service)")


# -- directory ------------------------------------------------------------------------------------
class Bilingual(Strict):
    es: CleanText(2000, multiline=True)
    en: CleanText(2000, multiline=True)


class BilingualName(Strict):
    es: ShortText
    en: ShortText


class ContactIn(Strict):
    name: ShortText = Field(description="An institutional desk, not a private person")
    title: ShortText | None = None
    department: ShortText | None = None
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^\+?[0-9 ()-]{6,40}$")


class OrganisationIn(Strict):
    group_path: str = Field(pattern=GROUP_PATH, description="The identity provider's group path")
    name: BilingualName
    alternate_name: ShortText | None = None
    description: Bilingual
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^\+?[0-9 ()-]{6,40}$")
    website: str | None = Field(None, max_length=300, pattern=r"^https://[^\s]+$")
    status: OrganisationStatus = OrganisationStatus.ACTIVE
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)


class OrganisationPatch(Strict):
    group_path: str | None = Field(None, pattern=GROUP_PATH)
    name: BilingualName | None = None
    alternate_name: ShortText | None = None
    description: Bilingual | None = None
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^\+?[0-9 ()-]{6,40}$")
    website: str | None = Field(None, max_length=300, pattern=r"^https://[^\s]+$")
    status: OrganisationStatus | None = None
    contacts: list[ContactIn] | None = Field(None, max_length=20)


class LocationIn(Strict):
    name: ShortText
    province: CleanText(80)
    canton: CleanText(80)
    canton_code: str = Field(pattern=r"^\d{4}$", description="INEC DPA canton code (its first two digits: province)")
    address: CleanText(300) | None = None
    latitude: float | None = Field(None, ge=-5.1, le=1.7)      # continental Ecuador and Galápagos
    longitude: float | None = Field(None, ge=-92.1, le=-75.1)
    confidential: bool = False


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class OpeningIn(Strict):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    opens_at: str = Field(description="HH:MM, America/Guayaquil")
    closes_at: str = Field(description="HH:MM; earlier than opens_at means past midnight")

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("use HH:MM (24 h)")
        return value


class CostIn(Strict):
    kind: CostKind = CostKind.FREE
    description: Bilingual | None = None


class EligibilityIn(Strict):
    min_age: int | None = Field(None, ge=0, le=120)
    max_age: int | None = Field(None, ge=0, le=120)
    sexes: list[Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")]] = Field(default_factory=list, max_length=8)
    nationalities: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]] = Field(default_factory=list, max_length=60)
    mobility_statuses: list[Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]] = Field(default_factory=list, max_length=16)
    description: Bilingual | None = None

    @model_validator(mode="after")
    def _range(self):
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("min_age is above max_age")
        return self


Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]


class ServiceIn(Strict):
    organisation_id: UUID
    service_type: ServiceType
    name: BilingualName
    description: Bilingual
    application_process: Bilingual | None = None
    status: ServiceStatus = ServiceStatus.AVAILABLE
    accepts_referrals: bool = True
    languages: list[Language] = Field(default_factory=lambda: ["es"], max_length=12)
    cost: CostIn = Field(default_factory=CostIn)
    eligibility: EligibilityIn = Field(default_factory=EligibilityIn)
    open_24_7: bool = False
    schedules: list[OpeningIn] = Field(default_factory=list, max_length=28)
    locations: list[LocationIn] = Field(min_length=1, max_length=50)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^\+?[0-9 ()-]{6,40}$")


class ServicePatch(Strict):
    service_type: ServiceType | None = None
    name: BilingualName | None = None
    description: Bilingual | None = None
    application_process: Bilingual | None = None
    status: ServiceStatus | None = None
    accepts_referrals: bool | None = None
    languages: list[Language] | None = Field(None, max_length=12)
    cost: CostIn | None = None
    eligibility: EligibilityIn | None = None
    open_24_7: bool | None = None
    schedules: list[OpeningIn] | None = Field(None, max_length=28)
    locations: list[LocationIn] | None = Field(None, min_length=1, max_length=50)
    contacts: list[ContactIn] | None = Field(None, max_length=20)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^\+?[0-9 ()-]{6,40}$")
