"""Background workers besides the log consumer: the checkpoint signer and the worker's /metrics."""
from __future__ import annotations

import logging
import threading

from sqlalchemy import exc as sa_exc

from ..adapters.keys import LogKeys
from ..service_layer.checkpoints import IntegrityFailure, issue_checkpoint

log = logging.getLogger(__name__)


class Checkpointer:
    """Signs a checkpoint every `interval` seconds, or sooner once `every_entries` entries wait,
    and only when the log grew. Several replicas may run: one signs at a time (advisory lock) and a
    size is signed once (primary key)."""

    def __init__(self, runtime, keys: LogKeys, *, poll_seconds: float | None = None) -> None:
        s = runtime.settings
        self.runtime = runtime
        self.keys = keys
        self.keys.require_signer()  # fail at start, not at the first checkpoint
        self.interval = s.checkpoint_interval_seconds
        self.every_entries = s.checkpoint_every_entries
        self.poll = poll_seconds if poll_seconds is not None else min(0.5, self.interval / 4)
        self.stopping = threading.Event()

    def tick(self, *, force: bool = False):
        with self.runtime.session_factory() as session, session.begin():
            return issue_checkpoint(session, self.keys, interval_seconds=self.interval,
                                    every_entries=self.every_entries, force=force)

    def run(self) -> None:
        backoff = self.poll
        while not self.stopping.wait(backoff):
            try:
                self.tick()
                backoff = self.poll
            except IntegrityFailure:
                backoff = 30.0  # already logged and counted; keep refusing, loudly, but slowly
            except sa_exc.SQLAlchemyError as exc:
                log.warning("checkpoint not issued; will retry", extra={"error_type": type(exc).__name__})
                backoff = min(max(backoff, 0.5) * 2, 10.0)

    def stop(self) -> None:
        self.stopping.set()

