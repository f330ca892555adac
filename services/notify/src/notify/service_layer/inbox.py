"""The in-app inbox and notification preferences: queries and use cases, scoped by the policy module."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import and_, func, literal, not_, select
from sqlalchemy.dialects.postgresql import insert

from careroute_platform.auth import Principal
from careroute_platform.problems import Problem

from ..adapters.orm import notification_reads, notifications, preferences
from ..domain.kinds import Kind, preference_locked
from ..policy import inbox_scope

n = notifications.c
r = notification_reads.c


def muted_inbox_kinds(session, subject: str) -> list[str]:
    p = preferences.c
    return list(session.execute(select(p.kind).where(p.subject == subject, p.inbox.is_(False))).scalars())


def visible(session, principal: Principal):
    """The caller's entries, minus kinds they muted in the inbox (mandatory entries always show)."""
    condition = inbox_scope(principal)
    muted = muted_inbox_kinds(session, principal.subject)
    if muted:
        condition = and_(condition, not_(and_(n.kind.in_(muted), n.mandatory.is_(False))))
    return condition


def _read_join(principal: Principal):
    return notifications.outerjoin(notification_reads, and_(r.notification_id == n.id, r.subject == principal.subject))


def _columns():
    return (n.id, n.seq, n.kind, n.subject, n.organisation, n.audience_roles, n.case_id, n.referral_id, n.priority,
            n.mandatory, n.reference, n.link_path, n.deadline, n.params, n.created_at, r.read_at)


def list_entries(session, principal: Principal, *, limit: int, offset: int, unread_only: bool = False,
                 kind: str | None = None) -> tuple[list, int]:
    condition = visible(session, principal)
    if unread_only:
        condition = and_(condition, r.read_at.is_(None))
    if kind:
        condition = and_(condition, n.kind == kind)
    base = select(*_columns()).select_from(_read_join(principal)).where(condition)
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(base.order_by(n.seq.desc()).limit(limit).offset(offset)).all()
    return rows, total


def entries_after(session, principal: Principal, seq: int, limit: int = 50) -> list:
    condition = and_(visible(session, principal), n.seq > seq)
    return session.execute(select(*_columns()).select_from(_read_join(principal)).where(condition)
                           .order_by(n.seq).limit(limit)).all()


def latest_seq(session, principal: Principal) -> int:
    return session.execute(select(func.coalesce(func.max(n.seq), 0)).where(visible(session, principal))).scalar_one()


def unread_count(session, principal: Principal) -> int:
    return session.execute(select(func.count()).select_from(_read_join(principal))
                           .where(visible(session, principal), r.read_at.is_(None))).scalar_one()


def load(session, principal: Principal, notification_id: str):
    """The entry with the caller's read mark, whoever it belongs to (the policy decides afterwards)."""
    return session.execute(select(*_columns()).select_from(_read_join(principal))
                           .where(n.id == notification_id)).first()


def mark_read(session, principal: Principal, notification_id: str, now: datetime | None = None) -> None:
    session.execute(insert(notification_reads).values(notification_id=notification_id, subject=principal.subject,
                                                      read_at=now or datetime.now(timezone.utc))
                    .on_conflict_do_nothing())


def mark_all_read(session, principal: Principal, now: datetime | None = None) -> int:
    unread = (select(n.id, literal(principal.subject), literal(now or datetime.now(timezone.utc)))
              .select_from(_read_join(principal))
              .where(visible(session, principal), r.read_at.is_(None)))
    marked = session.execute(insert(notification_reads).from_select(["notification_id", "subject", "read_at"], unread)
                             .on_conflict_do_nothing().returning(r.notification_id)).all()
    return len(marked)


# -- preferences --------------------------------------------------------------------------------------
def get_preferences(session, subject: str) -> list[dict]:
    p = preferences.c
    stored = {row.kind: row for row in session.execute(select(preferences).where(p.subject == subject))}
    out = []
    for kind in Kind:
        row = stored.get(kind.value)
        out.append({"kind": kind.value, "inbox": True if row is None else row.inbox,
                    "email": True if row is None else row.email, "locked": preference_locked(kind),
                    "emergencies_always_delivered": True})
    return out


def set_preference(session, subject: str, kind: str, *, inbox: bool, email: bool,
                   now: datetime | None = None) -> dict:
    if kind not in {k.value for k in Kind}:
        raise Problem(404, detail={"es": "Tipo de aviso desconocido.", "en": "Unknown kind of notification."})
    if preference_locked(kind) and not (inbox and email):
        raise Problem(422, "notification-preference-locked", detail={
            "es": "Los avisos de emergencia (referencias vencidas y ventanas clínicas) no pueden desactivarse.",
            "en": "Emergency notices (overdue referrals and clinical windows) cannot be switched off."})
    stmt = insert(preferences).values(subject=subject, kind=kind, inbox=inbox, email=email,
                                      updated_at=now or datetime.now(timezone.utc))
    session.execute(stmt.on_conflict_do_update(index_elements=["subject", "kind"],
                                               set_={"inbox": stmt.excluded.inbox, "email": stmt.excluded.email,
                                                     "updated_at": stmt.excluded.updated_at}))
    return {"kind": kind, "inbox": inbox, "email": email, "locked": preference_locked(kind),
            "emergencies_always_delivered": True}
