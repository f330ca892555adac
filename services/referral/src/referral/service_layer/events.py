"""Domain events to CloudEvents. Every referral event carries the routing fields notify needs
(referring office and caseworker, receiving organisation, priority, status, service type) and
nothing a person wrote."""
from __future__ import annotations

from datetime import datetime

from careroute_platform.cloudevents import Event, event_type

from ..domain.referral import DomainEvent, Referral

SOURCE = "/careroute/referral"


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def referral_event(referral: Referral, event: DomainEvent, at: datetime, *, status: str | None = None) -> Event:
    data = {
        "referral_id": referral.id,
        "case_id": referral.case_id,
        "referring_office": referral.referring_office,
        "referring_caseworker": referral.referring_caseworker,
        "receiving_organisation": referral.receiving_organisation,
        "service_type": referral.service_type.value,
        "priority": referral.priority.value,
        "status": status or referral.status.value,
        "occurred_at": at.isoformat(),
    }
    for key, value in event.data.items():
        if value is None and key in ("override_legal_basis", "acted_by_client"):
            continue  # optional fields are left out rather than null
        data[key] = _plain(value)
    return Event(type=event_type(event.name), source=SOURCE, data=data, key=referral.case_id,
                 subject=referral.id)


def directory_event(name: str, data: dict, key: str) -> Event:
    return Event(type=event_type(name), source=SOURCE, data=_plain(data), key=key)
