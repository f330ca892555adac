"""The local projection of referrals: which receiving organisation may read which case, learned from
the referral service's events (which may arrive twice or out of order).

- `referral.created` records the referral and its consented categories; no access yet.
- `referral.accepted` opens access for the receiving organisation.
- `referral.declined / .revoked / .expired / .closed` end access for good.
- `referral.completed` keeps read access for a short follow-up period (settings:
  `completed_referral_access_days`, default 14; 0 ends it at once): after a counter-referral the
  provider may still need the case for the follow-up it just reported (a second PEP visit, a
  protection-measure hearing), and the survivor's consent still bounds what it sees.
An ended referral never comes back to life, whatever order the events arrive in."""
from __future__ import annotations

from datetime import datetime, timedelta

CREATED, ACCEPTED, COMPLETED = "created", "accepted", "completed"
ENDED = {"declined", "revoked", "expired", "closed"}
_RANK = {CREATED: 0, ACCEPTED: 1, COMPLETED: 2, **{s: 3 for s in ENDED}}


def next_status(current: str | None, incoming: str) -> str:
    """The status after an event; a state never goes back (created < accepted < completed < ended)."""
    if current is None:
        return incoming
    return incoming if _RANK[incoming] > _RANK[current] else current


def access_until(status: str, *, completed_at: datetime | None, follow_up_days: int) -> datetime | None:
    if status == COMPLETED and completed_at is not None:
        return completed_at + timedelta(days=follow_up_days)
    return None


def grants_access(status: str, *, access_until_at: datetime | None, now: datetime) -> bool:
    if status == ACCEPTED:
        return True
    return status == COMPLETED and access_until_at is not None and now < access_until_at
