"""Signed checkpoints: issuing them, serving them with their cosignatures, accepting cosignatures."""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..adapters.keys import LogKeys
from ..adapters.store import LogRepository
from ..domain.checkpoint import (
    Checkpoint,
    MalformedNoteError,
    NoteError,
    Verifier,
    open_note,
    sign_checkpoint,
)
from ..domain.merkle import ProofError, consistency_proof, root, verify_consistency
from ..metrics import CHECKPOINTS, INTEGRITY_FAILURES

log = logging.getLogger(__name__)
# pg_try_advisory_xact_lock key: one replica signs at a time ("CRAU" in ASCII).
CHECKPOINT_LOCK = 0x43524155


class IntegrityFailure(RuntimeError):
    """The stored tree no longer reproduces a checkpoint already signed. Never sign on top of it."""


class CosignatureRejected(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class IssuedCheckpoint:
    size: int
    root: bytes
    note: str


def issue_checkpoint(session: Session, keys: LogKeys, *, interval_seconds: float, every_entries: int,
                     force: bool = False) -> IssuedCheckpoint | None:
    """Sign a checkpoint for the current tree size when the log grew and one is due. Within the
    caller's transaction; the caller commits. Returns None when nothing was issued."""
    if not session.execute(select(func.pg_try_advisory_xact_lock(CHECKPOINT_LOCK))).scalar():
        return None  # another replica is signing right now
    repo = LogRepository(session)
    size = repo.size()
    latest = repo.latest_checkpoint()
    pending = size - (latest.size if latest else 0)
    if pending <= 0:
        return None
    if latest is not None and not force and pending < every_entries:
        age = (datetime.now(UTC) - latest.issued_at).total_seconds()
        if age < interval_seconds:
            return None
    signer = keys.require_signer()
    new_root = root(repo.nodes, size)
    if latest is not None:
        # Before vouching for the new size, prove to ourselves that the stored tree still extends
        # what we signed last time: a rewritten node (triggers dropped by a DBA) stops the signer.
        try:
            verify_consistency(latest.size, size, consistency_proof(repo.nodes, latest.size, size),
                               bytes(latest.root), new_root)
        except (ProofError, LookupError) as exc:
            INTEGRITY_FAILURES.inc()
            log.error("stored tree does not extend the last checkpoint; not signing",
                      extra={"tree_size": size, "error_type": type(exc).__name__})
            raise IntegrityFailure(f"tree of size {size} does not extend checkpoint {latest.size}") from exc
    note = sign_checkpoint(Checkpoint(keys.origin, size, new_root), signer)
    if not repo.insert_checkpoint(size=size, root=new_root, note=note, key_name=signer.name,
                                  key_id=f"{signer.key_id:08x}"):
        return None
    CHECKPOINTS.inc()
    log.info("checkpoint issued", extra={"tree_size": size, "key_id": f"{signer.key_id:08x}"})
    return IssuedCheckpoint(size, new_root, note)


def full_note(row, cosignatures: list) -> str:
    """The stored note plus the cosignature lines other organisations added, in arrival order."""
    return row.note + "".join(c.line + "\n" for c in cosignatures)


def describe(row, cosignatures: list) -> dict:
    return {"origin": row.note.split("\n", 1)[0], "size": row.size,
            "root": base64.b64encode(bytes(row.root)).decode(),
            "issued_at": row.issued_at.isoformat(), "key": {"name": row.key_name, "key_id": row.key_id},
            "cosigners": [{"name": c.key_name, "key_id": c.key_id, "submitted_at": c.submitted_at.isoformat()}
                          for c in cosignatures],
            "note": full_note(row, cosignatures)}


def add_cosignature(session: Session, keys: LogKeys, *, size: int, line: str, submitted_by: str | None) -> bool:
    """Verify a cosignature line over the stored checkpoint `size` against the configured cosigner
    keys and store it. Returns False when the same cosignature was already stored."""
    repo = LogRepository(session)
    row = repo.checkpoint(size)
    if row is None:
        raise LookupError(size)
    line = line.rstrip("\n")
    if "\n" in line or not line:
        raise CosignatureRejected("malformed", "send exactly one signature line")
    body = row.note[: row.note.index("\n\n") + 1]
    try:
        opened = open_note(body + "\n" + line + "\n", keys.cosigners)
    except MalformedNoteError as exc:
        raise CosignatureRejected("malformed", str(exc)) from None
    except NoteError as exc:  # unknown key, or a known key whose signature does not verify
        raise CosignatureRejected("not-verified", str(exc)) from None
    cosigner: Verifier = opened.signed_by[0]
    if cosigner in keys.trusted:
        raise CosignatureRejected("not-verified", "the log's own key cannot cosign")
    existing = [c for c in repo.cosignatures([size]).get(size, [])
                if (c.key_name, c.key_id) == (cosigner.name, f"{cosigner.key_id:08x}")]
    if existing:
        if existing[0].line != line:
            raise CosignatureRejected("conflict", "this cosigner already cosigned with another signature")
        return False
    return repo.insert_cosignature(size=size, key_name=cosigner.name, key_id=f"{cosigner.key_id:08x}", line=line,
                                   submitted_by=submitted_by)
