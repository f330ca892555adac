"""The delivery side: e-mail fan-out, e-mail sends and webhook sends, all from the delivery tables and
never inside the consumer's transaction.

A due delivery is *leased* (lease token + expiry, claimed with SKIP LOCKED so replicas share the work),
sent outside any transaction, and its outcome written back only if the lease is still ours. A worker
that dies mid-send leaves the lease to expire and the delivery is tried again: sending is at least once,
which is why every webhook carries a stable `webhook-id` for receivers to de-duplicate.

- E-mail: a relay that is down or answering 4xx delays (backoff, the delivery stays pending, forever);
  only a 5xx refusal or a recipient without an address fails a delivery.
- Webhooks: exponential backoff with jitter up to the retry horizon, then `dead` (visible, replayable);
  an endpoint failing N times in a row over at least a period is disabled, its organisation told (inbox
  + e-mail) and `webhook.endpoint_disabled` published.

The worker's own bookkeeping (leases, fan-out, outcomes) commits with `synchronous_commit = off`: losing
the last few hundred milliseconds of it in a database crash only means a delivery is leased or sent again
(at least once, as above), while not waiting for a WAL flush on every lease and outcome keeps the
workers from queueing behind the disk. The inbox entries and deliveries themselves are written by the
consumer with full durability before its offset is committed.
"""
from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from careroute_platform.cloudevents import Event, event_type

from ..adapters.directory import Directory, DirectoryUnavailable, Person
from ..adapters.mailer import Mail, PermanentMailError, TemporaryMailError
from ..adapters.orm import delivery_attempts, deliveries, notifications, preferences, webhook_endpoints
from ..adapters.secretbox import SecretBox
from ..adapters.templates import NoticeView, Renderer, TemplateMissing
from ..adapters.webhook_client import AttemptResult, WebhookClient
from ..domain import backoff, routing, signing
from ..domain.kinds import Channel
from ..metrics import (EMAIL_FAILURES, EMAILS_SENT, NOTIFICATIONS_CREATED, QUEUE_AGE, QUEUE_DEPTH,
                       WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS_DISABLED, WEBHOOK_GIVEN_UP, WEBHOOK_LATENCY)
from ..settings import NotifySettings
from .notices import record_notices

log = logging.getLogger(__name__)
SOURCE = "/careroute/notify"


class Mailer(Protocol):
    def send_all(self, mails: list[Mail]) -> list[Exception | None]: ...


def relaxed(session) -> None:
    """Bookkeeping that may be lost in a crash without losing a notice (see the module docstring)."""
    session.execute(text("SET LOCAL synchronous_commit TO OFF"))


