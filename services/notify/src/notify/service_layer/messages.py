"""The consumed events, read into typed messages.

Only the fields notify needs are read; anything else an event carries (including a field a careless
producer added) is dropped here and can never reach an inbox, an e-mail or a webhook. Every field is
an id, a code or a timestamp with a strict pattern, so free text in a field that should hold a code
fails validation and the event is dead-lettered instead of rendered."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from careroute_platform.cloudevents import Event
from careroute_platform.consumer import PermanentError

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
Organisation = Annotated[str, Field(pattern=r"^/(iom|government|civil-society)(/[a-z0-9-]+)*$", max_length=200)]
Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Priority = Literal["emergency", "urgent", "normal"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


M = TypeVar("M", bound=_Message)


class CounterReferral(_Message):
    outcome_code: Code | None = None
    follow_up_advised: bool | None = None


class ReferralMessage(_Message):
    referral_id: Id
    case_id: Id
    referring_office: Organisation
    referring_caseworker: Id | None = None
    receiving_organisation: Organisation
    service_type: Code | None = None
    priority: Priority | None = None
    status: Code | None = None
    reason_code: Code | None = None
    response_due_at: AwareDatetime | None = None
    occurred_at: AwareDatetime | None = None
    counter_referral: CounterReferral | None = None


class ReferralWithClock(ReferralMessage):
    priority: Priority
    response_due_at: AwareDatetime


class ReferralCreated(ReferralMessage):
    priority: Priority


class ClinicalWindowOpened(_Message):
    case_id: Id
    office: Organisation
    incident_id: Id | None = None
    pep_deadline: AwareDatetime
    ec_deadline: AwareDatetime | None = None


class PossibleDuplicate(_Message):
    case_id: Id
    office: Organisation
    other_case_id: Id


class CaseErased(_Message):
    case_id: Id
    office: Organisation | None = None


class ConsentWithdrawn(_Message):
    case_id: Id
    consent_id: Id
    office: Organisation
    recipient_organisation: Organisation | None = None
    recipient_service_type: Code | None = None
    categories: list[Code] = []


class AnomalyDetected(_Message):
    rule: Code
    subject: Annotated[str, Field(max_length=64)] | None = None   # read for validation only; never shown
    organisation: Organisation | None = None
    count: int = Field(ge=0)
    window_seconds: int = Field(ge=0)


def parse(model: type[M], event: Event) -> M:
    try:
        return model.model_validate(event.data)
    except ValidationError as exc:
        # Name the fields and rules only: the values may be exactly what must not be logged.
        where = ", ".join(sorted({".".join(str(p) for p in e["loc"]) + ":" + e["type"] for e in exc.errors()}))
        raise PermanentError(f"{event.name}: invalid data ({where[:300]})") from None


def event_time(event: Event) -> datetime | None:
    try:
        return datetime.fromisoformat(event.time) if event.time else None
    except ValueError:
        return None
