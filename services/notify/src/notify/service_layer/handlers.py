"""Event handlers: an event in, notices and webhook deliveries out, all in the consumer's unit of work.

Handlers are idempotent (unique keys on every write) and tolerate out-of-order arrival: the referral
projection keeps the newest state only, and an event about an erased case is ignored whenever it
arrives. Malformed data for a known type raises PermanentError (dead-letter topic)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from careroute_platform.cloudevents import Event, event_type
from careroute_platform.consumer import PermanentError

from ..adapters.orm import deliveries, erased_cases, notifications, referrals
from ..domain import routing
from ..domain.routing import ReferralFacts
from ..settings import NotifySettings
from . import messages as m
from .notices import record_notices, record_webhooks

log = logging.getLogger(__name__)


class EventHandlers:
    def __init__(self, settings: NotifySettings, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def link(self, path: str) -> str:
        return self.settings.public_base_url.rstrip("/") + path

    def table(self) -> dict[str, Callable]:
        handlers: dict[str, Callable] = {event_type(name): self.referral for name in routing.REFERRAL_KINDS}
        handlers.update({
            event_type("case.clinical_window_opened"): self.clinical_window_opened,
            event_type("case.possible_duplicate"): self.possible_duplicate,
            event_type("case.erased"): self.case_erased,
            event_type("referral.purged"): self.referral_purged,
            event_type("consent.withdrawn"): self.consent_withdrawn,
            event_type("anomaly.detected"): self.anomaly_detected,
        })
        return handlers

    # -- helpers --------------------------------------------------------------------------------------
    @staticmethod
    def _erased(session, case_id: str) -> bool:
        return session.execute(select(erased_cases.c.case_id).where(erased_cases.c.case_id == case_id)).first() \
            is not None

    def _notices(self, uow, event: Event, notices: list[routing.Notice]) -> None:
        record_notices(uow.session, event_id=event.id, event_type=event.type, notices=notices,
                       email_enabled=self.settings.email_enabled, now=self.clock())

    # -- referral.* -----------------------------------------------------------------------------------
    def referral(self, uow, event: Event) -> None:
        name = event.name
        model = {"referral.created": m.ReferralCreated, "referral.deadline_approaching": m.ReferralWithClock,
                 "referral.overdue": m.ReferralWithClock}.get(name, m.ReferralMessage)
        msg = m.parse(model, event)
        session = uow.session
        if self._erased(session, msg.case_id):
            log.info("event about an erased case ignored", extra={"event_id": event.id, "event_type": event.type})
            return
        facts = ReferralFacts(referral_id=msg.referral_id, case_id=msg.case_id,
                              referring_office=msg.referring_office, receiving_organisation=msg.receiving_organisation,
                              referring_caseworker=msg.referring_caseworker, service_type=msg.service_type,
                              priority=msg.priority, status=msg.status, reason_code=msg.reason_code,
                              outcome_code=msg.counter_referral.outcome_code if msg.counter_referral else None,
                              response_due_at=msg.response_due_at)
        self._project(session, facts, msg.occurred_at or m.event_time(event) or self.clock(), name)
        self._notices(uow, event, routing.referral_notices(name, facts))
        record_webhooks(session, event_id=event.id, event_type=event.type, event_time=event.time or None,
                        messages=routing.referral_webhooks(name, facts, event_id=event.id,
                                                           link=self.link(routing.referral_link(facts.referral_id))),
                        case_id=facts.case_id, now=self.clock())

    @staticmethod
    def _project(session, r: ReferralFacts, at: datetime, name: str) -> None:
        """Keep the newest known state of the referral; an older event never overwrites a newer one."""
        status = r.status or name.split(".", 1)[1]
        values = dict(referral_id=r.referral_id, case_id=r.case_id, referring_office=r.referring_office,
                      referring_caseworker=r.referring_caseworker, receiving_organisation=r.receiving_organisation,
                      service_type=r.service_type, priority=r.priority, status=status, updated_at=at)
        stmt = insert(referrals).values(**values)
        update: dict[str, Any] = {k: stmt.excluded[k] for k in ("status", "updated_at")}
        for k in ("referring_caseworker", "service_type", "priority"):
            # a later event that omits a field keeps what an earlier one said
            update[k] = func.coalesce(stmt.excluded[k], referrals.c[k])
        session.execute(stmt.on_conflict_do_update(index_elements=["referral_id"], set_=update,
                                                   where=referrals.c.updated_at <= stmt.excluded.updated_at))

    # -- case.* ---------------------------------------------------------------------------------------
    def clinical_window_opened(self, uow, event: Event) -> None:
        msg = m.parse(m.ClinicalWindowOpened, event)
        if self._erased(uow.session, msg.case_id):
            return
        self._notices(uow, event, [routing.clinical_window_notice(
            case_id=msg.case_id, office=msg.office, pep_deadline=msg.pep_deadline, ec_deadline=msg.ec_deadline)])

    def possible_duplicate(self, uow, event: Event) -> None:
        msg = m.parse(m.PossibleDuplicate, event)
        if self._erased(uow.session, msg.case_id):
            return
        self._notices(uow, event, [routing.possible_duplicate_notice(
            case_id=msg.case_id, office=msg.office, other_case_id=msg.other_case_id)])

    def case_erased(self, uow, event: Event) -> None:
        """Purge everything that references the case: inbox entries (with their read marks and e-mail
        deliveries), webhook deliveries pending or logged, and the referral projection; remember the
        erasure so that a late event about the case is ignored."""
        msg = m.parse(m.CaseErased, event)
        session = uow.session
        purged_entries = session.execute(delete(notifications).where(notifications.c.case_id == msg.case_id)).rowcount
        purged_deliveries = session.execute(delete(deliveries).where(deliveries.c.case_id == msg.case_id)).rowcount
        session.execute(delete(referrals).where(referrals.c.case_id == msg.case_id))
        session.execute(insert(erased_cases).values(case_id=msg.case_id, erased_at=self.clock())
                        .on_conflict_do_nothing())
        log.info("case erased: notifications purged",
                 extra={"event_id": event.id, "count": (purged_entries or 0) + (purged_deliveries or 0)})

    def referral_purged(self, uow, event: Event) -> None:
        """The referral's content was deleted (its case erased): so are its notices and deliveries."""
        msg = m.parse(m.ReferralMessage, event)
        session = uow.session
        session.execute(delete(notifications).where(notifications.c.referral_id == msg.referral_id))
        session.execute(delete(deliveries).where(  # webhook deliveries about it (e-mails went with the notices)
            deliveries.c.payload["data"]["referral_id"].astext == msg.referral_id))
        session.execute(delete(referrals).where(referrals.c.referral_id == msg.referral_id))

    # -- consent.withdrawn ----------------------------------------------------------------------------
    def consent_withdrawn(self, uow, event: Event) -> None:
        msg = m.parse(m.ConsentWithdrawn, event)
        if msg.recipient_organisation is None and msg.recipient_service_type is None:
            raise PermanentError("consent.withdrawn: neither recipient_organisation nor recipient_service_type")
        session = uow.session
        if self._erased(session, msg.case_id):
            return
        rows = session.execute(select(referrals).where(referrals.c.case_id == msg.case_id)).all()
        facts = [ReferralFacts(referral_id=r.referral_id, case_id=r.case_id, referring_office=r.referring_office,
                               receiving_organisation=r.receiving_organisation, service_type=r.service_type,
                               priority=r.priority, status=r.status) for r in rows]
        pairs = routing.consent_withdrawn_notices(
            case_id=msg.case_id, consent_id=msg.consent_id, referrals=facts,
            recipient_organisation=msg.recipient_organisation, recipient_service_type=msg.recipient_service_type,
            categories=list(msg.categories))
        self._notices(uow, event, [notice for notice, _ in pairs])
        webhooks = []
        for notice, r in pairs:
            webhooks.append(routing.WebhookMessage("consent.withdrawn", r.receiving_organisation, {
                "event_id": event.id, "case_id": msg.case_id, "consent_id": msg.consent_id,
                "referral_id": r.referral_id, "categories": sorted(msg.categories),
                "link": self.link(routing.referral_link(r.referral_id))}))
        record_webhooks(session, event_id=event.id, event_type=event.type, event_time=event.time or None,
                        messages=webhooks, case_id=msg.case_id, now=self.clock())

    # -- anomaly.detected -----------------------------------------------------------------------------
    def anomaly_detected(self, uow, event: Event) -> None:
        msg = m.parse(m.AnomalyDetected, event)
        self._notices(uow, event, [routing.anomaly_notice(
            rule=msg.rule, count=msg.count, window_seconds=msg.window_seconds, organisation=msg.organisation,
            oversight_group=self.settings.anomaly_oversight_group,
            oversight_roles=tuple(self.settings.anomaly_oversight_roles))])
