"""What every use case needs besides its arguments: the runtime (database, outbox, access
recorder), the settings, the clock and the clock rules."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from careroute_platform.runtime import ServiceRuntime

from ..domain.clock import Clock, SystemClock
from ..domain.deadlines import ClockPolicy
from ..domain.vocabulary import Priority
from ..settings import ReferralSettings


def clock_policy_from(settings: ReferralSettings) -> ClockPolicy:
    grace = {p: timedelta(hours=float(settings.expiry_grace_hours.get(p.value, default)))
             for p, default in ((Priority.EMERGENCY, 12), (Priority.URGENT, 24), (Priority.NORMAL, 72))}
    return ClockPolicy(approaching_fraction=settings.deadline_approaching_fraction, grace=grace)


@dataclass
class Context:
    runtime: ServiceRuntime
    clock: Clock = field(default_factory=SystemClock)
    clock_policy: ClockPolicy | None = None

    def __post_init__(self) -> None:
        if self.clock_policy is None:
            self.clock_policy = clock_policy_from(self.settings)

    @property
    def settings(self) -> ReferralSettings:
        return self.runtime.settings  # type: ignore[return-value]
