"""PostgreSQL adapters for the log: the Merkle node store (one query per read, one statement per
write) and the repository of entries, tree head, checkpoints and cosignatures."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, true, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from ..domain.entry import LogEntry
from ..domain.merkle import Node, NodeKey
from .orm import anomalies, checkpoint_cosignatures, checkpoints, entries, tree_head, tree_nodes


class PgNodeStore:
    """NodeStore over `tree_nodes`. Reads see the session's own uncommitted writes."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.reads = 0

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        if not keys:
            return {}
        self.reads += 1
        t = tree_nodes
        rows = self.session.execute(
            select(t.c.level, t.c.index, t.c.hash).where(tuple_(t.c.level, t.c.index).in_(list(keys))))
        return {(row.level, row.index): bytes(row.hash) for row in rows}

    def put_many(self, nodes: Iterable[Node]) -> None:
        rows = [{"level": level, "index": index, "hash": value} for (level, index), value in nodes]
        if rows:
            self.session.execute(insert(tree_nodes), rows)


class CachedNodeStore:
    """Answers many proofs with one query: `prefetch` the keys of all of them first."""

    def __init__(self, inner: PgNodeStore) -> None:
        self.inner = inner
        self.cache: dict[NodeKey, bytes] = {}

    def prefetch(self, keys: Iterable[NodeKey]) -> None:
        wanted = [k for k in dict.fromkeys(keys) if k not in self.cache]
        for start in range(0, len(wanted), 5000):
            self.cache.update(self.inner.get_many(wanted[start:start + 5000]))

    def get_many(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        missing = [k for k in keys if k not in self.cache]
        if missing:
            self.cache.update(self.inner.get_many(missing))
        return {k: self.cache[k] for k in keys if k in self.cache}


class LogRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.nodes = PgNodeStore(session)

    # -- the head ---------------------------------------------------------------------------------
    def lock_head(self) -> int:
        """The committed size, with the head row locked until the transaction ends: appends by
        several consumer replicas are serialised here, so the tree always has one right edge."""
        return self.session.execute(select(tree_head.c.size).where(tree_head.c.id == 1).with_for_update()).scalar_one()

    def size(self) -> int:
        return self.session.execute(select(tree_head.c.size).where(tree_head.c.id == 1)).scalar_one()

    def set_size(self, size: int) -> None:
        self.session.execute(update(tree_head).where(tree_head.c.id == 1).values(size=size, updated_at=func.now()))

    # -- entries ----------------------------------------------------------------------------------
    def existing_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        rows = self.session.execute(select(entries.c.event_id).where(entries.c.event_id.in_(list(event_ids))))
        return {r[0] for r in rows}

    def insert_entries(self, start: int, items: Sequence[LogEntry]) -> None:
        rows = []
        for offset, item in enumerate(items):
            row = item.columns()
            row.update({"index": start + offset, "entry": item.canonical.decode("utf-8"), "leaf_hash": item.leaf_hash})
            rows.append(row)
        if rows:
            self.session.execute(insert(entries), rows)

    def entry(self, index: int):
        return self.session.execute(select(entries).where(entries.c.index == index)).first()

    def entry_by_event(self, event_id: str):
        return self.session.execute(select(entries).where(entries.c.event_id == event_id)).first()

    def search(self, filters: Mapping[str, Any], *, limit: int, offset: int, descending: bool = False):
        condition = search_condition(filters)
        total = self.session.execute(select(func.count()).select_from(entries).where(condition)).scalar_one()
        order = entries.c.index.desc() if descending else entries.c.index
        rows = self.session.execute(select(entries).where(condition).order_by(order).limit(limit).offset(offset)).all()
        return total, rows

    def count(self, filters: Mapping[str, Any]) -> int:
        return self.session.execute(select(func.count()).select_from(entries).where(search_condition(filters))).scalar_one()

    def accesses_since(self, subjects: Sequence[str], since: datetime, until: datetime):
        e = entries
        return self.session.execute(
            select(e.c.index, e.c.actor_subject, e.c.actor_organisation, e.c.occurred_at, e.c.action,
                   e.c.resource_type, e.c.resource_id, e.c.outcome)
            .where(e.c.event_type == "org.iom.careroute.access.recorded.v1",
                   e.c.actor_subject.in_(list(subjects)), e.c.occurred_at > since, e.c.occurred_at <= until)
        ).all()

    # -- anomalies --------------------------------------------------------------------------------
    def claim_anomaly(self, *, rule: str, subject: str, window_start: datetime, count: int, event_id: str) -> bool:
        """True when this (rule, subject, window) had not fired yet (and now has)."""
        inserted = self.session.execute(
            pg_insert(anomalies).values(rule=rule, subject=subject, window_start=window_start, count=count,
                                        event_id=event_id)
            .on_conflict_do_nothing().returning(anomalies.c.rule)).first()
        return inserted is not None

    # -- checkpoints ------------------------------------------------------------------------------
    def latest_checkpoint(self):
        return self.session.execute(select(checkpoints).order_by(checkpoints.c.size.desc()).limit(1)).first()

    def checkpoint(self, size: int):
        return self.session.execute(select(checkpoints).where(checkpoints.c.size == size)).first()

    def checkpoints_page(self, *, limit: int, offset: int):
        total = self.session.execute(select(func.count()).select_from(checkpoints)).scalar_one()
        rows = self.session.execute(select(checkpoints).order_by(checkpoints.c.size.desc())
                                    .limit(limit).offset(offset)).all()
        return total, rows

    def insert_checkpoint(self, *, size: int, root: bytes, note: str, key_name: str, key_id: str) -> bool:
        inserted = self.session.execute(
            pg_insert(checkpoints).values(size=size, root=root, note=note, key_name=key_name, key_id=key_id)
            .on_conflict_do_nothing().returning(checkpoints.c.size)).first()
        return inserted is not None

    def cosignatures(self, sizes: Sequence[int]) -> dict[int, list]:
        if not sizes:
            return {}
        c = checkpoint_cosignatures
        out: dict[int, list] = {}
        for row in self.session.execute(select(c).where(c.c.size.in_(list(sizes)))
                                        .order_by(c.c.size, c.c.submitted_at, c.c.key_name)):
            out.setdefault(row.size, []).append(row)
        return out

    def insert_cosignature(self, *, size: int, key_name: str, key_id: str, line: str, submitted_by: str | None) -> bool:
        c = checkpoint_cosignatures
        inserted = self.session.execute(
            pg_insert(c).values(size=size, key_name=key_name, key_id=key_id, line=line, submitted_by=submitted_by)
            .on_conflict_do_nothing().returning(c.c.size)).first()
        return inserted is not None


def search_condition(filters: Mapping[str, Any]):
    """Filters: subject, organisation, resource_type, resource_id, action, outcome, event_type,
    since, until (event time). Searching a case also finds entries about its referrals, consents
    and incidents (their case_id)."""
    e = entries
    clauses = []
    if filters.get("subject"):
        clauses.append(e.c.actor_subject == filters["subject"])
    if filters.get("organisation"):
        org = filters["organisation"]
        if filters.get("organisation_prefix"):
            clauses.append(or_(e.c.actor_organisation == org, e.c.actor_organisation.startswith(org.rstrip("/") + "/",
                                                                                                autoescape=True)))
        else:
            clauses.append(e.c.actor_organisation == org)
    resource_type, resource_id = filters.get("resource_type"), filters.get("resource_id")
    if resource_type == "case" and resource_id:
        clauses.append(or_(and_(e.c.resource_type == "case", e.c.resource_id == resource_id), e.c.case_id == resource_id))
    else:
        if resource_type:
            clauses.append(e.c.resource_type == resource_type)
        if resource_id:
            clauses.append(e.c.resource_id == resource_id)
    for name, column in (("action", e.c.action), ("outcome", e.c.outcome), ("event_type", e.c.event_type),
                         ("service", e.c.source_service)):
        if filters.get(name):
            clauses.append(column == filters[name])
    if filters.get("before_index") is not None:
        clauses.append(e.c.index < filters["before_index"])
    if filters.get("since"):
        clauses.append(e.c.occurred_at >= filters["since"])
    if filters.get("until"):
        clauses.append(e.c.occurred_at < filters["until"])
    return and_(true(), *clauses)
