"""Case notes: free text, so sealed in the vault with the case's key; read only by the owning office."""
from __future__ import annotations

import uuid

from careroute_platform.access import Decision
from careroute_platform.auth import Principal
from sqlalchemy import func, select

from ..adapters import vault_store
from ..adapters.orm import case_notes
from ..domain.errors import Gone
from ..schemas import NoteIn
from .common import load_case
from .context import Intake


def _field(note_id: str) -> str:
    return f"note:{note_id}"


def note_view(key, row) -> dict:
    return {"id": row.id, "note_type": row.note_type, "text": key.open_json(_field(row.id), row.ciphertext)["text"],
            "author": row.author, "created_at": row.created_at}


def _key(session, ctx, case_id):
    key = vault_store.load_key(session, ctx.keyring, case_id)
    if key is None:
        raise Gone("vault-key-destroyed", es="Los datos fueron suprimidos.", en="The data was erased.")
    return key


def add_note(*, ctx: Intake, uow, principal: Principal, case_id: str, body: NoteIn) -> dict:
    session = uow.session
    load_case(uow, ctx, principal, case_id, "note.create")
    key = _key(session, ctx, case_id)
    note_id = str(uuid.uuid4())
    now = ctx.clock()
    session.execute(case_notes.insert().values(
        id=note_id, case_id=case_id, author=principal.subject, author_office=principal.organisation,
        note_type=body.note_type, ciphertext=key.seal_json(_field(note_id), {"text": body.text}), created_at=now))
    ctx.allow(uow, principal, "note.create", "case.notes", case_id, Decision(True, "own-office"), key=case_id)
    return {"id": note_id, "note_type": body.note_type, "text": body.text, "author": principal.subject, "created_at": now}


def list_notes(*, ctx: Intake, uow, principal: Principal, case_id: str, limit: int, offset: int) -> dict:
    session = uow.session
    load_case(uow, ctx, principal, case_id, "note.list")
    key = _key(session, ctx, case_id)
    total = session.execute(select(func.count()).select_from(case_notes)
                            .where(case_notes.c.case_id == case_id)).scalar_one()
    rows = session.execute(select(case_notes).where(case_notes.c.case_id == case_id)
                           .order_by(case_notes.c.created_at.desc(), case_notes.c.id).limit(limit).offset(offset)).all()
    ctx.allow(uow, principal, "note.list", "case.notes", case_id, Decision(True, "own-office"), key=case_id)
    return {"items": [note_view(key, r) for r in rows], "total": total, "limit": limit, "offset": offset}
