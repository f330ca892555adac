"""Consent scope: does what the survivor agreed to cover what a referral would share?

A consent names either a receiving organisation (exact group path: consent to the MSP does not
stretch to every MSP unit unless the survivor said so) or a service type, a set of data
categories and an optional expiry. A withdrawal removes categories from a consent for good: the
projection keeps what was withdrawn, so a grant that arrives late cannot bring them back."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ConsentGrant:
    consent_id: str
    recipient_organisation: str | None
    recipient_service_type: str | None
    granted_categories: frozenset[str]
    withdrawn_categories: frozenset[str] = frozenset()
    expires_at: datetime | None = None
    granted: bool = True  # False while only a withdrawal has been seen

    @property
    def categories(self) -> frozenset[str]:
        if not self.granted:
            return frozenset()
        return self.granted_categories - self.withdrawn_categories

    def active_at(self, moment: datetime) -> bool:
        return self.granted and bool(self.categories) and (self.expires_at is None or moment < self.expires_at)

    def applies_to(self, organisation: str, service_type: str) -> bool:
        if self.recipient_organisation is not None:
            return self.recipient_organisation == organisation
        return self.recipient_service_type == service_type


@dataclass(frozen=True)
class ConsentCoverage:
    requested: frozenset[str]
    covered: frozenset[str]
    consent_ids: tuple[str, ...] = field(default=())
    # the earliest expiry among the consents relied on: after it the coverage must be re-checked
    expires_at: datetime | None = None

    @property
    def missing(self) -> frozenset[str]:
        return self.requested - self.covered

    @property
    def complete(self) -> bool:
        return not self.missing


def coverage(grants: list[ConsentGrant], *, organisation: str, service_type: str,
             categories: set[str] | frozenset[str], at: datetime) -> ConsentCoverage:
    """Which of `categories` the survivor's active consents allow sharing with `organisation`
    for `service_type` at the moment `at`."""
    requested = frozenset(categories)
    covered: set[str] = set()
    used: list[ConsentGrant] = []
    for grant in grants:
        if not grant.applies_to(organisation, service_type) or not grant.active_at(at):
            continue
        useful = grant.categories & requested
        if useful:
            covered |= useful
            used.append(grant)
    expiries = [g.expires_at for g in used if g.expires_at is not None]
    return ConsentCoverage(requested, frozenset(covered), tuple(sorted(g.consent_id for g in used)),
                           min(expiries) if expiries else None)
