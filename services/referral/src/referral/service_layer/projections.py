"""Local projections of intake's events, and what they set off here.

- careroute.case → case_projection / incident_projection: office, caseworker, profile for
  eligibility, canton, risk, status, sexual violence and clinical windows.
- careroute.consent → consent_projection; a withdrawal revokes the open referrals it no longer
  covers (reason consent_withdrawn), so the receiver's access ends at once.
- case.erased → every referral of the case is purged (open ones are first revoked with reason
  case_erased so inboxes drop them), the projections are emptied, only tombstones remain.

Order and duplicates: the consumer's processed-events guard makes a redelivery a no-op. Against
reordering, `case.updated` carries a version and older versions are ignored; `case.registered`
never overwrites what a newer update set; withdrawals are stored as withdrawn categories that a
later-arriving grant cannot bring back; nothing resurrects an erased case."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from careroute_platform import contracts
from careroute_platform.cloudevents import Event
from careroute_platform.consumer import PermanentError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..adapters import repository as repo
from ..adapters.orm import cases, consents, incidents, purged_referrals, referrals, unmet_needs
from ..domain.consent import coverage
from ..domain.deadlines import ClinicalWindow
from ..domain.referral import Actor, DomainEvent
from ..domain.vocabulary import DataCategory, OverrideKind, ReferralStatus, RevokeReason
from .context import Context
from .events import referral_event

log = logging.getLogger(__name__)
PROFILE_FIELDS = ("office", "caseworker", "age_band", "sex", "nationality", "mobility_status", "province", "canton",
                  "risk_level")
UPDATE_FIELDS = ("office", "risk_level", "status", "needs", "age_band", "sex", "nationality", "mobility_status",
                 "province", "canton")


def parse_time(value) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise PermanentError("unparseable timestamp") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _validated(event: Event) -> dict:
    """Intake's contract, where its schema is present; a violation can never apply: dead-letter it."""
    try:
        contracts.validate(event.type, event.data)
    except contracts.ContractViolation as exc:
        if "no schema" not in str(exc):
            raise PermanentError(str(exc)) from exc
    data = event.data
    case_id = data.get("case_id") or event.key
    if not isinstance(case_id, str) or not case_id or len(case_id) > 64:
        raise PermanentError("event without a usable case_id")
    return {**data, "case_id": case_id}


def _case_for_update(session, case_id: str):
    repo.ensure_case_row(session, case_id)
    return repo.get_case(session, case_id, lock="update")


def _str(value, limit: int = 80) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


