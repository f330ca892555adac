"""Inclusion and consistency proofs, and exports, from the PostgreSQL store, in the formats the
offline verifier (`careroute-audit-verify`) reads."""
from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..adapters.orm import entries
from ..adapters.store import CachedNodeStore, LogRepository, search_condition
from ..domain.merkle import consistency_proof, inclusion_proof, inclusion_proof_keys
from . import checkpoints as cps


class OutOfRange(ValueError):
    """A tree size or entry index the log cannot answer for. The messages name no input value."""

    def __init__(self, en: str, es: str) -> None:
        super().__init__(en)
        self.en, self.es = en, es


class NoCheckpoint(LookupError):
    """No checkpoint has been issued yet (or not for the size asked)."""


def b64(value: bytes) -> str:
    return base64.b64encode(bytes(value)).decode()


def resolve_size(repo: LogRepository, tree_size: int | None):
    """(size, checkpoint row or None): the latest checkpoint's size by default, else any committed
    size from 1 to the current size (the checkpoint row is given when one was issued for it)."""
    if tree_size is None:
        latest = repo.latest_checkpoint()
        if latest is None:
            raise NoCheckpoint("no checkpoint has been issued yet")
        return latest.size, latest
    current = repo.size()
    if not 1 <= tree_size <= current:
        raise OutOfRange(f"the tree size must be between 1 and the current tree size ({current})",
                         f"El tamaño del árbol debe estar entre 1 y el tamaño actual ({current}).")
    return tree_size, repo.checkpoint(tree_size)


def _checkpoint_fields(repo: LogRepository, row) -> dict[str, Any]:
    if row is None:
        return {"checkpoint": None}
    return {"checkpoint": cps.full_note(row, repo.cosignatures([row.size]).get(row.size, []))}


def entry_json(row) -> dict[str, Any]:
    return {"index": row.index, "event_id": row.event_id, "logged_at": row.logged_at.isoformat(),
            "entry": json.loads(row.entry), "leaf_hash": b64(row.leaf_hash)}


def inclusion(session: Session, *, index: int | None = None, event_id: str | None = None,
              tree_size: int | None = None) -> dict[str, Any] | None:
    """The entry, its inclusion proof in the tree of `tree_size` (default: the latest checkpoint)
    and that checkpoint's note. None when the entry does not exist."""
    repo = LogRepository(session)
    row = repo.entry(index) if event_id is None else repo.entry_by_event(event_id)
    if row is None:
        return None
    size, checkpoint = resolve_size(repo, tree_size)
    if row.index >= size:
        raise OutOfRange(f"the entry is not covered by tree size {size}",
                         f"La entrada no está cubierta por el tamaño de árbol {size}.")
    proof = inclusion_proof(repo.nodes, row.index, size)
    return {"leaf_index": row.index, "tree_size": size, "hashes": [b64(h) for h in proof],
            **entry_json(row), **_checkpoint_fields(repo, checkpoint)}


def consistency(session: Session, *, size1: int, size2: int | None) -> dict[str, Any]:
    repo = LogRepository(session)
    size2, checkpoint = resolve_size(repo, size2)
    if not 0 <= size1 <= size2:
        raise OutOfRange("size1 must not be larger than size2", "size1 no puede ser mayor que size2.")
    proof = consistency_proof(repo.nodes, size1, size2)
    old = repo.checkpoint(size1)
    return {"size1": size1, "size2": size2, "hashes": [b64(h) for h in proof],
            "checkpoint1": _checkpoint_fields(repo, old)["checkpoint"],
            "checkpoint2": _checkpoint_fields(repo, checkpoint)["checkpoint"]}


# -- exports -----------------------------------------------------------------------------------------
CSV_COLUMNS = ("index", "event_id", "time", "actor_subject", "actor_organisation", "actor_roles", "actor_client",
               "action", "resource_type", "resource_id", "case_id", "outcome", "reason", "purpose", "service",
               "trace_id", "event_type", "leaf_hash", "tree_size", "proof")


def export_rows(session: Session, filters: Mapping[str, Any], size: int, *, chunk: int = 1000) -> Iterator:
    """Entries matching `filters` with index < size, in index order, streamed from the database."""
    e = entries
    condition = search_condition(filters) & (e.c.index < size)
    query = select(e.c.index, e.c.entry, e.c.leaf_hash).where(condition).order_by(e.c.index)
    result = session.execute(query.execution_options(stream_results=True, yield_per=chunk))
    yield from result


def jsonl_line(index: int, canonical_entry: str, leaf: bytes, proof: dict | None = None) -> str:
    """One export line, RFC 8785 canonical like `verifier.export_line` (keys in code-point order:
    entry, index, leaf_hash, proof), without re-canonicalising the stored canonical entry."""
    line = f'{{"entry":{canonical_entry},"index":{index},"leaf_hash":"{b64(leaf)}"'
    if proof is not None:
        hashes = ",".join(f'"{h}"' for h in proof["hashes"])
        line += f',"proof":{{"hashes":[{hashes}],"leaf_index":{proof["leaf_index"]},"tree_size":{proof["tree_size"]}}}'
    return line + "}\n"


def with_proofs(session: Session, rows: Iterator, size: int, *, chunk: int = 500) -> Iterator[tuple[Any, dict]]:
    """Pair each row with its inclusion proof at `size`, fetching the nodes of `chunk` proofs in one query."""
    store = CachedNodeStore(LogRepository(session).nodes)
    batch: list = []

    def flush():
        store.cache.clear()
        store.prefetch(k for r in batch for k in inclusion_proof_keys(r.index, size))
        for r in batch:
            yield r, {"leaf_index": r.index, "tree_size": size,
                      "hashes": [b64(h) for h in inclusion_proof(store, r.index, size)]}
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            yield from flush()
    if batch:
        yield from flush()


def _csv_safe(value: Any) -> str:
    """Spreadsheet-safe text: a cell starting with = + - @ (or a tab/CR) would be run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_header() -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(CSV_COLUMNS)
    return buf.getvalue()


def csv_line(row, proof: dict | None) -> str:
    entry = json.loads(row.entry)
    actor, resource = entry.get("actor") or {}, entry.get("resource") or {}
    values = (row.index, entry.get("event_id"), entry.get("time"), actor.get("subject"), actor.get("organisation"),
              " ".join(actor.get("roles") or []), actor.get("client"), entry.get("action"), resource.get("type"),
              resource.get("id"), entry.get("case_id"), entry.get("outcome"), entry.get("reason"), entry.get("purpose"),
              entry.get("service"), entry.get("trace_id"), entry.get("event_type"), b64(row.leaf_hash),
              proof["tree_size"] if proof else "", " ".join(proof["hashes"]) if proof else "")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_csv_safe(v) for v in values])
    return buf.getvalue()
