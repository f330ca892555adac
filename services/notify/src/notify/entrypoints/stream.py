"""Live inbox updates: one LISTEN connection per process fans PostgreSQL notifications out to the open
server-sent-event streams whose audience they concern (a person's subject or an organisation). The
consumer NOTIFYs on commit with the audience keys of the entries it wrote; streams then read their own
new entries through the policy scope. A periodic poll covers a lost LISTEN connection."""
from __future__ import annotations

import asyncio
import itertools
import logging
import select
import threading

import psycopg

from ..service_layer.notices import INBOX_CHANNEL

log = logging.getLogger(__name__)


class InboxHub:
    def __init__(self, engine) -> None:
        self.engine = engine
        self._waiters: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Event, frozenset[str]]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def subscribe(self, keys: set[str]) -> tuple[int, asyncio.Event]:
        self._ensure_thread()
        event = asyncio.Event()
        token = next(self._ids)
        with self._lock:
            self._waiters[token] = (asyncio.get_running_loop(), event, frozenset(keys))
        return token, event

    def unsubscribe(self, token: int) -> None:
        with self._lock:
            self._waiters.pop(token, None)

    def notify(self, keys: set[str]) -> None:
        with self._lock:
            waiters = list(self._waiters.values())
        for loop, event, wanted in waiters:
            if not keys or wanted & keys:
                try:
                    loop.call_soon_threadsafe(event.set)
                except RuntimeError:  # the stream's loop is gone
                    pass

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="inbox-hub", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {INBOX_CHANNEL}")
                    while not self._stopping.is_set():
                        ready, _, _ = select.select([conn.fileno()], [], [], 1.0)
                        if not ready:
                            continue
                        keys: set[str] = set()
                        for note in conn.notifies(timeout=0, stop_after=1000):
                            keys.update(note.payload.split())
                        self.notify(keys)
            except Exception as exc:  # the streams fall back to polling meanwhile
                log.warning("inbox hub lost its LISTEN connection", extra={"error_type": type(exc).__name__})
                self._stopping.wait(2.0)

    def stop(self) -> None:
        self._stopping.set()
