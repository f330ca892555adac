"""Rate limits for sensitive endpoints (identity reads, exports, erasure): a token bucket per caller
and endpoint, in process memory. Each API replica limits on its own, so the effective limit grows
with replicas; that is acceptable for a guard against a compromised account scraping records,
whose every access is audited anyway."""
from __future__ import annotations

import threading
import time
from fastapi import Depends, Request

from .auth import Principal
from .problems import Problem


class TokenBucket:
    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst or per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Takes one token; returns 0 if allowed, else the seconds until one is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def rate_limited(principal_dependency, name: str, per_minute: int, burst: int | None = None):
    """A FastAPI dependency: `Depends(rate_limited(runtime.require_roles(...), "identity", 30))`."""
    bucket = TokenBucket(per_minute, burst)

    def dependency(request: Request, principal: Principal = Depends(principal_dependency)) -> Principal:
        wait = bucket.take(f"{principal.subject}:{name}")
        if wait:
            raise Problem(429, detail={"es": "Demasiadas solicitudes; espere un momento.",
                                       "en": "Too many requests; wait a moment."},
                          headers={"retry-after": str(int(wait) + 1)})
        return principal
    return dependency
