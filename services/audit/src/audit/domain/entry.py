"""What one audit-log entry says, built from an event by ALLOW-LIST.

An entry answers "who did what to which record, when, from which organisation, with what outcome
and why" and nothing else. It is assembled field by field from the CloudEvent's attributes and a
fixed set of data fields, each checked against a narrow pattern; the event's data is never copied
wholesale, so a field a producer adds later (or plants) cannot reach the log, and neither can case
content. The entry's bytes are its RFC 8785 canonical JSON; its Merkle leaf is SHA-256(0x00||bytes).

Entry (version 1), every key always present:

    {"v": 1, "event_id", "event_type", "time", "actor": {"subject", "organisation", "roles", "client"},
     "action", "resource": {"type", "id"}, "case_id", "outcome", "reason", "purpose", "service",
     "trace_id"}

`outcome` is `allowed` / `denied` for access decisions and `recorded` for domain events (a fact the
producing service committed). For domain events the actor is taken from the fields that name one
(`actor`, `actor_subject`, `caseworker`, ...) and otherwise is the producing service itself
(`client = careroute-<service>`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import rfc8785

from .merkle import leaf_hash

ENTRY_VERSION = 1
TYPE_PREFIX = "org.iom.careroute."
ACCESS_RECORDED = TYPE_PREFIX + "access.recorded.v1"

# Narrow patterns: ids, codes and role names only. A value that does not match is dropped (null),
# so free text cannot ride in on an id field.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+{}-]{0,199}")
_SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}")
_CLIENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_ORGANISATION = re.compile(r"/(iom|government|civil-society)(/[a-z0-9-]+)*")
_ROLE = re.compile(r"[a-z][a-z-]{0,39}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,79}")
_ACTION = re.compile(r"[A-Za-z0-9][\x20-\x7e]{0,119}")
_RESOURCE_TYPE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_SERVICE = re.compile(r"[a-z][a-z0-9-]{0,31}")
_EVENT_ID = re.compile(r"[\x21-\x7e]{1,128}")
_EVENT_TYPE = re.compile(r"org\.iom\.careroute\.[a-z0-9_]+(\.[a-z0-9_]+)*\.v[0-9]{1,3}")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ROLES = 16
MAX_PURPOSE = 500

OUTCOMES = ("allowed", "denied", "recorded")

# Domain events: which record the event is about (resource type, data fields holding its id).
RESOURCE_OF: dict[str, tuple[str, tuple[str, ...]]] = {
    "case": ("case", ("case_id",)),
    "incident": ("incident", ("incident_id",)),
    "transfer": ("transfer", ("transfer_id",)),
    "consent": ("consent", ("consent_id",)),
    "referral": ("referral", ("referral_id",)),
    "directory.organisation_changed": ("organisation", ("organisation_id", "organisation")),
    "directory.service_changed": ("service", ("service_id",)),
    "webhook": ("webhook_endpoint", ("endpoint_id",)),
    "notification": ("notification", ("notification_id",)),
    "anomaly": ("staff_member", ("subject",)),
}
# Domain events: data fields naming the staff member who acted, most specific first, with the
# organisation field that goes with each (None: the event does not say which organisation acted).
ACTOR_FIELDS: tuple[tuple[str, str | None], ...] = (
    ("actor_subject", "actor_organisation"),
    ("acted_by", None),
    ("performed_by", "actor_organisation"),
    ("changed_by", "actor_organisation"),
    ("decided_by", "actor_organisation"),
    ("caseworker", "office"),
)
# Where the event itself says who acted from which side: a referral is created by the referring
# caseworker, answered by the receiving organisation, revoked by the referring office. Later
# referral events do not inherit the referring caseworker as their actor.
ACTOR_FIELDS_BY_EVENT: dict[str, tuple[tuple[str, str | None], ...]] = {
    "referral.created": (("created_by", "referring_office"), ("referring_caseworker", "referring_office")),
    "referral.accepted": (("acted_by", "receiving_organisation"),),
    "referral.declined": (("acted_by", "receiving_organisation"),),
    "referral.completed": (("acted_by", "receiving_organisation"),),
    "referral.revoked": (("acted_by", "referring_office"),),
}
CLIENT_FIELDS = ("acted_by_client", "actor_client")
REASON_FIELDS = ("reason_code", "closure_reason", "reason")


class EntryRejected(ValueError):
    """The event cannot be recorded faithfully (it goes to the dead-letter topic). Safe to log."""


def _match(pattern: re.Pattern[str], value: Any) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def _purpose(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = _CONTROL.sub(" ", value).strip()[:MAX_PURPOSE]
    return text or None


def _actor(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EntryRejected("access event without an actor object")
    roles = value.get("roles")
    roles = sorted({r for r in roles if _match(_ROLE, r)})[:MAX_ROLES] if isinstance(roles, list) else []
    return {"subject": _match(_SUBJECT, value.get("subject")),
            "organisation": _match(_ORGANISATION, value.get("organisation")),
            "roles": roles, "client": _match(_CLIENT, value.get("client"))}


def parse_time(value: str | None) -> datetime | None:
    if not value or not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def trace_id_of(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and _TRACE_ID.fullmatch(parts[1]) and set(parts[1]) != {"0"} else None


def service_of(source: str | None) -> str | None:
    """`/careroute/referral` -> `referral`."""
    if isinstance(source, str) and source.startswith("/careroute/"):
        return _match(_SERVICE, source.removeprefix("/careroute/"))
    return None


@dataclass(frozen=True)
class LogEntry:
    """One entry: the JSON object that is hashed, and the searchable facts taken from it."""

    body: dict[str, Any]
    occurred_at: datetime  # event time, or the time the log received it when the event has none

    @cached_property
    def canonical(self) -> bytes:
        return rfc8785.dumps(self.body)

    @cached_property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.canonical)

    @property
    def event_id(self) -> str:
        return self.body["event_id"]

    @property
    def is_access(self) -> bool:
        return self.body["event_type"] == ACCESS_RECORDED

    def columns(self) -> dict[str, Any]:
        """The search columns stored beside the canonical text (all derived from the entry)."""
        b = self.body
        return {
            "event_id": b["event_id"], "event_type": b["event_type"], "occurred_at": self.occurred_at,
            "actor_subject": b["actor"]["subject"], "actor_organisation": b["actor"]["organisation"],
            "action": b["action"], "resource_type": b["resource"]["type"], "resource_id": b["resource"]["id"],
            "case_id": b["case_id"], "outcome": b["outcome"], "source_service": b["service"],
        }


def build_entry(*, event_id: Any, event_type: Any, source: Any, time: Any, key: Any, traceparent: Any,
                data: Any, received_at: datetime | None = None) -> LogEntry:
    """Build the entry for one CloudEvent (attributes and data as decoded from Kafka)."""
    event_id = _match(_EVENT_ID, event_id)
    if event_id is None:
        raise EntryRejected("event id missing or not printable ASCII up to 128 characters")
    event_type = _match(_EVENT_TYPE, event_type)
    if event_type is None:
        raise EntryRejected("event type is not an org.iom.careroute.<name>.v<n> type")
    if not isinstance(data, dict):
        raise EntryRejected("event data is not a JSON object")
    parsed = parse_time(time)
    occurred_at = parsed or received_at or datetime.now(UTC)
    name = event_type.removeprefix(TYPE_PREFIX).rsplit(".", 1)[0]  # access.recorded
    trace_id = trace_id_of(traceparent if isinstance(traceparent, str) else None)
    key = _match(_ID, key)

    if event_type == ACCESS_RECORDED:
        actor = _actor(data.get("actor"))
        action = _match(_ACTION, data.get("action"))
        if action is None:
            raise EntryRejected("access event without a printable action")
        resource = data.get("resource")
        if not isinstance(resource, dict):
            raise EntryRejected("access event without a resource object")
        resource_type = _match(_RESOURCE_TYPE, resource.get("type"))
        if resource_type is None:
            raise EntryRejected("access event without a valid resource type")
        resource_id = _match(_ID, resource.get("id"))
        outcome = data.get("outcome")
        if outcome not in ("allowed", "denied"):
            raise EntryRejected("access event outcome is neither allowed nor denied")
        # Services key an access event by the case the resource belongs to (topics.yaml), so a key
        # different from the resource id names the survivor's case.
        if resource_type == "case":
            case_id = resource_id
        elif key and key not in (resource_id, "anonymous"):
            case_id = key
        else:
            case_id = None
        reason = _match(_CODE, data.get("reason"))
        purpose = _purpose(data.get("purpose"))
        service = _match(_SERVICE, data.get("service")) or service_of(source)
        trace_id = trace_id or _match(_TRACE_ID, data.get("trace_id"))
    else:
        service = service_of(source)
        actor = _domain_actor(name, data, service)
        action = name
        resource_type, id_fields = RESOURCE_OF.get(name) or RESOURCE_OF.get(name.split(".")[0]) or (
            _match(_RESOURCE_TYPE, name.split(".")[0]) or "event", (f"{name.split('.')[0]}_id",))
        resource_id = next((v for v in (_match(_ID, data.get(f)) for f in id_fields) if v), None)
        case_id = _match(_ID, data.get("case_id"))
        outcome = "recorded"
        reason = next((r for r in (_match(_CODE, data.get(f)) for f in REASON_FIELDS) if r), None)
        purpose = None

    body = {
        "v": ENTRY_VERSION, "event_id": event_id, "event_type": event_type,
        "time": format_time(parsed) if parsed else None,
        "actor": actor, "action": action, "resource": {"type": resource_type, "id": resource_id},
        "case_id": case_id, "outcome": outcome, "reason": reason, "purpose": purpose,
        "service": service, "trace_id": trace_id,
    }
    return LogEntry(body, occurred_at)


def _domain_actor(name: str, data: dict[str, Any], service: str | None) -> dict[str, Any]:
    nested = data.get("actor")
    if isinstance(nested, dict):
        actor = _actor(nested)
        if actor["subject"] or actor["client"]:
            return actor
    client = next((c for c in (_match(_CLIENT, data.get(f)) for f in CLIENT_FIELDS) if c), None)
    for subject_field, organisation_field in (*ACTOR_FIELDS_BY_EVENT.get(name, ()), *ACTOR_FIELDS):
        subject = _match(_SUBJECT, data.get(subject_field))
        if subject:
            organisation = _match(_ORGANISATION, data.get(organisation_field)) if organisation_field else None
            return {"subject": subject, "organisation": organisation, "roles": [], "client": client}
    if client:  # an integration client acting without a user
        return {"subject": None, "organisation": None, "roles": [], "client": client}
    return {"subject": None, "organisation": None, "roles": [],
            "client": f"careroute-{service}" if service else None}
