"""The transfer clock: expires pending transfers past their deadline."""
from __future__ import annotations

import logging
import threading

from ..service_layer.transfers import expire_transfers

log = logging.getLogger(__name__)


class TransferClock:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.stopping = threading.Event()

    def tick(self, now=None) -> int:
        with self.ctx.runtime.uow() as uow:
            expired = expire_transfers(ctx=self.ctx, uow=uow, now=now or self.ctx.clock())
            uow.commit()
        if expired:
            log.info("transfers expired", extra={"count": expired})
        return expired

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - database away: the next tick catches up
                log.warning("transfer clock tick failed", extra={"error_type": type(exc).__name__})
            self.stopping.wait(self.ctx.settings.transfer_clock_seconds)

    def stop(self) -> None:
        self.stopping.set()
