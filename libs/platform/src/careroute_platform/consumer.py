"""Idempotent, at-least-once event consumer.

For each record: decode the CloudEvent; in ONE database transaction record the event id as
processed (a duplicate is skipped) and apply the handler's effects; commit; then commit the
Kafka offset. A crash anywhere re-delivers the record, and the processed-events row makes the
second delivery a no-op. A record that cannot be decoded, or whose handler keeps failing after
bounded retries, goes to `<topic>.dlt` with the error in its headers, and the partition moves on.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy import Table

from .cloudevents import Event, MalformedEvent, from_kafka
from .logging import trace_id_var
from .metrics import CONSUMED, CONSUMER_LAG, DEAD_LETTERED

log = logging.getLogger(__name__)

Handler = Callable[[Any, Event], None]  # (unit of work, event); the runner commits


class PermanentError(Exception):
    """A handler's way of saying retrying will not help: dead-letter at once."""


class RetryLater(Exception):
    """The database is away: the record is neither applied nor dead-lettered; the runner seeks
    back to it and tries again after a pause. Only handler errors count towards dead-lettering."""


def _infrastructure_error(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def trace_id(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


class ConsumerRunner:
    def __init__(self, *, group_id: str, topics: list[str], handlers: dict[str, Handler],
                 uow_factory: Callable[[], Any], processed_table: Table, bootstrap: str,
                 max_retries: int = 3, retry_backoff: float = 0.2, ignore_unknown: bool = True,
                 max_poll_interval_ms: int = 10_000, session_timeout_ms: int = 6_000,
                 fetch_max_wait_ms: int = 100, producer: KafkaProducer | None = None) -> None:
        self.group_id = group_id
        self.topics = topics
        self.handlers = handlers
        self.uow_factory = uow_factory
        self.processed = processed_table
        self.bootstrap = bootstrap
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.ignore_unknown = ignore_unknown
        self.consumer_options = dict(
            bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_interval_ms=max_poll_interval_ms,
            session_timeout_ms=session_timeout_ms, heartbeat_interval_ms=max(300, session_timeout_ms // 4),
            max_poll_records=200,
            # Some brokers (the embedded one) hold a fetch for the whole wait even with records
            # ready; kafka-python's 500 ms default would add that to every event's latency.
            fetch_max_wait_ms=fetch_max_wait_ms,
        )
        self._producer = producer
        self.stopping = threading.Event()
        self._last_lag = 0.0

    # -- one record -------------------------------------------------------------------------
    def handle(self, record) -> str:
        """Apply one record; returns the outcome label. Never raises for a bad record."""
        try:
            event = from_kafka(record.key, record.value, record.headers)
        except MalformedEvent as exc:
            self.dead_letter(record, exc)
            return "malformed"
        handler = self.handlers.get(event.type) or self.handlers.get("*")
        if handler is None:
            if self.ignore_unknown:
                return "ignored"
            self.dead_letter(record, MalformedEvent(f"unknown event type {event.type}"))
            return "unknown"
        token = trace_id_var.set(trace_id(event.traceparent))
        try:
            for attempt in range(1, self.max_retries + 1):
                try:
                    return self._apply(handler, event)
                except PermanentError as exc:
                    self.dead_letter(record, exc)
                    return "dead-lettered"
                except Exception as exc:
                    if _infrastructure_error(exc):
                        raise RetryLater() from exc
                    log.warning("handler failed", extra={"event_type": event.type, "event_id": event.id,
                                                         "attempt": attempt, "error_type": type(exc).__name__})
                    if attempt == self.max_retries:
                        self.dead_letter(record, exc)
                        return "dead-lettered"
                    time.sleep(self.retry_backoff * 2 ** (attempt - 1))
        finally:
            trace_id_var.reset(token)
        return "failed"

    def _apply(self, handler: Handler, event: Event) -> str:
        with self.uow_factory() as uow:
            inserted = uow.session.execute(
                insert(self.processed).values(consumer_group=self.group_id, event_id=event.id,
                                              event_type=event.type)
                .on_conflict_do_nothing().returning(self.processed.c.event_id)
            ).first()
            if inserted is None:
                return "duplicate"
            handler(uow, event)
            uow.commit()
        return "applied"

    def dead_letter(self, record, error: Exception) -> None:
        headers = list(record.headers or []) + [
            ("dlt_error_type", type(error).__name__.encode()),
            ("dlt_error_message", str(error)[:500].encode()),
            ("dlt_original_topic", record.topic.encode()),
            ("dlt_original_partition", str(record.partition).encode()),
            ("dlt_original_offset", str(record.offset).encode()),
            ("dlt_consumer_group", self.group_id.encode()),
        ]
        self.producer.send(f"{record.topic}.dlt", key=record.key, value=record.value, headers=headers).get(30)
        DEAD_LETTERED.labels(self.group_id, record.topic).inc()
        log.error("event dead-lettered", extra={"topic": record.topic, "partition": record.partition,
                                                "offset": record.offset, "error_type": type(error).__name__})

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True)
        return self._producer

    # -- the loop ---------------------------------------------------------------------------
    def run(self, consumer: KafkaConsumer | None = None) -> None:
        consumer = consumer or KafkaConsumer(**self.consumer_options)
        consumer.subscribe(self.topics)
        pause = 0.5
        try:
            while not self.stopping.is_set():
                try:
                    self._poll_once(consumer)
                    pause = 0.5
                except RetryLater:
                    log.warning("database unavailable; will retry the same record", extra={"consumer_group": self.group_id})
                    self.stopping.wait(pause)
                    pause = min(pause * 2, 5.0)   # short enough to poll again within max_poll_interval
                except KafkaError as exc:
                    # e.g. a commit refused after a rebalance (broker paused, slow batch): the records
                    # not committed come again, and the processed-events guard makes that harmless.
                    log.warning("broker error; polling again", extra={"consumer_group": self.group_id,
                                                                      "error_type": type(exc).__name__})
                    self.stopping.wait(pause)
                    pause = min(pause * 2, 5.0)
                self._measure_lag(consumer)
        finally:
            consumer.close(autocommit=False)
            if self._producer is not None:
                self._producer.close(timeout=5)

    def _poll_once(self, consumer: KafkaConsumer) -> None:
        batch = consumer.poll(timeout_ms=500)
        # The next record to apply per partition: if the batch is abandoned half-way (database away,
        # broker error), every partition is rewound to it, or the rest of the batch would be skipped.
        pending = {tp: records[0].offset for tp, records in batch.items() if records}
        try:
            for tp, records in batch.items():
                for record in records:
                    if self.stopping.is_set():
                        return
                    outcome = self.handle(record)
                    CONSUMED.labels(self.group_id, _type_of(record), outcome).inc()
                    # The offset is committed only after the database transaction.
                    consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})
                    pending[tp] = record.offset + 1
        except (RetryLater, KafkaError):
            self._rewind(consumer, pending)
            raise
        finally:
            if self.stopping.is_set():
                self._rewind(consumer, pending)

    @staticmethod
    def _rewind(consumer: KafkaConsumer, pending: dict) -> None:
        assigned = consumer.assignment()
        for tp, offset in pending.items():
            if tp in assigned:
                try:
                    consumer.seek(tp, offset)
                except Exception:  # the partition was revoked meanwhile: its new owner starts from the commit
                    pass

    def _measure_lag(self, consumer: KafkaConsumer, every: float = 5.0) -> None:
        if time.monotonic() - self._last_lag < every:
            return
        self._last_lag = time.monotonic()
        assigned = consumer.assignment()
        if not assigned:
            return
        try:
            ends = consumer.end_offsets(list(assigned))
            for tp in assigned:
                CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(
                    max(0, ends[tp] - consumer.position(tp)))
        except Exception:  # lag is observability only
            pass

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)


def _type_of(record) -> str:
    for k, v in record.headers or []:
        if k == "ce_type":
            value = v.decode(errors="replace")[:120]
            # label values come from the contracts only: a poison record cannot mint new series
            return value if value.startswith("org.iom.careroute.") and value.isprintable() else "unknown"
    return "unknown"
