"""THE policy module of the notify service: which inbox entries a caller may see and which webhook
endpoints a caller may administer. Every decision is a `Decision` (allowed or not, with a reason code)
that the entrypoints record as an access event.

- A person sees only their own entries (addressed to their subject id, while they still belong to the
  office they were addressed as a member of) and their organisation's entries meant for one of their
  roles. Nobody, whatever their role, reads another person's inbox.
- Webhook endpoints belong to an organisation; only that organisation's integration client or its
  supervisors / government officials (settings: webhook_admin_roles) administer them.
"""
from __future__ import annotations

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from careroute_platform.access import Decision
from careroute_platform.auth import Principal

from .adapters.orm import notifications

OWN_ENTRY = Decision(True, "own-inbox")
ORGANISATION_ENTRY = Decision(True, "own-organisation")
NOT_RECIPIENT = Decision(False, "not-recipient")


def inbox_scope(principal: Principal) -> ColumnElement[bool]:
    """SQL condition selecting exactly the entries `principal` may see."""
    n = notifications.c
    own = n.subject == principal.subject
    organisation = principal.organisation
    if organisation is None:
        # Without an organisation a caller sees only personal entries not tied to an office.
        return and_(own, n.organisation.is_(None))
    own = and_(own, or_(n.organisation.is_(None), n.organisation == organisation))
    roles = sorted(principal.roles)
    if not roles:
        return own
    for_my_roles = and_(n.subject.is_(None), n.organisation == organisation, n.audience_roles.overlap(roles))
    return or_(own, for_my_roles)


def can_see(principal: Principal, entry) -> Decision:
    """The same rule as `inbox_scope`, for one loaded entry."""
    if entry.subject is not None:
        if entry.subject == principal.subject and entry.organisation in (None, principal.organisation):
            return OWN_ENTRY
        return NOT_RECIPIENT
    if entry.organisation == principal.organisation and principal.roles.intersection(entry.audience_roles or []):
        return ORGANISATION_ENTRY
    return NOT_RECIPIENT


def can_administer_webhooks(principal: Principal, admin_roles: list[str]) -> Decision:
    if principal.organisation is None:
        return Decision(False, "no-organisation")
    if not principal.has_role(*admin_roles):
        return Decision(False, "role-missing")
    return Decision(True, "own-organisation")


def can_manage_endpoint(principal: Principal, endpoint, admin_roles: list[str]) -> Decision:
    decision = can_administer_webhooks(principal, admin_roles)
    if not decision:
        return decision
    if endpoint is None or endpoint.organisation != principal.organisation:
        return Decision(False, "other-organisation")
    return decision
