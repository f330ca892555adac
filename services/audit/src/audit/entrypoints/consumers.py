"""The log's batch consumer: every topic in contracts/topics.yaml, appended in batches.

It builds on the platform's ConsumerRunner (dead-lettering, producer, lag, stop) but appends a
whole poll in ONE transaction instead of one record per transaction, which is what makes the log
fast enough to take every access decision of every service:

    poll up to N records -> decode each (malformed ones go to `<topic>.dlt`) -> one transaction:
    processed-events rows + entries + tree nodes + head + anomaly events -> commit -> commit offsets

A crash between the database commit and the offset commit re-delivers the batch; every event id
is then already processed, so the tree does not grow twice. A database outage rewinds the
consumer to the batch's first offsets and retries; a record the database refuses (after retries)
is isolated by appending the batch one record at a time, and only that record is dead-lettered.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from careroute_platform import contracts
from careroute_platform.cloudevents import MalformedEvent, from_kafka
from careroute_platform.consumer import ConsumerRunner
from careroute_platform.metrics import CONSUMED
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError
from sqlalchemy import exc as sa_exc

from ..domain.anomaly import Thresholds
from ..domain.entry import EntryRejected, LogEntry, build_entry
from ..metrics import APPEND_BATCHES, APPEND_SECONDS
from ..service_layer.log import AppendResult, append_entries

log = logging.getLogger(__name__)
TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, sa_exc.DisconnectionError)


class DatabaseUnavailable(Exception):
    """The batch could not be appended for a reason that retrying later will fix."""


def log_topics() -> list[str]:
    """Every topic of the platform (the log records all of them, its own included)."""
    return sorted(contracts.topics())


@dataclass
class BatchOutcome:
    records: int = 0
    appended: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    results: list[AppendResult] = field(default_factory=list)


class AuditLogConsumer(ConsumerRunner):
    def __init__(self, runtime, *, topics: Sequence[str] | None = None, group_id: str | None = None,
                 batch_max_records: int | None = None, thresholds: Thresholds | None = None) -> None:
        s = runtime.settings
        super().__init__(group_id=group_id or s.log_consumer_group, topics=list(topics or log_topics()), handlers={},
                         uow_factory=runtime.uow, processed_table=runtime.processed_table,
                         bootstrap=s.kafka_bootstrap_servers, max_retries=s.consumer_max_retries,
                         retry_backoff=s.consumer_retry_backoff_seconds,
                         max_poll_interval_ms=s.consumer_max_poll_interval_ms,
                         session_timeout_ms=s.consumer_session_timeout_ms)
        self.batch_max = batch_max_records or s.log_batch_max_records
        self.poll_timeout_ms = s.log_poll_timeout_ms
        self.consumer_options["max_poll_records"] = self.batch_max
        self.thresholds = thresholds if thresholds is not None else Thresholds.from_settings(s)

    # -- one batch ------------------------------------------------------------------------------
    def decode(self, record) -> LogEntry:
        event = from_kafka(record.key, record.value, record.headers)
        received = datetime.fromtimestamp(record.timestamp / 1000, UTC) if record.timestamp else None
        entry = build_entry(event_id=event.id, event_type=event.type, source=event.source, time=event.time,
                            key=event.key, traceparent=event.traceparent, data=event.data, received_at=received)
        _ = entry.leaf_hash  # canonicalise and hash now, outside the transaction that holds the head lock
        return entry

    def process(self, records: Sequence) -> BatchOutcome:
        """Append one batch of records (no offset commit: the caller does that after this returns).
        Raises DatabaseUnavailable when the batch must be retried later."""
        outcome = BatchOutcome(records=len(records))
        good: list[tuple[object, LogEntry]] = []
        for record in records:
            try:
                good.append((record, self.decode(record)))
            except (MalformedEvent, EntryRejected) as exc:
                self.dead_letter(record, exc)
                outcome.dead_lettered += 1
                CONSUMED.labels(self.group_id, _type_of(record), "malformed").inc()
        if not good:
            return outcome
        try:
            results = [self._append([e for _, e in good])]
        except DatabaseUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the database refused something in the batch: find the record
            log.warning("batch refused; appending one record at a time",
                        extra={"count": len(good), "error_type": type(exc).__name__})
            results = []
            for record, entry in good:
                try:
                    results.append(self._append([entry]))
                except DatabaseUnavailable:
                    raise
                except Exception as one:  # noqa: BLE001 - this record is the poison one
                    self.dead_letter(record, one)
                    outcome.dead_lettered += 1
                    CONSUMED.labels(self.group_id, _type_of(record), "dead-lettered").inc()
        appended = {i for r in results for i in r.appended}
        for record, entry in good:
            CONSUMED.labels(self.group_id, entry.body["event_type"][:120],
                            "applied" if entry.event_id in appended else "duplicate").inc()
        outcome.results = results
        outcome.appended = sum(len(r.appended) for r in results)
        outcome.duplicates = sum(r.duplicates for r in results)
        return outcome

    def _append(self, items: list[LogEntry]) -> AppendResult:
        for attempt in range(1, self.max_retries + 1):
            started = time.perf_counter()
            try:
                with self.uow_factory() as uow:
                    result = append_entries(uow, items, consumer_group=self.group_id,
                                            processed_table=self.processed, thresholds=self.thresholds)
                    uow.commit()
                APPEND_SECONDS.observe(time.perf_counter() - started)
                APPEND_BATCHES.labels("committed").inc()
                if result.appended:
                    log.info("entries appended", extra={"count": len(result.appended), "tree_size": result.size})
                return result
            except TRANSIENT as exc:
                APPEND_BATCHES.labels("retried").inc()
                log.warning("append failed; retrying", extra={"attempt": attempt, "error_type": type(exc).__name__})
                if attempt == self.max_retries:
                    raise DatabaseUnavailable(type(exc).__name__) from exc
                time.sleep(self.retry_backoff * 2 ** (attempt - 1))
        raise DatabaseUnavailable("no attempt made")  # pragma: no cover - max_retries >= 1

    # -- the loop -------------------------------------------------------------------------------
    def new_consumer(self) -> KafkaConsumer:
        return KafkaConsumer(**self.consumer_options)

    def poll_batch(self, consumer: KafkaConsumer) -> list:
        polled = consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.batch_max)
        return [r for tp in sorted(polled, key=lambda tp: (tp.topic, tp.partition)) for r in polled[tp]]

    @staticmethod
    def commit(consumer: KafkaConsumer, records: Sequence) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for r in records:
            offsets[TopicPartition(r.topic, r.partition)] = OffsetAndMetadata(r.offset + 1, "", -1)
        consumer.commit(offsets)

    @staticmethod
    def rewind(consumer: KafkaConsumer, records: Sequence) -> None:
        first: dict[TopicPartition, int] = {}
        for r in records:
            first.setdefault(TopicPartition(r.topic, r.partition), r.offset)
        for tp, offset in first.items():
            try:
                consumer.seek(tp, offset)
            except (KafkaError, AssertionError, ValueError):  # partition revoked meanwhile
                pass

    def run(self, consumer: KafkaConsumer | None = None) -> None:
        consumer = consumer or self.new_consumer()
        consumer.subscribe(self.topics)
        backoff = 0.5
        try:
            while not self.stopping.is_set():
                records = self.poll_batch(consumer)
                if records:
                    try:
                        self.process(records)
                    except DatabaseUnavailable:
                        self.rewind(consumer, records)
                        self.stopping.wait(backoff)
                        backoff = min(backoff * 2, 10.0)
                        continue
                    backoff = 0.5
                    try:  # offsets only after the database transaction committed
                        self.commit(consumer, records)
                    except KafkaError as exc:  # rebalanced meanwhile: the records come back, as duplicates
                        log.warning("offset commit failed", extra={"error_type": type(exc).__name__})
                self._measure_lag(consumer)
        finally:
            consumer.close(autocommit=False)
            if self._producer is not None:
                self._producer.close(timeout=5)


def _type_of(record) -> str:
    for k, v in record.headers or []:
        if k == "ce_type":
            return v.decode(errors="replace")[:120]
    return "unknown"