@dataclass
class DeliveryService:
    settings: NotifySettings
    session_factory: Callable
    uow_factory: Callable
    directory: Directory
    renderer: Renderer
    mailer: Mailer
    webhook_client: WebhookClient
    secretbox: SecretBox
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    rng: random.Random | None = None

    # ==============================================================================================
    # e-mail fan-out: an inbox notice becomes one e-mail delivery per person who wants it
    # ==============================================================================================
    def fan_out(self) -> int:
        s = self.settings
        n = notifications.c
        now = self.clock()
        written = 0
        with self.session_factory() as session, session.begin():
            relaxed(session)
            rows = session.execute(
                select(n.id, n.event_id, n.event_type, n.kind, n.subject, n.organisation, n.audience_roles,
                       n.mandatory, n.case_id, n.email_attempts)
                .where(n.email_status == "pending", n.email_next_attempt_at <= now)
                .order_by(n.email_next_attempt_at).limit(s.delivery_batch_size).with_for_update(skip_locked=True)
            ).all()
            unavailable = False
            for row in rows:
                people: list[Person] | None = None
                if not unavailable:
                    try:
                        people = self._audience(row)
                    except DirectoryUnavailable as exc:
                        unavailable = True
                        log.warning("directory unavailable; e-mail fan-out postponed",
                                    extra={"error_type": str(exc)[:60], "notification_id": row.id})
                if people is None:   # try again later; the notice stays in the inbox meanwhile
                    pause = backoff.delay(row.email_attempts + 1, base=s.directory_retry_base_seconds,
                                          maximum=s.directory_retry_max_seconds, rng=self.rng)
                    session.execute(update(notifications).where(n.id == row.id).values(
                        email_attempts=n.email_attempts + 1, email_next_attempt_at=now + timedelta(seconds=pause)))
                    continue
                muted = set() if row.mandatory else self._email_muted(session, [p.subject for p in people], row.kind)
                for person in people:
                    if person.subject in muted or not person.mailable:
                        continue
                    created = session.execute(insert(deliveries).values(
                        id=str(uuid.uuid4()), event_id=row.event_id, event_type=row.event_type,
                        channel=Channel.EMAIL.value, recipient=f"user:{person.subject}", subject=person.subject,
                        notification_id=row.id, organisation=row.organisation, case_id=row.case_id, kind=row.kind,
                        status="pending", next_attempt_at=now, horizon_start=now, created_at=now, updated_at=now,
                    ).on_conflict_do_nothing(constraint="uq_deliveries_event_recipient_channel")
                        .returning(deliveries.c.id)).first()
                    if created is not None:
                        written += 1
                        NOTIFICATIONS_CREATED.labels(row.kind, Channel.EMAIL).inc()
                session.execute(update(notifications).where(n.id == row.id).values(email_status="done"))
        return written

    def _audience(self, row) -> list[Person]:
        if row.subject is not None:
            person = self.directory.person(row.subject)
            if person is None:
                return []
            if row.organisation is not None:
                # someone who has since left the office is no longer told about its referrals
                groups = self.directory.groups_of(row.subject) or []
                if row.organisation not in groups:
                    return []
            return [person]
        return self.directory.members(row.organisation, row.audience_roles or [])

    @staticmethod
    def _email_muted(session, subjects: list[str], kind: str) -> set[str]:
        if not subjects:
            return set()
        p = preferences.c
        return set(session.execute(select(p.subject).where(p.subject.in_(subjects), p.kind == kind,
                                                           p.email.is_(False))).scalars())

    # ==============================================================================================
    # leasing
    # ==============================================================================================
    def _claim(self, channel: Channel, now: datetime) -> tuple[str, list]:
        d = deliveries.c
        token = str(uuid.uuid4())
        due = (select(d.id).where(d.channel == channel.value, d.status == "pending", d.next_attempt_at <= now,
                                  or_(d.lease_expires_at.is_(None), d.lease_expires_at < now)))
        if channel is Channel.WEBHOOK:
            due = due.where(d.endpoint_id.in_(select(webhook_endpoints.c.id)
                                              .where(webhook_endpoints.c.status == "active")))
        due = due.order_by(d.next_attempt_at).limit(self.settings.delivery_batch_size).with_for_update(skip_locked=True)
        with self.session_factory() as session, session.begin():
            relaxed(session)
            ids = session.execute(
                update(deliveries).where(d.id.in_(due.scalar_subquery()))
                .values(lease_token=token,
                        lease_expires_at=now + timedelta(seconds=self.settings.delivery_lease_seconds))
                .returning(d.id)).scalars().all()
        return token, list(ids)

    def _attempt_row(self, session, delivery_id: str, attempt: int, started: datetime, result: AttemptResult) -> None:
        session.execute(insert(delivery_attempts).values(
            delivery_id=delivery_id, attempt=attempt, started_at=started, duration_ms=result.duration_ms,
            outcome=result.outcome, status_code=result.status_code, error_class=result.error_class))

    # ==============================================================================================
    # e-mail
    # ==============================================================================================
    def send_emails(self) -> int:
        now = self.clock()
        token, ids = self._claim(Channel.EMAIL, now)
        if not ids:
            return 0
        d, n = deliveries.c, notifications.c
        with self.session_factory() as session:
            rows = session.execute(
                select(d.id, d.subject, d.attempts, d.retry_count, n.kind, n.reference, n.link_path, n.priority,
                       n.mandatory, n.deadline, n.params)
                .join(notifications, notifications.c.id == d.notification_id)
                .where(d.id.in_(ids), d.lease_token == token)).all()
        outcomes: dict[str, Exception | None] = {}
        mails: list[Mail] = []
        for row in rows:
            try:
                person = self.directory.person(row.subject)
            except DirectoryUnavailable:
                outcomes[row.id] = TemporaryMailError("directory-unavailable")
                continue
            if person is None or not person.mailable:
                outcomes[row.id] = PermanentMailError("no-address")
                continue
            view = NoticeView(kind=row.kind, reference=row.reference, link=self.link(row.link_path),
                              priority=row.priority, mandatory=row.mandatory, deadline=row.deadline,
                              params=row.params)
            try:
                rendered = self.renderer.render(view, person.locale)
            except TemplateMissing:
                outcomes[row.id] = PermanentMailError("template-missing")
                continue
            mails.append(Mail(to=person.email or "", subject=rendered.subject, text=rendered.text,
                              html=rendered.html, locale=rendered.locale, delivery_id=row.id))
        started = time.perf_counter()
        results = self.mailer.send_all(mails)
        per_mail_ms = int((time.perf_counter() - started) * 1000 / max(1, len(mails)))
        for mail, result in zip(mails, results):
            outcomes[mail.delivery_id] = result
        by_id = {row.id: row for row in rows}
        with self.session_factory() as session, session.begin():
            relaxed(session)
            for delivery_id, error in outcomes.items():
                self._record_email(session, by_id[delivery_id], token, error, now, per_mail_ms)
        return len(outcomes)

    def _record_email(self, session, row, token: str, error: Exception | None, now: datetime, ms: int) -> None:
        d = deliveries.c
        s = self.settings
        attempt = row.attempts + 1
        values: dict = dict(attempts=attempt, lease_token=None, lease_expires_at=None, updated_at=now)
        if error is None:
            values.update(status="delivered", delivered_at=now, last_error=None)
            EMAILS_SENT.inc()
            result = AttemptResult("success", ms)
        elif isinstance(error, PermanentMailError):
            values.update(status="failed", last_error=error.reason)
            EMAIL_FAILURES.labels(error.reason).inc()
            result = AttemptResult("permanent_failure", ms, error_class=error.reason)
            log.warning("e-mail refused permanently", extra={"delivery_id": row.id, "reason": error.reason})
        else:
            reason = getattr(error, "reason", type(error).__name__)
            pause = backoff.delay(row.retry_count + 1, base=s.email_retry_base_seconds,
                                  maximum=s.email_retry_max_seconds, rng=self.rng)
            values.update(retry_count=row.retry_count + 1, last_error=reason,
                          next_attempt_at=now + timedelta(seconds=pause))
            EMAIL_FAILURES.labels(reason).inc()
            result = AttemptResult("temporary_failure", ms, error_class=reason)
            log.warning("e-mail not sent; will retry", extra={"delivery_id": row.id, "reason": reason,
                                                              "attempt": attempt})
        done = session.execute(update(deliveries).where(d.id == row.id, d.lease_token == token).values(**values)
                               .returning(d.id)).first()
        if done is not None:
            self._attempt_row(session, row.id, attempt, now, result)

    def link(self, path: str) -> str:
        return self.settings.public_base_url.rstrip("/") + path

    # ==============================================================================================
    # webhooks
    # ==============================================================================================
    def send_webhooks(self) -> int:
        now = self.clock()
        token, ids = self._claim(Channel.WEBHOOK, now)
        if not ids:
            return 0
        d, e = deliveries.c, webhook_endpoints.c
        with self.session_factory() as session:
            rows = session.execute(
                select(d.id, d.event_id, d.payload, d.attempts, d.retry_count, d.horizon_start, d.endpoint_id,
                       d.organisation, d.event_type, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at)
                .join(webhook_endpoints, e.id == d.endpoint_id)
                .where(d.id.in_(ids), d.lease_token == token)).all()
        workers = max(1, min(self.settings.webhook_concurrency, len(rows)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook-send") as pool:
            list(pool.map(lambda row: self._send_webhook(row, token), rows))
        return len(rows)

    def endpoint_secrets(self, row, now: datetime) -> list[str]:
        secrets = [self.secretbox.open(row.secret, row.endpoint_id)]
        if row.previous_secret is not None and row.previous_secret_expires_at and row.previous_secret_expires_at > now:
            secrets.append(self.secretbox.open(row.previous_secret, row.endpoint_id))
        return secrets

    def _send_webhook(self, row, token: str) -> None:
        try:
            started = self.clock()
            body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()
            headers = signing.headers(self.endpoint_secrets(row, started), row.event_id,
                                      int(started.timestamp()), body)
            result = self.webhook_client.send(row.url, body, headers)
            WEBHOOK_DELIVERIES.labels(result.outcome).inc()
            WEBHOOK_LATENCY.labels(result.outcome).observe(result.duration_ms / 1000)
            self._record_webhook(row, token, result, started)
        except Exception as exc:  # one bad delivery must not stop the batch; the lease will expire
            log.error("webhook delivery could not be recorded",
                      extra={"delivery_id": row.id, "error_type": type(exc).__name__})

    def _record_webhook(self, row, token: str, result: AttemptResult, started: datetime) -> None:
        s = self.settings
        d, e = deliveries.c, webhook_endpoints.c
        now = self.clock()
        attempt = row.attempts + 1
        with self.uow_factory() as uow:
            session = uow.session
            relaxed(session)
            values: dict = dict(attempts=attempt, lease_token=None, lease_expires_at=None, updated_at=now,
                                last_status_code=result.status_code)
            if result.ok:
                values.update(status="delivered", delivered_at=now, last_error=None)
            else:
                values.update(retry_count=row.retry_count + 1, last_error=result.error_class or result.outcome)
                when = backoff.next_attempt(now, row.retry_count + 1, base=s.webhook_retry_base_seconds,
                                            maximum=s.webhook_retry_max_seconds, horizon_start=row.horizon_start,
                                            horizon=s.webhook_retry_horizon_seconds, rng=self.rng)
                if when is None:
                    values.update(status="dead")
                else:
                    values.update(next_attempt_at=when)
            done = session.execute(update(deliveries).where(d.id == row.id, d.lease_token == token)
                                   .values(**values).returning(d.id)).first()
            if done is None:     # the lease was lost (or the case erased meanwhile): someone else decides
                return
            self._attempt_row(session, row.id, attempt, started, result)
            if result.ok:
                session.execute(update(webhook_endpoints).where(e.id == row.endpoint_id)
                                .values(consecutive_failures=0, failing_since=None))
            else:
                if values.get("status") == "dead":
                    WEBHOOK_GIVEN_UP.inc()
                    uow.publish(Event(type=event_type("webhook.delivery_dead"), source=SOURCE,
                                      key=row.organisation, data={
                                          "delivery_id": row.id, "endpoint_id": row.endpoint_id,
                                          "organisation": row.organisation, "event_type": row.event_type,
                                          "attempts": attempt}))
                    log.warning("webhook delivery given up", extra={"delivery_id": row.id,
                                                                    "endpoint_id": row.endpoint_id})
                self._count_failure(uow, row.endpoint_id, now)
            uow.commit()

    def _count_failure(self, uow, endpoint_id: str, now: datetime) -> None:
        s = self.settings
        e = webhook_endpoints.c
        session = uow.session
        state = session.execute(
            update(webhook_endpoints).where(e.id == endpoint_id)
            .values(consecutive_failures=e.consecutive_failures + 1,
                    failing_since=func.coalesce(e.failing_since, now))
            .returning(e.consecutive_failures, e.failing_since, e.status, e.organisation)).first()
        if state is None or state.status != "active":
            return
        long_enough = (now - state.failing_since).total_seconds() >= s.webhook_disable_after_seconds
        if state.consecutive_failures < s.webhook_disable_after_failures or not long_enough:
            return
        disabled = session.execute(
            update(webhook_endpoints).where(e.id == endpoint_id, e.status == "active")
            .values(status="disabled", disabled_reason="consecutive-failures", disabled_at=now, updated_at=now,
                    version=e.version + 1)
            .returning(e.id)).first()
        if disabled is None:
            return
        disable_endpoint_effects(uow, settings=s, endpoint_id=endpoint_id, organisation=state.organisation,
                                 failures=state.consecutive_failures, now=now)

    # ==============================================================================================
    # observability
    # ==============================================================================================
    def measure_queues(self) -> dict[str, tuple[int, float]]:
        d, e = deliveries.c, webhook_endpoints.c
        now = self.clock()
        out = {}
        with self.session_factory() as session:
            for channel in (Channel.EMAIL, Channel.WEBHOOK):
                q = select(func.count(), func.min(d.created_at)).where(d.channel == channel.value,
                                                                       d.status == "pending")
                if channel is Channel.WEBHOOK:
                    q = q.where(d.endpoint_id.in_(select(e.id).where(e.status == "active")))
                count, oldest = session.execute(q).one()
                age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
                QUEUE_DEPTH.labels(channel.value).set(count)
                QUEUE_AGE.labels(channel.value).set(age)
                out[channel.value] = (count, age)
        return out


def disable_endpoint_effects(uow, *, settings: NotifySettings, endpoint_id: str, organisation: str, failures: int,
                             now: datetime) -> None:
    """The notice (inbox + e-mail to the organisation's webhook administrators) and the event."""
    WEBHOOK_ENDPOINTS_DISABLED.inc()
    event = Event(type=event_type("webhook.endpoint_disabled"), source=SOURCE, key=organisation,
                  data={"endpoint_id": endpoint_id, "organisation": organisation, "failures": failures})
    uow.publish(event)
    record_notices(uow.session, event_id=event.id, event_type=event.type, now=now,
                   email_enabled=settings.email_enabled,
                   notices=[routing.endpoint_disabled_notice(endpoint_id=endpoint_id, organisation=organisation,
                                                             failures=failures,
                                                             admin_roles=tuple(settings.webhook_admin_roles))])
    log.warning("webhook endpoint disabled after consecutive failures",
                extra={"endpoint_id": endpoint_id, "count": failures})
