"""The shared vocabularies (docs/events.md) and this service's own codes, with Spanish and
English labels. Codes travel in events and APIs; labels are for people."""
from __future__ import annotations

from enum import StrEnum

from careroute_platform.vocabulary import (  # noqa: F401 - re-exported for this service
    RESPONSE_WINDOWS, SHARED_LABELS, DataCategory, Priority, ServiceType)


class ReferralStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    REVOKED = "revoked"
    COMPLETED = "completed"
    CLOSED = "closed"


OPEN_STATUSES = frozenset({ReferralStatus.PENDING, ReferralStatus.ACCEPTED})


class OrganisationKind(StrEnum):
    GOVERNMENT = "government"
    IOM = "iom"
    CIVIL_SOCIETY = "civil-society"


class OrganisationStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class ServiceStatus(StrEnum):
    AVAILABLE = "available"
    AT_CAPACITY = "at_capacity"
    SUSPENDED = "suspended"


class CostKind(StrEnum):
    FREE = "free"
    FEE = "fee"
    SLIDING_SCALE = "sliding_scale"


class DeclineReason(StrEnum):
    NO_CAPACITY = "no_capacity"
    OUTSIDE_MANDATE = "outside_mandate"
    ELIGIBILITY_NOT_MET = "eligibility_not_met"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    DUPLICATE_REFERRAL = "duplicate_referral"
    ALREADY_SERVED = "already_served"
    OTHER = "other"


class RevokeReason(StrEnum):
    # chosen by the referring side
    SURVIVOR_REQUEST = "survivor_request"
    NEED_RESOLVED = "need_resolved"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    ENTERED_IN_ERROR = "entered_in_error"
    OTHER = "other"
    # set by the system only
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_EXPIRED = "consent_expired"
    CASE_ERASED = "case_erased"


SYSTEM_REVOKE_REASONS = frozenset({RevokeReason.CONSENT_WITHDRAWN, RevokeReason.CONSENT_EXPIRED,
                                   RevokeReason.CASE_ERASED})


class CloseReason(StrEnum):
    SURVIVOR_DID_NOT_ATTEND = "survivor_did_not_attend"
    SURVIVOR_UNREACHABLE = "survivor_unreachable"
    SURVIVOR_DECLINED_SERVICE = "survivor_declined_service"
    SERVICE_UNAVAILABLE = "service_unavailable"
    REFERRED_ONWARD = "referred_onward"
    OTHER = "other"


class OutcomeCode(StrEnum):
    NEEDS_MET = "needs_met"
    NEEDS_PARTIALLY_MET = "needs_partially_met"
    ONGOING_CARE = "ongoing_care"
    REFERRED_ONWARD = "referred_onward"


class OverrideKind(StrEnum):
    CONSENT = "consent"
    ELIGIBILITY = "eligibility"
    SERVICE_AT_CAPACITY = "service_at_capacity"
    SERVICE_SUSPENDED = "service_suspended"


class LegalBasis(StrEnum):
    """Grounds on which Ecuadorian law allows a referral without the survivor's consent: the state's
    duty to protect a child or adolescent (Código de la Niñez y Adolescencia; LOIPEVM art. 3) and an
    imminent risk to life or integrity."""
    CHILD_PROTECTION = "child_protection"
    IMMINENT_RISK = "imminent_risk"


# The consent category that corresponds to each service type's needs: it decides whether the
# receiver may see the referral's reason (see policy.field_access).
NEEDS_CATEGORY = {
    ServiceType.HEALTH_CMR: DataCategory.HEALTH_NEEDS,
    ServiceType.PSYCHOSOCIAL: DataCategory.PSYCHOSOCIAL_NEEDS,
    ServiceType.LEGAL_AID: DataCategory.LEGAL_NEEDS,
    ServiceType.DOCUMENTATION_MIGRATION: DataCategory.LEGAL_NEEDS,
    ServiceType.POLICE_JUSTICE: DataCategory.LEGAL_NEEDS,
    ServiceType.SAFE_SHELTER: DataCategory.PROTECTION_NEEDS,
    ServiceType.PROTECTION_MEASURES: DataCategory.PROTECTION_NEEDS,
    ServiceType.LIVELIHOODS: DataCategory.PROTECTION_NEEDS,
}

