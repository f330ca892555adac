"""Request and response models of the intake API. Requests forbid unknown fields (no mass
assignment), validate every field against its vocabulary, and normalise text (NFC, no control
characters, capped length). Validation messages name the rule, never the value."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from .domain import geography
from .domain.clinical import ECUADOR
from careroute_platform.text import clean_text
from .domain.vocabulary import (
    AccessPurpose,
    AgeBand,
    CaregiverRelationship,
    CaseStatus,
    ClosureReason,
    ConsentGiver,
    ConsentPurpose,
    ContextFlag,
    DataCategory,
    Disability,
    DocumentType,
    DuplicateMatch,
    DuplicateResolution,
    ErasureReason,
    Ethnicity,
    GbvimsType,
    GenderIdentity,
    LegalType,
    LocationType,
    MobilityStatus,
    NoteType,
    PerpetratorAgeGroup,
    PerpetratorRelationship,
    PerpetratorSex,
    ReportedTo,
    RiskLevel,
    ServiceType,
    Sex,
    TimeOfDay,
    TransferDeclineReason,
    TransferReason,
    TransferStatus,
)


def _text(max_length: int, multiline: bool = False):
    return AfterValidator(lambda v: clean_text(v, max_length=max_length, multiline=multiline))


def _pattern(regex: str, rule: str):
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(rule)
        return value
    return AfterValidator(check)


def _check(predicate, rule: str):
    def check(value):
        if not predicate(value):
            raise ValueError(rule)
        return value
    return AfterValidator(check)


def _unique(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("items must be unique")
    return values


Name = Annotated[str, Field(max_length=400), _text(100)]
Address = Annotated[str, Field(max_length=1200), _text(300)]
Phone = Annotated[str, Field(max_length=100), _text(25), _pattern(r"\+?[0-9][0-9 ().-]{5,23}", "must be a phone number")]
DocumentNumber = Annotated[str, Field(max_length=120), _text(30),
                           _pattern(r"[A-Za-z0-9][A-Za-z0-9 .-]{1,29}", "must be letters, digits, spaces, dots or dashes")]
NoteText = Annotated[str, Field(max_length=32000), _text(8000, multiline=True)]
SafetyPlanText = Annotated[str, Field(max_length=16000), _text(4000, multiline=True)]
OfficePath = Annotated[str, Field(max_length=200, pattern=r"^/(iom|government|civil-society)(/[a-z0-9-]+)+$")]
# Staff are named by the identity provider's subject id (a UUID in Keycloak), never by a name.
SubjectId = Annotated[str, Field(max_length=36, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
Province = Annotated[str, Field(max_length=2, pattern=r"^[0-9]{2}$"), _check(geography.valid_province, "unknown province code")]
Canton = Annotated[str, Field(max_length=4, pattern=r"^[0-9]{4}$"), _check(lambda c: geography.valid_canton(c, None), "unknown canton code")]
Nationality = Annotated[str, Field(max_length=2, pattern=r"^[A-Z]{2}$"), _check(geography.valid_nationality, "unknown country code")]
Language = Annotated[str, Field(max_length=3, pattern=r"^[a-z]{2,3}$"), _check(geography.valid_language, "unknown language code")]


def UniqueList(item, max_length: int, min_length: int = 0):
    return Annotated[list[item], Field(min_length=min_length, max_length=max_length), AfterValidator(_unique)]


def ecuador_today() -> date:
    return datetime.now(ECUADOR).date()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------- input
class CaregiverIn(Strict):
    given_names: Name | None = None
    family_names: Name | None = None
    relationship: CaregiverRelationship
    phone: Phone | None = None


class SurvivorIdentityIn(Strict):
    """Identity: sealed in the vault, never stored or published in the clear. Every field is optional
    (a survivor may remain anonymous)."""
    given_names: Name | None = None
    family_names: Name | None = None
    date_of_birth: date | None = None
    phone: Phone | None = None
    address: Address | None = None
    document_type: DocumentType | None = None
    document_number: DocumentNumber | None = None
    caregiver: CaregiverIn | None = None

    @model_validator(mode="after")
    def _rules(self):
        if self.document_number is not None and self.document_type is None:
            raise ValueError("document_number needs document_type")
        if self.date_of_birth is not None and self.date_of_birth > ecuador_today():
            raise ValueError("date_of_birth cannot be in the future")
        return self


class ProfileIn(Strict):
    age_years: int | None = Field(None, ge=0, le=120)
    age_band: AgeBand | None = None
    sex: Sex
    gender_identity: GenderIdentity | None = None
    nationality: Nationality
    ethnicity: Ethnicity | None = None
    mobility_status: MobilityStatus
    disability: UniqueList(Disability, 7) = []
    languages: UniqueList(Language, 10) = []
    province: Province | None = None
    canton: Canton | None = None

    @model_validator(mode="after")
    def _place(self):
        _check_place(self.province, self.canton)
        return self


class ProfilePatch(Strict):
    age_years: int | None = Field(None, ge=0, le=120)
    age_band: AgeBand | None = None
    sex: Sex | None = None
    gender_identity: GenderIdentity | None = None
    nationality: Nationality | None = None
    ethnicity: Ethnicity | None = None
    mobility_status: MobilityStatus | None = None
    disability: UniqueList(Disability, 7) | None = None
    languages: UniqueList(Language, 10) | None = None
    province: Province | None = None
    canton: Canton | None = None

    @model_validator(mode="after")
    def _required_stay(self):
        for name in ("sex", "nationality", "mobility_status", "disability", "languages"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be removed")
        return self


def _check_place(province: str | None, canton: str | None) -> None:
    if canton is not None and (province is None or canton[:2] != province):
        raise ValueError("canton must belong to the province given")


class PerpetratorsIn(Strict):
    count: int = Field(ge=1, le=50)
    sex: PerpetratorSex
    age_group: PerpetratorAgeGroup
    relationship: PerpetratorRelationship


class IncidentIn(Strict):
    occurred_on: date
    time_of_day: TimeOfDay = TimeOfDay.UNKNOWN
    local_time: time | None = Field(None, description="local time (Ecuador) when known exactly; no time zone")
    location_type: LocationType
    province: Province | None = None
    canton: Canton | None = None
    gbvims_type: GbvimsType
    context_flags: UniqueList(ContextFlag, 6) = []
    legal_types: UniqueList(LegalType, 7) = []
    perpetrators: PerpetratorsIn
    reported_to: UniqueList(ReportedTo, 6) = []

    @model_validator(mode="after")
    def _rules(self):
        if self.occurred_on < date(1900, 1, 1):
            raise ValueError("occurred_on is not plausible")
        if self.local_time is not None and self.local_time.tzinfo is not None:
            raise ValueError("time is local Ecuador time, without a time zone")
        now_local = datetime.now(ECUADOR)
        if self.occurred_on > now_local.date():
            raise ValueError("occurred_on cannot be in the future")
        if self.local_time is not None and self.occurred_on == now_local.date() and self.local_time > now_local.time().replace(tzinfo=None):
            raise ValueError("the incident time cannot be in the future")
        if ReportedTo.NOT_REPORTED in self.reported_to and len(self.reported_to) > 1:
            raise ValueError("not_reported excludes other reported_to values")
        _check_place(self.province, self.canton)
        return self


class ConsentGiverIn(Strict):
    given_by: ConsentGiver
    child_assent: bool | None = None
    caregiver_relationship: CaregiverRelationship | None = None
    given_at: AwareDatetime


class SharingScopeIn(Strict):
    recipient_organisation: OfficePath | None = None
    recipient_service_type: ServiceType | None = None
    categories: UniqueList(DataCategory, 7, min_length=1)
    expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_recipient(self):
        if (self.recipient_organisation is None) == (self.recipient_service_type is None):
            raise ValueError("give exactly one of recipient_organisation or recipient_service_type")
        return self


class RegistrationConsentIn(ConsentGiverIn):
    registration: Literal[True] = Field(description="consent to be registered and to case management (required)")
    reporting: bool = Field(False, description="consent to de-identified statistics")
    expires_at: AwareDatetime | None = None
    sharing: Annotated[list[SharingScopeIn], Field(max_length=20)] = []


class RiskIn(Strict):
    level: RiskLevel
    safety_plan: SafetyPlanText | None = None


class RegistrationIn(Strict):
    consent: RegistrationConsentIn
    survivor: SurvivorIdentityIn = SurvivorIdentityIn()
    profile: ProfileIn
    incident: IncidentIn | None = None
    needs: UniqueList(ServiceType, 8) = []
    risk: RiskIn
    caseworker: SubjectId | None = Field(None, description="assign to this caseworker (default: the registering user)")


class CaseUpdateIn(Strict):
    profile: ProfilePatch | None = None
    needs: UniqueList(ServiceType, 8) | None = None
    risk: RiskIn | None = None
    status: Literal["open", "follow_up"] | None = None
    caseworker: SubjectId | None = None

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in ("needs", "risk", "status", "profile"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class CloseIn(Strict):
    closure_reason: ClosureReason


class NoteIn(Strict):
    note_type: NoteType
    text: NoteText


class ConsentGrantIn(ConsentGiverIn):
    purpose: Literal["registration", "sharing"] = Field(
        description="registration: renew the consent to be registered (and change `reporting`); sharing: one scope")
    reporting: bool | None = None
    recipient_organisation: OfficePath | None = None
    recipient_service_type: ServiceType | None = None
    categories: UniqueList(DataCategory, 7) = []
    expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _shape(self):
        if self.purpose == "sharing":
            if (self.recipient_organisation is None) == (self.recipient_service_type is None):
                raise ValueError("give exactly one of recipient_organisation or recipient_service_type")
            if not self.categories:
                raise ValueError("a sharing consent needs at least one category")
            if self.reporting is not None:
                raise ValueError("reporting belongs to the registration consent")
        else:
            if self.recipient_organisation or self.recipient_service_type or self.categories:
                raise ValueError("a registration consent has no recipient or categories")
            if self.reporting is None:
                raise ValueError("a registration consent states reporting (true or false)")
        return self


class TransferIn(Strict):
    to_office: OfficePath
    reason_code: TransferReason
    consent: ConsentGiverIn


class TransferDeclineIn(Strict):
    reason_code: TransferDeclineReason


class EraseIn(Strict):
    reason: ErasureReason


class DuplicateResolveIn(Strict):
    resolution: DuplicateResolution


# -------------------------------------------------------------------------------------------- output
class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class ProfileOut(BaseModel):
    age_years: int | None
    age_band: AgeBand
    sex: Sex
    gender_identity: GenderIdentity | None
    nationality: str
    ethnicity: Ethnicity | None
    mobility_status: MobilityStatus
    disability: list[Disability]
    languages: list[str]
    province: str | None
    canton: str | None


class ClinicalWindowOut(BaseModel):
    incident_id: str
    incident_at: datetime
    pep_deadline: datetime
    ec_deadline: datetime
    pep_open: bool
    ec_open: bool


class PerpetratorsOut(BaseModel):
    count: int
    sex: PerpetratorSex
    age_group: PerpetratorAgeGroup
    relationship: PerpetratorRelationship


class IncidentOut(BaseModel):
    id: str
    occurred_on: date
    time_of_day: TimeOfDay
    local_time: str | None
    location_type: LocationType
    province: str | None
    canton: str | None
    gbvims_type: GbvimsType
    context_flags: list[ContextFlag]
    legal_types: list[LegalType]
    sexual_violence: bool
    perpetrators: PerpetratorsOut
    reported_to: list[ReportedTo]
    recorded_by: str
    recorded_at: datetime


class CaseSummaryOut(BaseModel):
    id: str
    survivor_code: str
    office: str
    caseworker: str | None
    status: CaseStatus
    risk_level: RiskLevel
    needs: list[ServiceType]
    clinical_window: ClinicalWindowOut | None
    created_at: datetime
    updated_at: datetime
    version: int


class CaseOut(CaseSummaryOut):
    registered_by_office: str
    closure_reason: ClosureReason | None
    safety_plan_in_place: bool
    safety_plan: str | None = None
    profile: ProfileOut
    reporting_consent: bool
    incidents: list[IncidentOut] = []
    closed_at: datetime | None


class CaseListOut(BaseModel):
    items: list[CaseSummaryOut]
    total: int
    limit: int
    offset: int


class CaregiverOut(BaseModel):
    given_names: str | None = None
    family_names: str | None = None
    relationship: CaregiverRelationship | None = None
    phone: str | None = None


class IdentityOut(BaseModel):
    case_id: str
    survivor_code: str
    given_names: str | None
    family_names: str | None
    date_of_birth: date | None
    phone: str | None
    address: str | None
    document_type: DocumentType | None
    document_number: str | None
    caregiver: CaregiverOut | None
    version: int


class NoteOut(BaseModel):
    id: str
    note_type: NoteType
    text: str
    author: str
    created_at: datetime


class NoteListOut(BaseModel):
    items: list[NoteOut]
    total: int
    limit: int
    offset: int


class ConsentOut(BaseModel):
    id: str
    purpose: ConsentPurpose
    given_by: ConsentGiver
    child_assent: bool | None
    caregiver_relationship: CaregiverRelationship | None
    given_at: datetime
    recorded_by: str
    recipient_organisation: str | None
    recipient_service_type: ServiceType | None
    categories: list[DataCategory]
    reporting: bool
    expires_at: datetime | None
    withdrawn_at: datetime | None
    superseded_at: datetime | None
    active: bool


class ConsentListOut(BaseModel):
    items: list[ConsentOut]


class TransferOut(BaseModel):
    id: str
    case_id: str
    survivor_code: str | None
    from_office: str
    to_office: str
    status: TransferStatus
    reason_code: TransferReason
    decline_reason: TransferDeclineReason | None
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    version: int
    case_summary: dict | None = Field(None, description="for the receiving office while pending: codes only")


class TransferListOut(BaseModel):
    items: list[TransferOut]
    total: int
    limit: int
    offset: int


class SharedDataOut(BaseModel):
    referral_id: str
    case_id: str
    survivor_code: str
    categories: list[DataCategory]
    identity: dict | None = None
    contact_details: dict | None = None
    incident_summary: dict | None = None
    health_needs: dict | None = None
    protection_needs: dict | None = None
    psychosocial_needs: dict | None = None
    legal_needs: dict | None = None


class StatisticsCellOut(BaseModel):
    key: dict[str, str | None]
    count: int | None
    suppressed: bool


class StatisticsOut(BaseModel):
    group_by: list[str]
    from_month: str | None
    to_month: str | None
    min_cell: int
    total: int | None
    cells: list[StatisticsCellOut]


class ErasureOut(BaseModel):
    case_id: str
    status: CaseStatus
    erased_at: datetime
    reason: ErasureReason
    version: int


class DuplicateOut(BaseModel):
    id: str
    case_id: str
    office: str
    other_case_id: str
    other_office: str
    matched_on: DuplicateMatch
    status: str
    created_at: datetime


class DuplicateListOut(BaseModel):
    items: list[DuplicateOut]
    total: int
    limit: int
    offset: int


AccessPurposeParam = AccessPurpose
__all__ = [n for n in dir() if n.endswith(("In", "Out"))] + ["AccessPurposeParam", "ecuador_today"]
_ = timezone  # used by callers importing from here
