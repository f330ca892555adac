"""Background workers: the e-mail worker (fan-out + sends) and the webhook worker. Each wakes on
PostgreSQL NOTIFY (sent when the consumer commits new deliveries) and polls as a fallback, so retries
scheduled for later are picked up on time."""
from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable

import psycopg

from ..service_layer.delivery import DeliveryService
from ..service_layer.notices import WORK_CHANNEL

log = logging.getLogger(__name__)


class LoopWorker:
    def __init__(self, name: str, step: Callable[[], int], *, engine, poll_seconds: float,
                 measure: Callable[[], object] | None = None, measure_every: float = 5.0) -> None:
        self.name = name
        self.step = step
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.measure = measure
        self.measure_every = measure_every
        self.stopping = threading.Event()
        self._measured = 0.0

    def run(self) -> None:
        listener = self._listen()
        pause = 0.5
        while not self.stopping.is_set():
            try:
                busy = self.step()
                self._observe()
                pause = 0.5
            except Exception as exc:  # database away, a bug in one batch: keep the worker alive
                log.warning("delivery worker step failed; will retry",
                            extra={"error_type": type(exc).__name__, "action": self.name})
                self.stopping.wait(pause)
                pause = min(pause * 2, 15)
                continue
            if not busy:
                listener = self._wait(listener)
        if listener is not None:
            listener.close()

    def _observe(self) -> None:
        if self.measure and time.monotonic() - self._measured >= self.measure_every:
            self._measured = time.monotonic()
            try:
                self.measure()
            except Exception:  # metrics are observability only
                pass

    def _listen(self):
        url = self.engine.url.set(drivername="postgresql")
        try:
            conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
            conn.execute(f"LISTEN {WORK_CHANNEL}")
            return conn
        except psycopg.Error:
            return None

    def _wait(self, listener):
        if listener is None:
            self.stopping.wait(self.poll_seconds)
            return self._listen()
        try:
            ready, _, _ = select.select([listener.fileno()], [], [], self.poll_seconds)
            if ready:
                for _ in listener.notifies(timeout=0, stop_after=1000):
                    pass
            return listener
        except Exception:
            try:
                listener.close()
            except Exception:
                pass
            self.stopping.wait(self.poll_seconds)
            return None

    def stop(self) -> None:
        self.stopping.set()


def email_worker(service: DeliveryService, *, engine, poll_seconds: float) -> LoopWorker:
    def step() -> int:
        return service.fan_out() + service.send_emails()
    return LoopWorker("email", step, engine=engine, poll_seconds=poll_seconds, measure=service.measure_queues)


def webhook_worker(service: DeliveryService, *, engine, poll_seconds: float) -> LoopWorker:
    return LoopWorker("webhook", service.send_webhooks, engine=engine, poll_seconds=poll_seconds)
