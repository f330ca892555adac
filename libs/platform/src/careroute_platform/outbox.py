"""Transactional outbox (Debezium-style columns) and its relay.

A state change and the events it causes commit in one transaction (see `UnitOfWork`). The relay
publishes unpublished rows in order, waits for the broker's ack (`acks=all`, idempotent producer)
and only then marks them published. A relay killed between publish and mark publishes the rows
again on restart: consumers are idempotent, so the effect happens once."""
from __future__ import annotations

import json
import logging
import select
import threading
import time
import uuid
from datetime import datetime, timezone

import psycopg
from kafka import KafkaProducer
from sqlalchemy import BigInteger, Column, DateTime, Identity, MetaData, String, Table, Text, func, select as sa_select, text, update
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import contracts
from .cloudevents import Event, to_kafka
from .metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)
NOTIFY_CHANNEL = "careroute_outbox"


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox", metadata,
        Column("position", BigInteger, Identity(always=True), primary_key=True),
        Column("id", UUID(as_uuid=False), nullable=False, unique=True),
        Column("aggregatetype", String(64), nullable=False),
        Column("aggregateid", String(128), nullable=False),
        Column("type", String(160), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("topic", String(128), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), index=True),
    )


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        "processed_events", metadata,
        Column("consumer_group", String(128), primary_key=True),
        Column("event_id", String(128), primary_key=True),
        Column("event_type", String(160), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class Outbox:
    def __init__(self, table: Table, *, validate: bool = True) -> None:
        self.table = table
        self.validate = validate

    def add_all(self, session: Session, events: list[Event]) -> None:
        rows = []
        for event in events:
            if self.validate:
                contracts.validate(event.type, event.data)
            _, _, headers = to_kafka(event)
            rows.append({
                "id": event.id, "aggregatetype": event.aggregate, "aggregateid": event.key,
                "type": event.type, "payload": event.data, "topic": contracts.topic_for(event.aggregate),
                "headers": {k: v.decode() for k, v in headers},
            })
        session.execute(self.table.insert(), rows)
        session.execute(text(f"select pg_notify('{NOTIFY_CHANNEL}', '')"))


def make_producer(bootstrap: str, **overrides) -> KafkaProducer:
    options = dict(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2,
                   retries=10, request_timeout_ms=15_000, max_block_ms=15_000)
    options.update(overrides)
    return KafkaProducer(**options)


class Relay:
    """Publishes outbox rows. Wakes on LISTEN/NOTIFY; polls every `poll_seconds` as a fallback."""

    def __init__(self, engine: Engine, table: Table, bootstrap: str, *, poll_seconds: float = 1.0,
                 batch_size: int = 500, producer: KafkaProducer | None = None) -> None:
        self.engine = engine
        self.table = table
        self.bootstrap = bootstrap
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._producer = producer
        self.stopping = threading.Event()
        # A test hook: called after the broker acked a batch and before it is marked published.
        self.after_publish = None

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = make_producer(self.bootstrap)
        return self._producer

    def publish_batch(self) -> int:
        """Publish one batch; returns the number of rows published."""
        t = self.table
        with Session(self.engine) as session, session.begin():
            rows = session.execute(
                sa_select(t.c.position, t.c.id, t.c.aggregateid, t.c.payload, t.c.headers, t.c.topic)
                .where(t.c.published_at.is_(None)).order_by(t.c.position)
                .limit(self.batch_size).with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            futures = []
            for row in rows:
                value = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
                headers = [(k, v.encode()) for k, v in row.headers.items()]
                futures.append((row.topic, self.producer.send(
                    row.topic, key=row.aggregateid.encode(), value=value, headers=headers)))
            self.producer.flush()
            for topic, future in futures:
                future.get(timeout=30)  # raises if the broker did not ack: the rows stay unpublished
                OUTBOX_PUBLISHED.labels(topic).inc()
            if self.after_publish:
                self.after_publish(rows)
            session.execute(update(t).where(t.c.position.in_([r.position for r in rows]))
                            .values(published_at=datetime.now(timezone.utc)))
        return len(rows)

    def measure_backlog(self) -> tuple[int, float]:
        t = self.table
        with self.engine.connect() as conn:
            count, oldest = conn.execute(
                sa_select(func.count(), func.min(t.c.created_at)).where(t.c.published_at.is_(None))).one()
        age = (datetime.now(timezone.utc) - oldest).total_seconds() if oldest else 0.0
        OUTBOX_BACKLOG.set(count)
        OUTBOX_OLDEST_AGE.set(age)
        return count, age

    def run(self) -> None:
        self._listener = self._listen()
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                while self.publish_batch() and not self.stopping.is_set():
                    pass
                self.measure_backlog()
                backoff = 0.5
            except Exception as exc:  # broker or database away: keep the rows, try again
                log.warning("outbox relay could not publish; will retry", extra={"error_type": type(exc).__name__})
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10)
                continue
            self._wait()
        if self._producer is not None:
            self._producer.close(timeout=5)

    def _listen(self):
        url = self.engine.url.set(drivername="postgresql")
        try:
            conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            return conn
        except psycopg.Error:
            return None

    def _wait(self) -> None:
        if self._listener is None or self._listener.closed:
            self._listener = self._listen()  # e.g. after a database restart
        if self._listener is None:
            self.stopping.wait(self.poll_seconds)
            return
        try:
            ready, _, _ = select.select([self._listener.fileno()], [], [], self.poll_seconds)
            if ready:
                for _ in self._listener.notifies(timeout=0, stop_after=1000):
                    pass
        except Exception:
            try:
                self._listener.close()
            except Exception:
                pass
            self._listener = None
            self.stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        self.stopping.set()


def new_event_id() -> str:
    return str(uuid.uuid4())


def wait_until_published(engine: Engine, table: Table, timeout: float = 20.0) -> None:
    """Test and tooling helper: block until the outbox is drained."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if not conn.execute(sa_select(func.count()).where(table.c.published_at.is_(None))).scalar():
                return
        time.sleep(0.05)
    raise TimeoutError("outbox not drained")
