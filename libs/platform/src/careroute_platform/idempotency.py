"""`Idempotency-Key` on creation: a double submission from a field office on a bad connection
creates one record. The key row is inserted first in the creating transaction, so a concurrent
duplicate waits on it and then answers with the stored response."""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session

from .problems import Problem


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys", metadata,
        Column("subject", String(64), primary_key=True),
        Column("key", String(128), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status", Integer),
        Column("response", JSONB),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def claim(session: Session, table: Table, *, subject: str, key: str | None, payload: dict):
    """Returns None if this request should proceed, or (status, body) of the earlier response."""
    if key is None:
        return None
    if not (1 <= len(key) <= 128) or not key.isprintable():
        raise Problem(400, detail={"es": "Idempotency-Key no válida.", "en": "Invalid Idempotency-Key."})
    fp = fingerprint(payload)
    inserted = session.execute(insert(table).values(subject=subject, key=key, fingerprint=fp)
                               .on_conflict_do_nothing().returning(table.c.key)).first()
    if inserted:
        return None
    row = session.execute(select(table).where(table.c.subject == subject, table.c.key == key)).one()
    if row.fingerprint != fp:
        raise Problem(422, "validation", detail={
            "es": "La Idempotency-Key ya se usó con otros datos.", "en": "The Idempotency-Key was used with different data."})
    return row.status, row.response


def remember(session: Session, table: Table, *, subject: str, key: str | None, status: int, body) -> None:
    if key is not None:
        session.execute(update(table).where(table.c.subject == subject, table.c.key == key)
                        .values(status=status, response=body))
