"""Retry schedules: exponential backoff with full jitter, capped, within a horizon.

Attempt n (1-based) that failed waits a random time in [base * 2^(n-1) / 2, base * 2^(n-1)], capped at
`maximum`: half the pause is guaranteed (receivers get room to recover), half is jitter (deliveries
to one recovering endpoint do not all come back at once)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta


def delay(attempt: int, *, base: float, maximum: float, rng: random.Random | None = None) -> float:
    ceiling = min(maximum, base * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def next_attempt(now: datetime, attempt: int, *, base: float, maximum: float, horizon_start: datetime,
                 horizon: float | None, rng: random.Random | None = None) -> datetime | None:
    """When to try again after the `attempt`-th failure, or None when the horizon is passed (give up)."""
    when = now + timedelta(seconds=delay(attempt, base=base, maximum=maximum, rng=rng))
    if horizon is not None and when > horizon_start + timedelta(seconds=horizon):
        return None
    return when
