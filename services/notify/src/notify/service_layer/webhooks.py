"""Webhook endpoints of an organisation: registration (with the SSRF guard), changes, secret rotation,
the delivery log and replays. Authorisation is decided by the policy module in the entrypoint; these
functions take the organisation they act for."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from careroute_platform.cloudevents import Event, event_type
from careroute_platform.problems import Problem

from ..adapters.orm import delivery_attempts, deliveries, webhook_endpoints
from ..adapters.secretbox import SecretBox
from ..domain import signing, targets
from ..domain.kinds import WEBHOOK_EVENT_TYPES
from ..domain.targets import RefusedTarget, TargetPolicy
from ..settings import NotifySettings

e = webhook_endpoints.c
d = deliveries.c
SOURCE = "/careroute/notify"


def refuse(reason: str) -> Problem:
    return Problem(422, "webhook-target-refused", reason=reason, detail={
        "es": "La URL del webhook no está permitida (debe ser https y pública).",
        "en": "The webhook URL is not allowed (it must be https and public)."})


def vet_url(url: str, policy: TargetPolicy, resolver: targets.Resolver = targets.system_resolver) -> str:
    try:
        targets.check(url, policy, resolver)
    except RefusedTarget as exc:
        raise refuse(exc.reason) from None
    return url


def vet_event_types(event_types: list[str]) -> list[str]:
    unknown = [t for t in event_types if t not in WEBHOOK_EVENT_TYPES]
    if unknown or not event_types:
        raise Problem(422, "validation", detail={
            "es": "Tipos de evento no válidos.", "en": "Invalid event types."},
            allowed_event_types=list(WEBHOOK_EVENT_TYPES))
    return sorted(set(event_types))


def create_endpoint(session, *, organisation: str, created_by: str, url: str, event_types: list[str],
                    settings: NotifySettings, box: SecretBox, policy: TargetPolicy, now: datetime,
                    resolver: targets.Resolver = targets.system_resolver) -> tuple[Any, str]:
    count = session.execute(select(func.count()).where(e.organisation == organisation)).scalar_one()
    if count >= settings.webhook_max_endpoints_per_organisation:
        raise Problem(409, detail={"es": "La organización alcanzó el número máximo de webhooks.",
                                   "en": "The organisation has reached the maximum number of webhook endpoints."})
    vet_url(url, policy, resolver)
    endpoint_id = str(uuid.uuid4())
    secret = signing.generate_secret()
    session.execute(webhook_endpoints.insert().values(
        id=endpoint_id, organisation=organisation, url=url, event_types=vet_event_types(event_types),
        secret=box.seal(secret, endpoint_id), status="active", created_by=created_by, created_at=now,
        updated_at=now, version=1))
    return load_endpoint(session, endpoint_id), secret


def load_endpoint(session, endpoint_id: str):
    try:
        uuid.UUID(endpoint_id)
    except ValueError:
        return None
    return session.execute(select(webhook_endpoints).where(e.id == endpoint_id)).first()


def list_endpoints(session, organisation: str, *, limit: int, offset: int) -> tuple[list, int]:
    total = session.execute(select(func.count()).where(e.organisation == organisation)).scalar_one()
    rows = session.execute(select(webhook_endpoints).where(e.organisation == organisation)
                           .order_by(e.created_at, e.id).limit(limit).offset(offset)).all()
    return rows, total


def update_endpoint(uow, endpoint, *, url: str | None, event_types: list[str] | None, status: str | None,
                    policy: TargetPolicy, now: datetime, resolver: targets.Resolver = targets.system_resolver):
    values: dict = {"updated_at": now, "version": endpoint.version + 1}
    if url is not None:
        values["url"] = vet_url(url, policy, resolver)
    if event_types is not None:
        values["event_types"] = vet_event_types(event_types)
    if status is not None and status != endpoint.status:
        values["status"] = status
        if status == "active":  # re-enabled: a fresh start; held deliveries go out again
            values.update(disabled_reason=None, disabled_at=None, consecutive_failures=0, failing_since=None)
            uow.publish(Event(type=event_type("webhook.endpoint_enabled"), source=SOURCE, key=endpoint.organisation,
                              data={"endpoint_id": endpoint.id, "organisation": endpoint.organisation}))
        else:
            values.update(disabled_reason="by-organisation", disabled_at=now)
    uow.session.execute(update(webhook_endpoints).where(e.id == endpoint.id).values(**values))
    return load_endpoint(uow.session, endpoint.id)


def delete_endpoint(session, endpoint) -> None:
    session.execute(delete(webhook_endpoints).where(e.id == endpoint.id))


def rotate_secret(session, endpoint, *, box: SecretBox, settings: NotifySettings, now: datetime) -> tuple[Any, str]:
    """A new secret signs from now on; the old one keeps signing too until the grace period ends."""
    secret = signing.generate_secret()
    session.execute(update(webhook_endpoints).where(e.id == endpoint.id).values(
        secret=box.seal(secret, endpoint.id), previous_secret=endpoint.secret,
        previous_secret_expires_at=now + timedelta(seconds=settings.webhook_secret_rotation_grace_seconds),
        updated_at=now, version=endpoint.version + 1))
    return load_endpoint(session, endpoint.id), secret


# -- delivery log ---------------------------------------------------------------------------------------
def list_deliveries(session, endpoint_id: str, *, status: str | None, limit: int, offset: int) -> tuple[list, int]:
    condition = d.endpoint_id == endpoint_id
    if status:
        condition = condition & (d.status == status)
    total = session.execute(select(func.count()).where(condition)).scalar_one()
    rows = session.execute(select(deliveries).where(condition).order_by(d.created_at.desc(), d.id)
                           .limit(limit).offset(offset)).all()
    return rows, total


def load_delivery(session, delivery_id: str):
    try:
        uuid.UUID(delivery_id)
    except ValueError:
        return None
    return session.execute(select(deliveries).where(d.id == delivery_id, d.channel == "webhook")).first()


def attempts_of(session, delivery_id: str) -> list:
    a = delivery_attempts.c
    return session.execute(select(delivery_attempts).where(a.delivery_id == delivery_id).order_by(a.attempt)).all()


def replay(session, delivery, *, now: datetime) -> None:
    """Send again (same webhook-id, so a receiver that already has it can tell), with a fresh horizon."""
    if delivery.status == "pending" and delivery.lease_token is not None and delivery.lease_expires_at \
            and delivery.lease_expires_at > now:
        raise Problem(409, detail={"es": "La entrega se está enviando ahora.", "en": "The delivery is being sent now."})
    session.execute(update(deliveries).where(d.id == delivery.id).values(
        status="pending", next_attempt_at=now, horizon_start=now, retry_count=0, lease_token=None,
        lease_expires_at=None, updated_at=now))
