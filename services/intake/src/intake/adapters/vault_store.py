"""The identity vault in PostgreSQL: wrapped data keys and sealed fields."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ..metrics import KEYS_REWRAPPED, VAULT_ERRORS
from ..vault.crypto import CaseKey, KeyRing, VaultError
from .orm import case_notes, vault_fields, vault_keys

log = logging.getLogger(__name__)

IDENTITY_FIELDS = ("given_names", "family_names", "date_of_birth", "phone", "address", "document_type",
                   "document_number", "caregiver")
SAFETY_PLAN = "safety_plan"


def create_key(session: Session, keyring: KeyRing, case_id: str) -> CaseKey:
    key = CaseKey.generate(case_id)
    kek_id, wrapped = keyring.wrap(key.material, case_id=case_id)
    session.execute(vault_keys.insert().values(case_id=case_id, kek_id=kek_id, wrapped_key=wrapped))
    return key


def load_key(session: Session, keyring: KeyRing, case_id: str) -> CaseKey | None:
    """The case's data key, or None when it was destroyed (erasure)."""
    row = session.execute(select(vault_keys.c.kek_id, vault_keys.c.wrapped_key)
                          .where(vault_keys.c.case_id == case_id)).first()
    if row is None:
        return None
    try:
        return CaseKey(case_id, keyring.unwrap(row.kek_id, row.wrapped_key, case_id=case_id))
    except VaultError:
        VAULT_ERRORS.labels("unwrap").inc()
        log.error("case data key could not be unwrapped", extra={"case_id": case_id, "key_id": row.kek_id})
        raise


def write_fields(session: Session, key: CaseKey, values: dict) -> None:
    """Seal and store fields (one statement); a None value removes the field."""
    now = datetime.now(UTC)
    removed = [name for name, value in values.items() if value is None]
    rows = [{"case_id": key.case_id, "field": name, "ciphertext": key.seal_json(name, value), "updated_at": now}
            for name, value in values.items() if value is not None]
    if removed:
        session.execute(delete(vault_fields).where(vault_fields.c.case_id == key.case_id,
                                                   vault_fields.c.field.in_(removed)))
    if rows:
        stmt = insert(vault_fields).values(rows)
        session.execute(stmt.on_conflict_do_update(index_elements=["case_id", "field"], set_={
            "ciphertext": stmt.excluded.ciphertext, "updated_at": stmt.excluded.updated_at}))


def read_fields(session: Session, key: CaseKey, names: tuple[str, ...] | None = None) -> dict:
    q = select(vault_fields.c.field, vault_fields.c.ciphertext).where(vault_fields.c.case_id == key.case_id)
    if names is not None:
        q = q.where(vault_fields.c.field.in_(names))
    out = {}
    for row in session.execute(q):
        try:
            out[row.field] = key.open_json(row.field, row.ciphertext)
        except VaultError:
            VAULT_ERRORS.labels("field").inc()
            raise
    return out


def read_identity(session: Session, key: CaseKey) -> dict:
    values = read_fields(session, key, IDENTITY_FIELDS)
    return {name: values.get(name) for name in IDENTITY_FIELDS}


def shred(session: Session, case_id: str) -> None:
    """Crypto-shredding: the wrapped data key goes, and with it every ciphertext sealed under it.
    The ciphertexts are deleted too (defence in depth), though without the key they are noise."""
    session.execute(delete(case_notes).where(case_notes.c.case_id == case_id))
    session.execute(delete(vault_fields).where(vault_fields.c.case_id == case_id))
    session.execute(delete(vault_keys).where(vault_keys.c.case_id == case_id))


def stale_keys(session: Session, keyring: KeyRing) -> int:
    return session.execute(select(func.count()).select_from(vault_keys)
                           .where(vault_keys.c.kek_id != keyring.current.key_id)).scalar_one()


def rewrap_batch(session: Session, keyring: KeyRing, batch_size: int) -> int:
    """Rewrap up to `batch_size` keys wrapped with a previous KEK under the current one. Rows are
    locked with SKIP LOCKED, so several replicas can rewrap side by side while the service runs."""
    rows = session.execute(
        select(vault_keys.c.case_id, vault_keys.c.kek_id, vault_keys.c.wrapped_key)
        .where(vault_keys.c.kek_id != keyring.current.key_id)
        .limit(batch_size).with_for_update(skip_locked=True)).all()
    now = datetime.now(UTC)
    done = 0
    for row in rows:
        try:
            kek_id, wrapped = keyring.rewrap(row.kek_id, row.wrapped_key, case_id=row.case_id)
        except VaultError:
            VAULT_ERRORS.labels("rewrap").inc()
            log.error("case data key could not be rewrapped", extra={"case_id": row.case_id, "key_id": row.kek_id})
            continue
        session.execute(update(vault_keys).where(vault_keys.c.case_id == row.case_id)
                        .values(kek_id=kek_id, wrapped_key=wrapped, rewrapped_at=now))
        done += 1
    KEYS_REWRAPPED.inc(done)
    return done