class ProjectionHandlers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def handlers(self) -> dict:
        from careroute_platform.cloudevents import event_type as t
        return {
            t("case.registered"): self.case_registered,
            t("case.updated"): self.case_updated,
            t("case.closed"): self.case_closed,
            t("case.erased"): self.case_erased,
            t("case.clinical_window_opened"): self.clinical_window_opened,
            t("incident.recorded"): self.incident_recorded,
            t("consent.granted"): self.consent_granted,
            t("consent.withdrawn"): self.consent_withdrawn,
        }

    # -- cases ------------------------------------------------------------------------------
    def case_registered(self, uow, event: Event) -> None:
        data = _validated(event)
        s = uow.session
        case = _case_for_update(s, data["case_id"])
        if case.erased:
            return
        newer_exists = case.case_version > 1    # an update overtook the registration
        values = {"registered": True, "updated_at": func.now()}
        for name in PROFILE_FIELDS:
            incoming = _str(data.get(name), 160 if name == "office" else 80)
            if incoming is not None and (not newer_exists or getattr(case, name) is None):
                values[name] = incoming
        if "needs" in data and (not newer_exists or not case.needs):
            values["needs"] = [str(n)[:64] for n in data.get("needs") or []]
        if data.get("reporting_consent") is not None and not newer_exists:
            values["reporting_consent"] = bool(data["reporting_consent"])
        if case.case_version < 1:
            values["case_version"] = 1
        s.execute(update(cases).where(cases.c.case_id == case.case_id).values(**values))
        window = data.get("clinical_window")
        if isinstance(window, dict) and (window.get("pep_deadline") or window.get("incident_at")):
            self._upsert_incident(s, data["case_id"], window.get("incident_id") or f"{data['case_id']}:registration",
                                  sexual_violence=True, incident_at=parse_time(window.get("incident_at")),
                                  pep=parse_time(window.get("pep_deadline")), ec=parse_time(window.get("ec_deadline")))

    def case_updated(self, uow, event: Event) -> None:
        data = _validated(event)
        s = uow.session
        case = _case_for_update(s, data["case_id"])
        if case.erased:
            return
        version = data.get("version")
        if not isinstance(version, int):
            raise PermanentError("case.updated without an integer version")
        if version <= case.case_version:
            return  # older than what we have: never let it overwrite newer state
        values = {"case_version": version, "updated_at": func.now()}
        for name in UPDATE_FIELDS:
            if name in data:
                if name == "needs":
                    values["needs"] = [str(n)[:64] for n in data.get("needs") or []]
                else:
                    values[name] = _str(data[name], 160 if name == "office" else 80)
        if "status" in data:
            values["status_changed_at"] = parse_time(event.time) or datetime.now(UTC)
        if data.get("reporting_consent") is not None:
            values["reporting_consent"] = bool(data["reporting_consent"])
        s.execute(update(cases).where(cases.c.case_id == case.case_id).values(**values))

    def case_closed(self, uow, event: Event) -> None:
        data = _validated(event)
        s = uow.session
        case = _case_for_update(s, data["case_id"])
        if case.erased:
            return
        at = parse_time(event.time) or datetime.now(UTC)
        if case.status_changed_at is not None and at < case.status_changed_at:
            return
        values = {"status": "closed", "status_changed_at": at, "updated_at": func.now()}
        if case.office is None and data.get("office"):
            values["office"] = _str(data["office"], 160)
        s.execute(update(cases).where(cases.c.case_id == case.case_id).values(**values))

    def clinical_window_opened(self, uow, event: Event) -> None:
        data = _validated(event)
        s = uow.session
        case = _case_for_update(s, data["case_id"])
        if case.erased:
            return
        incident_at = parse_time(data.get("incident_at"))
        pep, ec = parse_time(data.get("pep_deadline")), parse_time(data.get("ec_deadline"))
        if incident_at and not pep:
            window = ClinicalWindow.from_incident(None, incident_at)
            pep, ec = window.pep_deadline, window.ec_deadline
        self._upsert_incident(s, data["case_id"], str(data.get("incident_id") or f"{data['case_id']}:window")[:64],
                              sexual_violence=True, incident_at=incident_at, pep=pep, ec=ec)

    def incident_recorded(self, uow, event: Event) -> None:
        data = _validated(event)
        s = uow.session
        case = _case_for_update(s, data["case_id"])
        if case.erased:
            return
        incident_id = data.get("incident_id")
        if not incident_id:
            raise PermanentError("incident.recorded without incident_id")
        self._upsert_incident(s, data["case_id"], str(incident_id)[:64], gbvims_type=_str(data.get("gbvims_type")),
                              sexual_violence=bool(data.get("sexual_violence")))

    def _upsert_incident(self, s, case_id: str, incident_id: str, *, sexual_violence: bool, gbvims_type=None,
                         incident_at=None, pep=None, ec=None) -> None:
        stmt = pg_insert(incidents).values(incident_id=incident_id, case_id=case_id, gbvims_type=gbvims_type,
                                           sexual_violence=sexual_violence, incident_at=incident_at,
                                           pep_deadline=pep, ec_deadline=ec)
        excluded = stmt.excluded
        # Each event fills what it knows; nothing known is erased by an event that does not know it.
        stmt = stmt.on_conflict_do_update(index_elements=[incidents.c.incident_id], set_={
            "gbvims_type": func.coalesce(excluded.gbvims_type, incidents.c.gbvims_type),
            "sexual_violence": incidents.c.sexual_violence | excluded.sexual_violence,
            "incident_at": func.coalesce(excluded.incident_at, incidents.c.incident_at),
            "pep_deadline": func.coalesce(excluded.pep_deadline, incidents.c.pep_deadline),
            "ec_deadline": func.coalesce(excluded.ec_deadline, incidents.c.ec_deadline),
        })
        s.execute(stmt)
        if sexual_violence:
            s.execute(update(cases).where(cases.c.case_id == case_id).values(sexual_violence=True))

    # -- consent ----------------------------------------------------------------------------
    def consent_granted(self, uow, event: Event) -> None:
        data = _validated(event)
        s = uow.session
        case = _case_for_update(s, data["case_id"])     # same lock order as referral creation
        if case.erased:
            return
        consent_id = data.get("consent_id")
        if not consent_id:
            raise PermanentError("consent.granted without consent_id")
        org, stype = data.get("recipient_organisation"), data.get("recipient_service_type")
        values = dict(case_id=data["case_id"], office=_str(data.get("office"), 160), purpose=_str(data.get("purpose"), 64),
                      recipient_organisation=_str(org, 160),
                      recipient_service_type=_str(stype, 64), granted=True,
                      granted_categories=sorted({str(c)[:64] for c in data.get("categories") or []}),
                      reporting=bool(data.get("reporting")), expires_at=parse_time(data.get("expires_at")),
                      granted_at=parse_time(event.time) or datetime.now(UTC))
        stmt = pg_insert(consents).values(consent_id=str(consent_id)[:64], **values)
        # withdrawn_categories is left alone: a grant that arrives after its withdrawal stays withdrawn.
        stmt = stmt.on_conflict_do_update(index_elements=[consents.c.consent_id],
                                          set_={k: stmt.excluded[k] for k in values if k != "case_id"})
        s.execute(stmt)

    def consent_withdrawn(self, uow, event: Event) -> None:
        data = _validated(event)
        s = uow.session
        case = _case_for_update(s, data["case_id"])
        if case.erased:
            return
        consent_id = data.get("consent_id")
        if not consent_id:
            raise PermanentError("consent.withdrawn without consent_id")
        withdrawn = sorted({str(c)[:64] for c in data.get("categories") or []} or {c.value for c in DataCategory})
        at = parse_time(event.time) or datetime.now(UTC)
        existing = s.execute(select(consents).where(consents.c.consent_id == str(consent_id)[:64])
                             .with_for_update()).first()
        if existing is None:
            s.execute(insert(consents).values(
                consent_id=str(consent_id)[:64], case_id=data["case_id"], office=_str(data.get("office"), 160),
                recipient_organisation=_str(data.get("recipient_organisation"), 160),
                recipient_service_type=_str(data.get("recipient_service_type"), 64),
                purpose=_str(data.get("purpose"), 64), granted=False,
                withdrawn_categories=withdrawn, withdrawn_at=at))
        else:
            s.execute(update(consents).where(consents.c.consent_id == existing.consent_id).values(
                withdrawn_categories=sorted(set(existing.withdrawn_categories or ()) | set(withdrawn)),
                withdrawn_at=at))
        self.revoke_uncovered(uow, data["case_id"], RevokeReason.CONSENT_WITHDRAWN)

    def revoke_uncovered(self, uow, case_id: str, reason: RevokeReason) -> int:
        """Revoke the case's open referrals that its consents no longer cover. Referrals made under
        a consent override rest on a legal basis, not on consent, and stay."""
        s = uow.session
        now = self.ctx.clock.now()
        grants = repo.consent_grants(s, case_id)
        rows = s.execute(select(referrals).where(
            referrals.c.case_id == case_id,
            referrals.c.status.in_([ReferralStatus.PENDING.value, ReferralStatus.ACCEPTED.value]))
            .order_by(referrals.c.created_at).with_for_update()).all()
        revoked = 0
        for row in rows:
            referral = repo.referral_from_row(row)
            if OverrideKind.CONSENT.value in referral.override_kinds:
                continue
            cover = coverage(grants, organisation=referral.receiving_organisation,
                             service_type=referral.service_type.value, categories=set(referral.categories), at=now)
            if cover.complete:
                continue
            expected = referral.version
            referral.revoke(by=Actor.system(), at=now, reason_code=reason)
            repo.save_referral(s, referral, expected_version=expected, now=now)
            repo.add_history(s, referral, "revoke", None, now, reason.value)
            for e in referral.pull_events():
                uow.publish(referral_event(referral, e, now))
            revoked += 1
        if revoked:
            log.info("referrals revoked after a consent change", extra={"case_id": case_id, "count": revoked,
                                                                        "outcome": reason.value})
        return revoked

    # -- erasure ----------------------------------------------------------------------------
    def case_erased(self, uow, event: Event) -> None:
        data = _validated(event)
        s = uow.session
        case_id = data["case_id"]
        _case_for_update(s, case_id)     # same lock order as creation: the case row first
        now = self.ctx.clock.now()
        rows = s.execute(select(referrals).where(referrals.c.case_id == case_id)
                         .order_by(referrals.c.created_at).with_for_update()).all()
        purged_ids = []
        for row in rows:
            referral = repo.referral_from_row(row)
            last_status = referral.status.value
            if referral.is_open:
                referral.revoke(by=Actor.system(), at=now, reason_code=RevokeReason.CASE_ERASED)
                for e in referral.pull_events():
                    uow.publish(referral_event(referral, e, now))
                last_status = referral.status.value
            uow.publish(referral_event(referral, DomainEvent("referral.purged", {}), now, status=last_status))
            purged_ids.append(referral.id)
        if purged_ids:
            s.execute(delete(referrals).where(referrals.c.id.in_(purged_ids)))   # history cascades
            s.execute(pg_insert(purged_referrals).values([{"referral_id": i, "case_id": case_id, "purged_at": now}
                                                          for i in purged_ids]).on_conflict_do_nothing())
            idem = self.ctx.runtime.idempotency_table
            # stored creation responses carry the reason: they go too
            s.execute(delete(idem).where(idem.c.response["id"].astext.in_(purged_ids)))
        s.execute(delete(unmet_needs).where(unmet_needs.c.case_id == case_id))
        s.execute(delete(consents).where(consents.c.case_id == case_id))
        s.execute(delete(incidents).where(incidents.c.case_id == case_id))
        s.execute(update(cases).where(cases.c.case_id == case_id).values(
            erased=True, erased_at=now, registered=False, caseworker=None, age_band=None, sex=None, nationality=None,
            mobility_status=None, province=None, canton=None, risk_level=None, needs=[], reporting_consent=False,
            sexual_violence=False, status="erased"))
        log.info("case erased: referrals purged", extra={"case_id": case_id, "count": len(purged_ids)})
