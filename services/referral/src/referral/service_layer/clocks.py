"""The referral clock: a worker that warns before a response deadline, flags it once passed,
expires pending referrals after the grace period, and revokes referrals whose consent expired.
Each referral is handled in its own transaction with `FOR UPDATE SKIP LOCKED`, so several
replicas share the work and a referral being answered right now is left for the next tick."""
from __future__ import annotations

import logging
import threading

from sqlalchemy import and_, exists, func, literal, or_, select

from ..adapters import repository as repo
from ..adapters.orm import consents, referrals
from ..domain.deadlines import due_clock_actions
from ..domain.vocabulary import ReferralStatus, RevokeReason
from ..metrics import CLOCK_ACTIONS, PENDING_OVERDUE
from .context import Context
from .events import referral_event
from .projections import ProjectionHandlers

log = logging.getLogger(__name__)


class ReferralClock:
    def __init__(self, ctx: Context, *, interval_seconds: float | None = None, batch_size: int | None = None) -> None:
        self.ctx = ctx
        self.interval = interval_seconds if interval_seconds is not None else ctx.settings.clock_interval_seconds
        self.batch_size = batch_size or ctx.settings.clock_batch_size
        self.stopping = threading.Event()

    def due_ids(self, now) -> list[str]:
        r = referrals.c
        fraction = literal(self.ctx.clock_policy.approaching_fraction)
        approaching = and_(r.deadline_approaching_notified_at.is_(None), r.response_due_at > now,
                           r.created_at + (r.response_due_at - r.created_at) * fraction <= now)
        overdue = and_(r.overdue_notified_at.is_(None), r.response_due_at <= now, r.expires_at > now)
        with self.ctx.runtime.engine.connect() as conn:
            rows = conn.execute(select(r.id).where(r.status == ReferralStatus.PENDING.value,
                                                   or_(approaching, overdue, r.expires_at <= now))
                                .order_by(r.response_due_at).limit(self.batch_size)).all()
        return [row.id for row in rows]

    def tick(self) -> dict:
        now = self.ctx.clock.now()
        counts = {"deadline_approaching": 0, "overdue": 0, "expire": 0, "consent_expired": 0}
        for referral_id in self.due_ids(now):
            with self.ctx.runtime.uow() as uow:
                row = uow.session.execute(select(referrals).where(referrals.c.id == referral_id)
                                          .with_for_update(skip_locked=True)).first()
                if row is None:
                    continue
                referral = repo.referral_from_row(row)
                expected = referral.version
                actions = due_clock_actions(
                    status=referral.status, priority=referral.priority, created_at=referral.created_at,
                    response_due_at=referral.response_due_at, expires_at=referral.expires_at,
                    approaching_notified=referral.deadline_approaching_notified_at is not None,
                    overdue_notified=referral.overdue_notified_at is not None, now=now, policy=self.ctx.clock_policy)
                for action in actions:
                    if action == "deadline_approaching":
                        referral.mark_deadline_approaching(at=now)
                    elif action == "overdue":
                        referral.mark_overdue(at=now)
                    elif action == "expire":
                        referral.expire(at=now)
                        repo.add_history(uow.session, referral, "expire", None, now)
                    counts[action] += 1
                if not actions:
                    continue
                repo.save_referral(uow.session, referral, expected_version=expected, now=now)
                for event in referral.pull_events():
                    uow.publish(referral_event(referral, event, now))
                uow.commit()
        counts["consent_expired"] = self.revoke_expired_consents(now)
        for action, n in counts.items():
            if n:
                CLOCK_ACTIONS.labels(action).inc(n)
        with self.ctx.runtime.engine.connect() as conn:
            PENDING_OVERDUE.set(conn.execute(select(func.count()).select_from(referrals).where(
                referrals.c.status == ReferralStatus.PENDING.value, referrals.c.response_due_at <= now)).scalar_one())
        return counts

    def revoke_expired_consents(self, now) -> int:
        """Open referrals of cases with a consent past its expiry: re-check their coverage."""
        r, c = referrals.c, consents.c
        with self.ctx.runtime.engine.connect() as conn:
            case_ids = [row.case_id for row in conn.execute(
                select(r.case_id).distinct().where(
                    r.status.in_([ReferralStatus.PENDING.value, ReferralStatus.ACCEPTED.value]),
                    exists().where(c.case_id == r.case_id, c.expires_at <= now))
                .limit(self.batch_size)).all()]
        handlers = ProjectionHandlers(self.ctx)
        revoked = 0
        for case_id in case_ids:
            with self.ctx.runtime.uow() as uow:
                # same lock order as creation and the consent consumer: case row first
                repo.get_case(uow.session, case_id, lock="update")
                revoked += handlers.revoke_uncovered(uow, case_id, RevokeReason.CONSENT_EXPIRED)
                uow.commit()
        return revoked

    def run(self) -> None:
        backoff = 1.0
        while not self.stopping.is_set():
            try:
                counts = self.tick()
                if any(counts.values()):
                    log.info("referral clock tick", extra={"count": sum(counts.values())})
                backoff = 1.0
                self.stopping.wait(self.interval)
            except Exception as exc:  # noqa: BLE001 - database away: keep the worker alive, try again later
                log.warning("referral clock failed; will retry", extra={"error_type": type(exc).__name__})
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 30)

    def stop(self) -> None:
        self.stopping.set()
