"""Transfers of a case along the migration route. A pending transfer is accepted or declined by the
receiving office, or expires; each of these ends it. Accepting moves ownership of the case."""
from __future__ import annotations

from datetime import datetime

from .errors import Conflict
from .vocabulary import TransferStatus


def ensure_pending(status: str, *, now: datetime, expires_at: datetime) -> None:
    if status != TransferStatus.PENDING:
        raise Conflict("transfer-not-pending", es="La transferencia ya no está pendiente.",
                       en="The transfer is no longer pending.")
    if expires_at <= now:
        raise Conflict("transfer-expired", es="La transferencia venció.", en="The transfer has expired.")


def check_destination(*, from_office: str, to_office: str) -> None:
    if from_office == to_office:
        raise Conflict("transfer-same-office", es="El caso ya pertenece a esa oficina.",
                       en="The case already belongs to that office.")
    kind = to_office.split("/")[1] if to_office.count("/") >= 2 else ""
    if kind not in ("iom", "civil-society"):
        raise Conflict("transfer-destination-kind", es="Un caso solo se transfiere a una oficina de la OIM o a una organización socia.",
                       en="A case can only be transferred to an IOM office or a partner organisation.")
