"""KEK rotation without downtime: rewrap case data keys under the current KEK, in small
transactions, alongside normal traffic (`python -m intake rewrap-keys` or the background rewrapper)."""
from __future__ import annotations

import logging
import threading

from ..adapters import vault_store
from .context import Intake

log = logging.getLogger(__name__)


def rewrap_keys(ctx: Intake, *, batch_size: int, max_batches: int | None = None) -> int:
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        with ctx.runtime.uow() as uow:
            done = vault_store.rewrap_batch(uow.session, ctx.keyring, batch_size)
            uow.commit()
        total += done
        batches += 1
        if done < batch_size:
            break
    if total:
        log.info("case data keys rewrapped", extra={"count": total, "key_id": ctx.keyring.current.key_id})
    return total


def stale_key_count(ctx: Intake) -> int:
    with ctx.runtime.uow() as uow:
        return vault_store.stale_keys(uow.session, ctx.keyring)


class KeyRewrapper:
    """Background worker: rewraps a batch every interval while keys under old KEKs remain."""

    def __init__(self, ctx: Intake) -> None:
        self.ctx = ctx
        self.stopping = threading.Event()

    def run(self) -> None:
        settings = self.ctx.settings
        while not self.stopping.is_set():
            try:
                rewrap_keys(self.ctx, batch_size=settings.rewrap_batch_size, max_batches=10)
            except Exception as exc:  # noqa: BLE001 - database away: try again next interval
                log.warning("key rewrap failed; will retry", extra={"error_type": type(exc).__name__})
            self.stopping.wait(settings.rewrap_interval_seconds)

    def stop(self) -> None:
        self.stopping.set()
