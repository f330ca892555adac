"""What the use cases need besides a unit of work: settings, the vault's key ring, the duplicate
secret, the clock, and the access recorder of the shared runtime."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from careroute_platform.access import Decision
from careroute_platform.auth import Principal

from ..vault.crypto import KeyRing
from ..vault.keyring import load_duplicate_key, load_keyring


def utcnow() -> datetime:
    return datetime.now(UTC)


class AccessDenied(Exception):
    """A policy refusal. The API records it in its own transaction (the request's work rolls back)
    and answers 404 for records outside the caller's scope, so their existence does not leak."""

    def __init__(self, action: str, resource_type: str, resource_id: str | None, reason: str, status: int = 404,
                 code: str | None = None) -> None:
        super().__init__(reason)
        self.action, self.resource_type, self.resource_id = action, resource_type, resource_id
        self.reason, self.status, self.code = reason, status, code


@dataclass
class Intake:
    runtime: object                      # careroute_platform.runtime.ServiceRuntime
    settings: object                     # IntakeSettings
    keyring: KeyRing
    duplicate_key: bytes
    clock: Callable[[], datetime] = field(default=utcnow)

    def allow(self, uow, principal: Principal, action: str, resource_type: str, resource_id: str | None,
              decision: Decision, *, purpose: str | None = None, key: str | None = None) -> None:
        """Record an allowed access in the same transaction as the work."""
        uow.publish(self.runtime.access(principal, action, resource_type, resource_id, decision,
                                        purpose=purpose, key=key or resource_id))


def intake_context(runtime) -> Intake:
    """One per runtime (process). Loading the keys here makes a missing KEK a startup error."""
    ctx = getattr(runtime, "_intake_context", None)
    if ctx is None:
        ctx = Intake(runtime=runtime, settings=runtime.settings, keyring=load_keyring(runtime.settings),
                     duplicate_key=load_duplicate_key(runtime.settings))
        runtime._intake_context = ctx
    return ctx
