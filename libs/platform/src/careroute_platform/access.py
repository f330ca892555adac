"""Access events: every policy decision, allowed or denied, becomes an `access.recorded` event
for the audit log. Allowed reads and writes are recorded in the same transaction as the work;
denials in a transaction of their own, since the request's transaction is rolled back."""
from __future__ import annotations

from dataclasses import dataclass

from .auth import Principal
from .cloudevents import Event, event_type
from .logging import trace_id_var
from .metrics import ACCESS_DECISIONS

ACCESS_RECORDED = event_type("access.recorded")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # a code such as "own-office", "not-referred", "role-missing" — never content

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True, "allowed")


def access_event(*, service: str, principal: Principal | None, action: str, resource_type: str,
                 resource_id: str | None, decision: Decision, purpose: str | None = None,
                 key: str | None = None, traceparent: str | None = None) -> Event:
    ACCESS_DECISIONS.labels(action, "allowed" if decision.allowed else "denied").inc()
    actor = principal.as_actor() if principal else {"subject": None, "organisation": None, "roles": [], "client": None}
    data = {
        "actor": actor, "action": action,
        "resource": {"type": resource_type, "id": resource_id},
        "outcome": "allowed" if decision.allowed else "denied", "reason": decision.reason,
        "service": service, "trace_id": trace_id_var.get(),
    }
    if purpose:
        data["purpose"] = "".join(c for c in purpose[:500] if c.isprintable())  # no NUL: JSONB refuses it
    return Event(type=ACCESS_RECORDED, source=f"/careroute/{service}", data=data,
                 key=key or resource_id or "anonymous", traceparent=traceparent)
