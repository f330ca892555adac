"""The referral aggregate and its lifecycle, enforced here and nowhere else.

    pending ──accept──> accepted ──complete (counter-referral)──> completed
       │                   ├──close (without service)──────────> closed
       ├──decline──> declined
       ├──expire (clock)──> expired
       └──revoke──> revoked <──revoke── accepted     (never after completion)

Only the receiving organisation accepts, declines, completes or closes; only the referring side
revokes (or the system, when consent is withdrawn or the case is erased); only the clock expires.
Each transition appends a domain event; the service layer turns them into CloudEvents."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .vocabulary import (
    OPEN_STATUSES,
    SYSTEM_REVOKE_REASONS,
    CloseReason,
    DeclineReason,
    OutcomeCode,
    Priority,
    ReferralStatus,
    RevokeReason,
    ServiceType,
)

NOTE_MAX = 2000


class Side(StrEnum):
    REFERRING = "referring"
    RECEIVING = "receiving"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    side: Side
    subject: str | None = None
    organisation: str | None = None
    client: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(Side.SYSTEM)


class ReferralError(Exception):
    """A refusal the domain explains in both languages (no input values quoted)."""
    code = "conflict"

    def __init__(self, es: str, en: str) -> None:
        super().__init__(en)
        self.detail = {"es": es, "en": en}


class IllegalTransition(ReferralError):
    code = "illegal-transition"

    def __init__(self, action: str, status: ReferralStatus) -> None:
        es_status = {"pending": "pendiente", "accepted": "aceptada", "declined": "rechazada", "expired": "vencida",
                     "revoked": "anulada", "completed": "completada", "closed": "cerrada"}[status]
        es_action = {"accept": "aceptar", "decline": "rechazar", "complete": "completar", "close": "cerrar",
                     "revoke": "anular", "expire": "dar por vencida"}[action]
        super().__init__(f"No se puede {es_action} una referencia {es_status}.",
                         f"A referral that is {status.value} cannot be {_PAST[action]}.")
        self.action = action
        self.status = status


_PAST = {"accept": "accepted", "decline": "declined", "complete": "completed", "close": "closed",
         "revoke": "revoked", "expire": "expired"}


class NotPermitted(ReferralError):
    code = "forbidden"

    def __init__(self, action: str, required: Side) -> None:
        if required == Side.RECEIVING:
            es = "Solo la organización que recibe la referencia puede hacerlo."
            en = "Only the receiving organisation may do this."
        elif required == Side.REFERRING:
            es = "Solo quien refirió (su oficina) puede anular la referencia."
            en = "Only the referring side may revoke the referral."
        else:
            es, en = "Solo el sistema puede hacerlo.", "Only the system may do this."
        super().__init__(es, en)
        self.action = action
        self.required = required


class InvalidAnswer(ReferralError):
    code = "validation"


@dataclass(frozen=True)
class CounterReferral:
    """The receiver's feedback to the referrer ("contrarreferencia"). Codes travel in events; the
    note stays in this service's database."""
    service_delivered: bool
    outcome_code: OutcomeCode
    follow_up_advised: bool
    follow_up_service_types: tuple[ServiceType, ...] = ()
    note: str | None = None

    def __post_init__(self) -> None:
        if not self.service_delivered and self.outcome_code in (OutcomeCode.NEEDS_MET, OutcomeCode.NEEDS_PARTIALLY_MET):
            raise InvalidAnswer("Si no se prestó el servicio, el resultado no puede ser 'necesidades atendidas'.",
                                "If no service was delivered the outcome cannot be 'needs met'.")
        if self.follow_up_service_types and not self.follow_up_advised:
            raise InvalidAnswer("Indique seguimiento si sugiere servicios de seguimiento.",
                                "Set follow_up_advised when you suggest follow-up services.")
        _check_note(self.note, required=False)

    def codes(self) -> dict:
        return {"service_delivered": self.service_delivered, "outcome_code": self.outcome_code.value,
                "follow_up_advised": self.follow_up_advised,
                "follow_up_service_types": [t.value for t in self.follow_up_service_types]}


def _check_note(note: str | None, *, required: bool) -> None:
    if note is not None and len(note) > NOTE_MAX:
        raise InvalidAnswer("La nota es demasiado larga.", "The note is too long.")
    if required and not (note and note.strip()):
        raise InvalidAnswer("Con el motivo 'otro' escriba una nota.", "With reason 'other', write a note.")


@dataclass(frozen=True)
class DomainEvent:
    name: str            # referral.accepted
    data: dict           # what this event adds to the fields every referral event carries, and the
                         # status right after it (events may be turned into messages later)


