"""The audit log's metrics. Tree size, entries and checkpoint age are read from the database at
scrape time (any process serving /metrics reports the log's true state, whichever replica
appended); batch timings and anomaly counts are per process."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import select

from .adapters.orm import checkpoints, entries, tree_head

log = logging.getLogger(__name__)

APPEND_BATCHES = Counter("audit_append_batches_total", "Batches appended to the log", ["outcome"])
APPEND_SECONDS = Histogram("audit_append_batch_seconds", "Time to append one batch (one transaction)")
APPENDED = Counter("audit_appended_total", "Entries appended by this process", ["kind"])
DUPLICATES = Counter("audit_duplicates_total", "Deliveries skipped because their event is already logged")
ANOMALIES = Counter("audit_anomalies_total", "Anomalies raised", ["rule"])
CHECKPOINTS = Counter("audit_checkpoints_issued_total", "Checkpoints signed by this process")
INTEGRITY_FAILURES = Counter("audit_integrity_failures_total",
                             "Times the stored tree did not reproduce an earlier checkpoint (tampering?)")


class LogStateCollector:
    """audit_tree_size, audit_entries_total, audit_checkpoint_size, audit_checkpoint_age_seconds and
    audit_uncheckpointed_age_seconds, from the database, at scrape time."""

    def __init__(self) -> None:
        self.engine = None

    def collect(self):
        if self.engine is None:
            return
        try:
            with self.engine.connect() as conn:
                size = conn.execute(select(tree_head.c.size).where(tree_head.c.id == 1)).scalar_one()
                latest = conn.execute(select(checkpoints.c.size, checkpoints.c.issued_at)
                                      .order_by(checkpoints.c.size.desc()).limit(1)).first()
                waiting_since = None
                if size > (latest.size if latest else 0):
                    waiting_since = conn.execute(select(entries.c.logged_at).where(
                        entries.c.index == (latest.size if latest else 0))).scalar()
        except Exception as exc:  # noqa: BLE001 - metrics must never break a scrape
            log.warning("audit log state unavailable for metrics", extra={"error_type": type(exc).__name__})
            return
        now = datetime.now(UTC)
        yield GaugeMetricFamily("audit_tree_size", "Entries in the log (committed tree size)", value=size)
        yield CounterMetricFamily("audit_entries", "Entries ever appended to the log (it never shrinks)", value=size)
        yield GaugeMetricFamily("audit_checkpoint_size", "Tree size of the latest signed checkpoint",
                                value=latest.size if latest else 0)
        yield GaugeMetricFamily("audit_checkpoint_age_seconds", "Seconds since the latest checkpoint was issued",
                                value=(now - latest.issued_at).total_seconds() if latest else float("nan"))
        yield GaugeMetricFamily("audit_uncheckpointed_age_seconds",
                                "Age of the oldest entry no checkpoint covers yet (0 when all are covered)",
                                value=(now - waiting_since).total_seconds() if waiting_since else 0.0)

    def describe(self):
        return []


LOG_STATE = LogStateCollector()
REGISTRY.register(LOG_STATE)


def watch(engine) -> None:
    LOG_STATE.engine = engine