LABELS: dict[str, dict[str, dict[str, str]]] = {
    **SHARED_LABELS,
    "referral_status": {
        "pending": {"es": "Pendiente", "en": "Pending"},
        "accepted": {"es": "Aceptada", "en": "Accepted"},
        "declined": {"es": "Rechazada", "en": "Declined"},
        "expired": {"es": "Vencida sin respuesta", "en": "Expired without answer"},
        "revoked": {"es": "Anulada", "en": "Revoked"},
        "completed": {"es": "Completada (contrarreferencia)", "en": "Completed (counter-referral)"},
        "closed": {"es": "Cerrada sin servicio", "en": "Closed without service"},
    },
    "service_status": {
        "available": {"es": "Disponible", "en": "Available"},
        "at_capacity": {"es": "Sin cupo", "en": "At capacity"},
        "suspended": {"es": "Suspendido", "en": "Suspended"},
    },
    "decline_reason": {
        "no_capacity": {"es": "Sin cupo", "en": "No capacity"},
        "outside_mandate": {"es": "Fuera de nuestro mandato", "en": "Outside our mandate"},
        "eligibility_not_met": {"es": "No cumple los criterios", "en": "Eligibility not met"},
        "insufficient_information": {"es": "Información insuficiente", "en": "Insufficient information"},
        "duplicate_referral": {"es": "Referencia duplicada", "en": "Duplicate referral"},
        "already_served": {"es": "Ya recibe el servicio", "en": "Already receiving the service"},
        "other": {"es": "Otro motivo", "en": "Other reason"},
    },
    "revoke_reason": {
        "survivor_request": {"es": "A pedido de la sobreviviente", "en": "At the survivor's request"},
        "need_resolved": {"es": "La necesidad ya se resolvió", "en": "The need was resolved"},
        "referred_elsewhere": {"es": "Referida a otro servicio", "en": "Referred elsewhere"},
        "entered_in_error": {"es": "Registrada por error", "en": "Entered in error"},
        "other": {"es": "Otro motivo", "en": "Other reason"},
        "consent_withdrawn": {"es": "Consentimiento retirado", "en": "Consent withdrawn"},
        "consent_expired": {"es": "Consentimiento vencido", "en": "Consent expired"},
        "case_erased": {"es": "Caso eliminado", "en": "Case erased"},
    },
    "close_reason": {
        "survivor_did_not_attend": {"es": "La sobreviviente no asistió", "en": "The survivor did not attend"},
        "survivor_unreachable": {"es": "No se pudo contactar", "en": "Could not be reached"},
        "survivor_declined_service": {"es": "La sobreviviente no aceptó el servicio",
                                      "en": "The survivor declined the service"},
        "service_unavailable": {"es": "Servicio no disponible", "en": "Service unavailable"},
        "referred_onward": {"es": "Derivada a otro servicio", "en": "Referred onward"},
        "other": {"es": "Otro motivo", "en": "Other reason"},
    },
    "outcome": {
        "needs_met": {"es": "Necesidades atendidas", "en": "Needs met"},
        "needs_partially_met": {"es": "Necesidades atendidas en parte", "en": "Needs partially met"},
        "ongoing_care": {"es": "Atención en curso", "en": "Ongoing care"},
        "referred_onward": {"es": "Derivada a otro servicio", "en": "Referred onward"},
    },
    "override_kind": {
        "consent": {"es": "Sin consentimiento (base legal)", "en": "Without consent (legal basis)"},
        "eligibility": {"es": "Fuera de los criterios de elegibilidad", "en": "Outside eligibility"},
        "service_at_capacity": {"es": "Servicio sin cupo", "en": "Service at capacity"},
        "service_suspended": {"es": "Servicio suspendido", "en": "Service suspended"},
    },
    "legal_basis": {
        "child_protection": {"es": "Protección de niñas, niños y adolescentes", "en": "Child protection"},
        "imminent_risk": {"es": "Riesgo inminente para la vida o la integridad", "en": "Imminent risk to life"},
    },
}
