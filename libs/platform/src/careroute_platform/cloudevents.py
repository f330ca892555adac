"""CloudEvents 1.0 in Kafka binary mode: attributes travel as `ce_*` headers, the data as the
record value (JSON), the partition key is the case id so that per-case order is kept."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

TYPE_PREFIX = "org.iom.careroute."
REQUIRED = ("ce_specversion", "ce_id", "ce_source", "ce_type")


class MalformedEvent(ValueError):
    """A record that is not a CloudEvent we can read: it goes to the dead-letter topic."""


@dataclass(frozen=True)
class Event:
    type: str                       # org.iom.careroute.referral.accepted.v1
    source: str                     # /careroute/referral
    data: dict[str, Any]
    key: str                        # partition key: the case id (or another aggregate id)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    subject: str | None = None
    traceparent: str | None = None

    @property
    def name(self) -> str:
        """`referral.accepted` — the type without prefix and version."""
        return self.type.removeprefix(TYPE_PREFIX).rsplit(".", 1)[0]

    @property
    def aggregate(self) -> str:
        return self.name.split(".", 1)[0]


def event_type(name: str, version: int = 1) -> str:
    return f"{TYPE_PREFIX}{name}.v{version}"


def to_kafka(event: Event) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", event.time.encode()),
        ("content-type", b"application/json"),
    ]
    if event.subject:
        headers.append(("ce_subject", event.subject.encode()))
    if event.traceparent:
        headers.append(("traceparent", event.traceparent.encode()))
    value = json.dumps(event.data, separators=(",", ":"), ensure_ascii=False).encode()
    return event.key.encode(), value, headers


def from_kafka(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]] | None) -> Event:
    try:
        h = {k: v.decode() for k, v in (headers or [])}
    except UnicodeDecodeError as exc:
        raise MalformedEvent("header is not UTF-8") from exc
    missing = [name for name in REQUIRED if name not in h]
    if missing:
        raise MalformedEvent(f"missing CloudEvents headers: {', '.join(missing)}")
    if h["ce_specversion"] != "1.0":
        raise MalformedEvent(f"unsupported specversion {h['ce_specversion']}")
    if not h["ce_type"].startswith(TYPE_PREFIX):
        raise MalformedEvent("event type outside org.iom.careroute")
    try:
        data = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent("data is not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedEvent("data is not a JSON object")
    return Event(
        type=h["ce_type"], source=h["ce_source"], data=data, key=(key or b"").decode(errors="replace"),
        id=h["ce_id"], time=h.get("ce_time", ""), subject=h.get("ce_subject"), traceparent=h.get("traceparent"),
    )
