"""Anomaly rules over access decisions, for supervisors.

- unusual-case-reads: one subject read at least N distinct cases within a sliding window;
- denied-access-burst: one subject was denied at least N times within a sliding window;
- off-hours-access: one subject accessed records outside working hours (local time).

Each rule fires at most once per (rule, subject, window): the window of a firing is the bucket of
`window_seconds` (counted in local wall-clock time) that holds the triggering access, and the
caller records (rule, subject, window start) under a unique key, so replays and several consumer
replicas never raise the same anomaly twice. Pure functions: the caller supplies the accesses.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

UNUSUAL_CASE_READS = "unusual-case-reads"
DENIED_ACCESS_BURST = "denied-access-burst"
OFF_HOURS_ACCESS = "off-hours-access"
RULES = (UNUSUAL_CASE_READS, DENIED_ACCESS_BURST, OFF_HOURS_ACCESS)


@dataclass(frozen=True)
class Access:
    """One access decision as the rules see it (taken from a log entry)."""

    subject: str
    organisation: str | None
    at: datetime
    action: str
    resource_type: str
    resource_id: str | None
    outcome: str  # allowed | denied
    entry_index: int = -1


@dataclass(frozen=True)
class Thresholds:
    case_reads: int = 30
    case_reads_window: int = 3600
    case_resource_types: frozenset[str] = frozenset({"case"})
    read_words: frozenset[str] = frozenset({"read", "view", "get", "export", "download", "open", "show"})
    denials: int = 5
    denials_window: int = 600
    off_hours: bool = True
    off_hours_window: int = 86_400
    timezone: str = "America/Guayaquil"
    work_start: int = 7
    work_end: int = 19
    work_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})

    @classmethod
    def from_settings(cls, s) -> Thresholds:
        return cls(case_reads=s.anomaly_case_reads_threshold, case_reads_window=s.anomaly_case_reads_window_seconds,
                   case_resource_types=frozenset(s.anomaly_case_resource_types),
                   read_words=frozenset(w.lower() for w in s.anomaly_read_words),
                   denials=s.anomaly_denials_threshold, denials_window=s.anomaly_denials_window_seconds,
                   off_hours=s.anomaly_off_hours_enabled, off_hours_window=s.anomaly_off_hours_window_seconds,
                   timezone=s.working_timezone, work_start=s.working_hours_start, work_end=s.working_hours_end,
                   work_days=frozenset(s.working_days))

    @property
    def lookback(self) -> int:
        """How far before the earliest new access the sliding-window rules need to look. (The
        off-hours rule looks back to the start of its bucket, for off-hours accesses only.)"""
        return max(self.case_reads_window, self.denials_window)


@dataclass(frozen=True)
class Finding:
    rule: str
    subject: str
    organisation: str | None
    count: int
    threshold: int
    window_seconds: int
    window_key: datetime  # start of the firing bucket: the idempotency key with (rule, subject)
    window_start: datetime
    window_end: datetime

    def event_data(self) -> dict:
        return {"rule": self.rule, "subject": self.subject, "organisation": self.organisation,
                "count": self.count, "threshold": self.threshold, "window_seconds": self.window_seconds,
                "window_start": _iso(self.window_start), "window_end": _iso(self.window_end)}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_WORD = re.compile(r"[^a-z0-9]+")


def is_read(access: Access, t: Thresholds) -> bool:
    words = set(_WORD.split(access.action.lower()))
    return (access.outcome == "allowed" and access.resource_type in t.case_resource_types
            and access.resource_id is not None and bool(words & t.read_words))


def is_off_hours(at: datetime, t: Thresholds) -> bool:
    local = at.astimezone(_zone(t.timezone))
    return local.weekday() not in t.work_days or not (t.work_start <= local.hour < t.work_end)


def bucket(at: datetime, seconds: int, tz: str) -> datetime:
    """Start (UTC) of the local-wall-clock bucket of `seconds` holding `at` (a day bucket starts at
    local midnight)."""
    local = at.astimezone(_zone(tz))
    wall = local.replace(tzinfo=UTC).timestamp()
    start_wall = datetime.fromtimestamp(wall - wall % seconds, UTC).replace(tzinfo=None)
    return start_wall.replace(tzinfo=_zone(tz)).astimezone(UTC)


def evaluate(new: Sequence[Access], history: Iterable[Access], t: Thresholds) -> list[Finding]:
    """Findings raised by the `new` accesses, judged against everything known (`history`, which
    should include the new accesses and `t.lookback` seconds on either side of them).

    Accesses arrive out of order (several partitions, late producers), so a new access is judged
    in every window it falls into: the windows ending at it and at each later known access less
    than a window length after it. One finding per (rule, subject, bucket of the window's end) at
    most; the caller still de-duplicates across calls."""
    by_subject: dict[str, list[Access]] = {}
    known_set = set(history)
    for a in known_set | set(new):
        by_subject.setdefault(a.subject, []).append(a)
    new_by_subject: dict[str, list[Access]] = {}
    for a in new:
        new_by_subject.setdefault(a.subject, []).append(a)
    findings: dict[tuple[str, str, datetime], Finding] = {}

    def sliding(rule: str, subject: str, relevant: list[Access], fresh: list[Access], seconds: int,
                threshold: int, measure) -> None:
        relevant.sort(key=lambda x: (x.at, x.entry_index))
        times = [x.at for x in relevant]
        window = timedelta(seconds=seconds)
        ends: set[int] = set()
        for a in fresh:
            ends.update(range(bisect_left(times, a.at), bisect_right(times, a.at + window)))
        for i in sorted(ends):
            end = relevant[i]
            key = bucket(end.at, seconds, t.timezone)
            if (rule, subject, key) in findings:
                continue
            start = end.at - window
            count = measure(relevant[bisect_right(times, start):bisect_right(times, end.at)])
            if count >= threshold:
                findings[(rule, subject, key)] = Finding(rule, subject, end.organisation, count, threshold, seconds,
                                                         key, start, end.at)

    for subject, fresh in new_by_subject.items():
        known = by_subject[subject]
        reads = [a for a in fresh if is_read(a, t)]
        if reads:
            sliding(UNUSUAL_CASE_READS, subject, [x for x in known if is_read(x, t)], reads, t.case_reads_window,
                    t.case_reads, lambda xs: len({(x.resource_type, x.resource_id) for x in xs}))
        denials = [a for a in fresh if a.outcome == "denied"]
        if denials:
            sliding(DENIED_ACCESS_BURST, subject, [x for x in known if x.outcome == "denied"], denials,
                    t.denials_window, t.denials, len)
        if t.off_hours:
            night = sorted((x for x in known if x.outcome == "allowed" and is_off_hours(x.at, t)),
                           key=lambda x: (x.at, x.entry_index))
            for a in sorted((a for a in fresh if a.outcome == "allowed" and is_off_hours(a.at, t)),
                            key=lambda x: (x.at, x.entry_index)):
                key = bucket(a.at, t.off_hours_window, t.timezone)
                if (OFF_HOURS_ACCESS, subject, key) in findings:
                    continue
                count = sum(1 for x in night if key <= x.at <= a.at)
                findings[(OFF_HOURS_ACCESS, subject, key)] = Finding(
                    OFF_HOURS_ACCESS, subject, a.organisation, max(count, 1), 1, t.off_hours_window, key, key, a.at)
    return list(findings.values())
