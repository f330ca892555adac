"""Appending to the log: one transaction per batch.

In one transaction: lock the tree head (serialises replicas), record every event id as processed
(a duplicate delivery is skipped), insert the new entries and the Merkle nodes they complete (one
statement each), move the head, and run the anomaly rules over the new access decisions (their
events go to the outbox in the same transaction). The caller commits, and only then commits the
Kafka offsets: a crash before the offset commit re-delivers records whose events are already
processed, so nothing is lost and nothing is logged twice.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from careroute_platform.cloudevents import Event, event_type
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert

from ..adapters.store import LogRepository
from ..domain.anomaly import Access, Finding, Thresholds, bucket, evaluate, is_off_hours
from ..domain.entry import LogEntry
from ..domain.merkle import append_leaves
from ..metrics import ANOMALIES, APPENDED, DUPLICATES

log = logging.getLogger(__name__)
ANOMALY_DETECTED = event_type("anomaly.detected")
AUDIT_SOURCE = "/careroute/audit"


@dataclass
class AppendResult:
    start: int  # tree size before the batch
    size: int  # tree size after the batch
    appended: list[str] = field(default_factory=list)  # event ids, in log order
    duplicates: int = 0
    findings: list[Finding] = field(default_factory=list)


def append_entries(uow, items: Sequence[LogEntry], *, consumer_group: str, processed_table: Table,
                   thresholds: Thresholds | None = None) -> AppendResult:
    """Append `items` (in order) within `uow`; the caller commits. Duplicates are skipped."""
    session = uow.session
    repo = LogRepository(session)
    size = repo.lock_head()
    unique: dict[str, LogEntry] = {}
    for item in items:
        unique.setdefault(item.event_id, item)
    result = AppendResult(start=size, size=size, duplicates=len(items) - len(unique))
    if not unique:
        return result
    p = processed_table
    claimed = set(session.scalars(
        insert(p).on_conflict_do_nothing().returning(p.c.event_id),
        [{"consumer_group": consumer_group, "event_id": i, "event_type": e.body["event_type"]}
         for i, e in unique.items()]))
    # The entries' own unique event id is the guard of last resort (processed rows could be pruned).
    already = repo.existing_event_ids(list(claimed))
    fresh = [e for i, e in unique.items() if i in claimed and i not in already]
    result.duplicates += len(unique) - len(fresh)
    DUPLICATES.inc(result.duplicates)
    if not fresh:
        return result
    nodes = append_leaves(repo.nodes, size, [e.leaf_hash for e in fresh])
    repo.insert_entries(size, fresh)
    repo.nodes.put_many(nodes)
    repo.set_size(size + len(fresh))
    result.size = size + len(fresh)
    result.appended = [e.event_id for e in fresh]
    for e in fresh:
        APPENDED.labels("access" if e.is_access else "domain").inc()
    if thresholds is not None:
        result.findings = raise_anomalies(uow, repo, fresh, start=size, thresholds=thresholds)
    return result


def raise_anomalies(uow, repo: LogRepository, fresh: Sequence[LogEntry], *, start: int,
                    thresholds: Thresholds) -> list[Finding]:
    new = []
    for offset, e in enumerate(fresh):
        actor = e.body["actor"]
        if e.is_access and actor["subject"]:
            new.append(Access(actor["subject"], actor["organisation"], e.occurred_at, e.body["action"],
                              e.body["resource"]["type"], e.body["resource"]["id"], e.body["outcome"], start + offset))
    if not new:
        return []
    lookback = timedelta(seconds=thresholds.lookback)
    until = max(a.at for a in new)
    # A late access also falls into windows that end at accesses logged after it: look both ways.
    rows = {r.index: r for r in repo.accesses_since(sorted({a.subject for a in new}),
                                                    min(a.at for a in new) - lookback, until + lookback)}
    night = [a for a in new if thresholds.off_hours and a.outcome == "allowed" and is_off_hours(a.at, thresholds)]
    if night:  # the off-hours rule counts back to the start of its bucket (a local day by default)
        start = min(bucket(a.at, thresholds.off_hours_window, thresholds.timezone) for a in night)
        rows.update((r.index, r) for r in repo.accesses_since(sorted({a.subject for a in night}),
                                                              start - timedelta(microseconds=1), until))
    history = [Access(r.actor_subject, r.actor_organisation, r.occurred_at, r.action, r.resource_type,
                      r.resource_id, r.outcome, r.index) for r in rows.values()]
    raised = []
    for finding in evaluate(new, history, thresholds):
        event = Event(type=ANOMALY_DETECTED, source=AUDIT_SOURCE, data=finding.event_data(), key=finding.subject)
        if repo.claim_anomaly(rule=finding.rule, subject=finding.subject, window_start=finding.window_key,
                              count=finding.count, event_id=event.id):
            uow.publish(event)
            ANOMALIES.labels(finding.rule).inc()
            log.info("anomaly raised", extra={"event_id": event.id, "action": finding.rule, "count": finding.count})
            raised.append(finding)
    return raised