@dataclass
class Referral:
    id: str
    case_id: str
    referring_office: str
    referring_caseworker: str
    created_by: str
    receiving_organisation: str
    organisation_id: str
    service_id: str
    service_type: ServiceType
    priority: Priority
    categories: tuple[str, ...]
    services_requested: tuple[str, ...]
    reason: str | None
    created_at: datetime
    response_due_at: datetime
    expires_at: datetime
    status: ReferralStatus = ReferralStatus.PENDING
    version: int = 1
    override_kinds: tuple[str, ...] = ()
    override_legal_basis: str | None = None
    override_justification: str | None = None
    override_by: str | None = None
    first_response_at: datetime | None = None
    accepted_at: datetime | None = None
    accepted_by: str | None = None
    declined_at: datetime | None = None
    decline_reason: str | None = None
    decline_note: str | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    revoke_note: str | None = None
    revoked_by: str | None = None
    completed_at: datetime | None = None
    counter_referral: CounterReferral | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    close_note: str | None = None
    expired_at: datetime | None = None
    answered_by: str | None = None
    answered_via_client: str | None = None
    deadline_approaching_notified_at: datetime | None = None
    overdue_notified_at: datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    # -- creation ---------------------------------------------------------------------------
    @classmethod
    def create(cls, *, case_id: str, referring_office: str, referring_caseworker: str, created_by: str,
               receiving_organisation: str, organisation_id: str, service_id: str, service_type: ServiceType,
               priority: Priority, categories: list[str], services_requested: list[str], reason: str | None,
               now: datetime, response_due_at: datetime, expires_at: datetime,
               override_kinds: list[str] = (), override_legal_basis: str | None = None,
               override_justification: str | None = None, override_by: str | None = None,
               clinical_window: dict | None = None, referral_id: str | None = None) -> Referral:
        if not categories:
            raise InvalidAnswer("Elija al menos una categoría de datos.", "Choose at least one data category.")
        if reason is not None and len(reason) > NOTE_MAX:
            raise InvalidAnswer("El motivo es demasiado largo.", "The reason is too long.")
        if override_kinds and not (override_justification and override_by):
            raise InvalidAnswer("Una excepción necesita justificación escrita de una supervisora.",
                                "An override needs a supervisor's written justification.")
        referral = cls(
            id=referral_id or str(uuid.uuid4()), case_id=case_id, referring_office=referring_office,
            referring_caseworker=referring_caseworker, created_by=created_by,
            receiving_organisation=receiving_organisation, organisation_id=organisation_id, service_id=service_id,
            service_type=ServiceType(service_type), priority=Priority(priority),
            categories=tuple(sorted(set(categories))),
            services_requested=tuple(sorted(set(services_requested) | {ServiceType(service_type).value})),
            reason=reason, created_at=now, response_due_at=response_due_at, expires_at=expires_at,
            override_kinds=tuple(sorted(set(override_kinds))), override_legal_basis=override_legal_basis,
            override_justification=override_justification if override_kinds else None,
            override_by=override_by if override_kinds else None,
        )
        referral.events.append(DomainEvent("referral.created", {
            "status": referral.status.value,
            "service_id": service_id, "response_due_at": response_due_at, "expires_at": expires_at,
            "categories": list(referral.categories), "services_requested": list(referral.services_requested),
            "clinical_window": clinical_window, "override": bool(referral.override_kinds),
            "override_kinds": list(referral.override_kinds), "override_legal_basis": override_legal_basis,
            "created_by": created_by,
        }))
        return referral

    # -- queries ----------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def overdue_at(self, now: datetime) -> bool:
        return self.status == ReferralStatus.PENDING and now >= self.response_due_at

    def allowed_actions(self, side: Side) -> list[str]:
        return [a for a, (sources, _, who) in TRANSITIONS.items()
                if self.status in sources and side in who and a != "expire"]

    # -- transitions ------------------------------------------------------------------------
    def _transition(self, action: str, by: Actor, at: datetime) -> ReferralStatus:
        sources, target, who = TRANSITIONS[action]
        if by.side not in who:
            raise NotPermitted(action, next(iter(w for w in who if w != Side.SYSTEM), Side.SYSTEM))
        if self.status not in sources:
            raise IllegalTransition(action, self.status)
        previous = self.status
        self.status = target
        self.version += 1
        if by.side == Side.RECEIVING and self.first_response_at is None:
            self.first_response_at = at
        if by.side == Side.RECEIVING:
            self.answered_by = by.subject
            self.answered_via_client = by.client
        return previous

    def accept(self, *, by: Actor, at: datetime) -> None:
        self._transition("accept", by, at)
        self.accepted_at, self.accepted_by = at, by.subject
        self._emit("referral.accepted", by)

    def decline(self, *, by: Actor, at: datetime, reason_code: DeclineReason | str, note: str | None = None) -> None:
        reason_code = DeclineReason(reason_code)
        _check_note(note, required=reason_code == DeclineReason.OTHER)
        self._transition("decline", by, at)
        self.declined_at, self.decline_reason, self.decline_note = at, reason_code.value, note
        self._emit("referral.declined", by, reason_code=reason_code.value)

    def complete(self, *, by: Actor, at: datetime, counter_referral: CounterReferral) -> None:
        self._transition("complete", by, at)
        self.completed_at, self.counter_referral = at, counter_referral
        self._emit("referral.completed", by, counter_referral=counter_referral.codes())

    def close(self, *, by: Actor, at: datetime, reason_code: CloseReason | str, note: str | None = None) -> None:
        reason_code = CloseReason(reason_code)
        _check_note(note, required=reason_code == CloseReason.OTHER)
        self._transition("close", by, at)
        self.closed_at, self.close_reason, self.close_note = at, reason_code.value, note
        self._emit("referral.closed", by, reason_code=reason_code.value)

    def revoke(self, *, by: Actor, at: datetime, reason_code: RevokeReason | str, note: str | None = None) -> None:
        reason_code = RevokeReason(reason_code)
        if by.side != Side.SYSTEM and reason_code in SYSTEM_REVOKE_REASONS:
            raise InvalidAnswer("Ese motivo lo asigna solo el sistema.", "Only the system sets that reason.")
        _check_note(note, required=reason_code == RevokeReason.OTHER)
        self._transition("revoke", by, at)
        self.revoked_at, self.revoke_reason, self.revoke_note, self.revoked_by = at, reason_code.value, note, by.subject
        self._emit("referral.revoked", by, reason_code=reason_code.value)

    def expire(self, *, at: datetime) -> None:
        if at < self.expires_at:
            raise ReferralError("La referencia aún no vence.", "The referral is not due to expire yet.")
        self._transition("expire", Actor.system(), at)
        self.expired_at = at
        self.events.append(DomainEvent("referral.expired", {"status": self.status.value, "response_due_at": self.response_due_at,
                                                             "expires_at": self.expires_at}))

    # -- clock marks (annotations, not state changes: the ETag does not move) ---------------
    def mark_deadline_approaching(self, *, at: datetime) -> None:
        if self.status != ReferralStatus.PENDING or self.deadline_approaching_notified_at is not None:
            return
        self.deadline_approaching_notified_at = at
        self.events.append(DomainEvent("referral.deadline_approaching", {"status": self.status.value, "response_due_at": self.response_due_at}))

    def mark_overdue(self, *, at: datetime) -> None:
        if self.status != ReferralStatus.PENDING or self.overdue_notified_at is not None:
            return
        self.overdue_notified_at = at
        self.events.append(DomainEvent("referral.overdue", {"status": self.status.value, "response_due_at": self.response_due_at}))

    def _emit(self, name: str, by: Actor, **data) -> None:
        self.events.append(DomainEvent(name, {"status": self.status.value, "acted_by": by.subject,
                                              "acted_by_client": by.client, **data}))

    def pull_events(self) -> list[DomainEvent]:
        events, self.events = self.events, []
        return events


TRANSITIONS: dict[str, tuple[frozenset[ReferralStatus], ReferralStatus, frozenset[Side]]] = {
    "accept": (frozenset({ReferralStatus.PENDING}), ReferralStatus.ACCEPTED, frozenset({Side.RECEIVING})),
    "decline": (frozenset({ReferralStatus.PENDING}), ReferralStatus.DECLINED, frozenset({Side.RECEIVING})),
    "complete": (frozenset({ReferralStatus.ACCEPTED}), ReferralStatus.COMPLETED, frozenset({Side.RECEIVING})),
    "close": (frozenset({ReferralStatus.ACCEPTED}), ReferralStatus.CLOSED, frozenset({Side.RECEIVING})),
    "revoke": (frozenset({ReferralStatus.PENDING, ReferralStatus.ACCEPTED}), ReferralStatus.REVOKED,
               frozenset({Side.REFERRING, Side.SYSTEM})),
    "expire": (frozenset({ReferralStatus.PENDING}), ReferralStatus.EXPIRED, frozenset({Side.SYSTEM})),
}
