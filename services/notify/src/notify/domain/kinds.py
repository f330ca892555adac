"""Kinds of notification, which of them nobody may switch off, and the vocabularies they show.

A notification says *that* something happened to a referral or case — a reference, a priority, a
deadline and a link — never *what* is in it. Everything rendered comes from these code lists."""
from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    REFERRAL_RECEIVED = "referral_received"
    REFERRAL_ACCEPTED = "referral_accepted"
    REFERRAL_DECLINED = "referral_declined"
    REFERRAL_EXPIRED = "referral_expired"
    REFERRAL_COMPLETED = "referral_completed"
    REFERRAL_REVOKED = "referral_revoked"
    REFERRAL_DEADLINE_APPROACHING = "referral_deadline_approaching"
    REFERRAL_OVERDUE = "referral_overdue"
    CLINICAL_WINDOW_OPENED = "clinical_window_opened"
    POSSIBLE_DUPLICATE = "possible_duplicate"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    ANOMALY_DETECTED = "anomaly_detected"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled"


class Channel(StrEnum):
    INBOX = "inbox"
    EMAIL = "email"
    WEBHOOK = "webhook"


# Emergencies: always delivered on every channel, whatever the recipient's preferences say.
ALWAYS_DELIVERED = frozenset({Kind.REFERRAL_OVERDUE, Kind.CLINICAL_WINDOW_OPENED})
EMERGENCY_PRIORITY = "emergency"
PRIORITIES = ("emergency", "urgent", "normal")


def is_mandatory(kind: Kind | str, priority: str | None) -> bool:
    """An emergency-priority referral, an overdue referral or an open clinical window cannot be muted."""
    return kind in ALWAYS_DELIVERED or priority == EMERGENCY_PRIORITY


def preference_locked(kind: Kind | str) -> bool:
    """A preference for these kinds cannot be switched off at all (422 if tried)."""
    return kind in ALWAYS_DELIVERED


# The event types an institutional system may subscribe its webhook endpoints to.
WEBHOOK_EVENT_TYPES = (
    "referral.created", "referral.accepted", "referral.declined", "referral.expired", "referral.revoked",
    "referral.completed", "referral.closed", "referral.deadline_approaching", "referral.overdue",
    "consent.withdrawn",
)

SERVICE_TYPES = ("health_cmr", "psychosocial", "legal_aid", "safe_shelter", "protection_measures",
                 "police_justice", "livelihoods", "documentation_migration")

LABELS: dict[str, dict[str, dict[str, str]]] = {
    "kind": {
        "referral_received": {"es": "Nueva referencia recibida", "en": "New referral received"},
        "referral_accepted": {"es": "Referencia aceptada", "en": "Referral accepted"},
        "referral_declined": {"es": "Referencia rechazada", "en": "Referral declined"},
        "referral_expired": {"es": "Referencia vencida sin respuesta", "en": "Referral expired without response"},
        "referral_completed": {"es": "Referencia completada (contrarreferencia)",
                               "en": "Referral completed (counter-referral)"},
        "referral_revoked": {"es": "Referencia revocada", "en": "Referral revoked"},
        "referral_deadline_approaching": {"es": "Plazo de respuesta por vencer", "en": "Response deadline approaching"},
        "referral_overdue": {"es": "Referencia sin respuesta en plazo", "en": "Referral overdue"},
        "clinical_window_opened": {"es": "Ventana clínica abierta (PEP / anticoncepción de emergencia)",
                                   "en": "Clinical window open (PEP / emergency contraception)"},
        "possible_duplicate": {"es": "Posible caso duplicado", "en": "Possible duplicate case"},
        "consent_withdrawn": {"es": "Consentimiento retirado", "en": "Consent withdrawn"},
        "anomaly_detected": {"es": "Anomalía de acceso detectada", "en": "Access anomaly detected"},
        "webhook_endpoint_disabled": {"es": "Webhook desactivado", "en": "Webhook endpoint disabled"},
    },
    "priority": {
        "emergency": {"es": "emergencia (24 h)", "en": "emergency (24 h)"},
        "urgent": {"es": "urgente (72 h)", "en": "urgent (72 h)"},
        "normal": {"es": "normal (14 días)", "en": "normal (14 days)"},
    },
    "service_type": {
        "health_cmr": {"es": "salud / manejo clínico de la violación", "en": "health / clinical management of rape"},
        "psychosocial": {"es": "apoyo psicosocial", "en": "psychosocial support"},
        "legal_aid": {"es": "asesoría legal", "en": "legal aid"},
        "safe_shelter": {"es": "casa de acogida", "en": "safe shelter"},
        "protection_measures": {"es": "medidas de protección", "en": "protection measures"},
        "police_justice": {"es": "policía / justicia", "en": "police / justice"},
        "livelihoods": {"es": "medios de vida", "en": "livelihoods"},
        "documentation_migration": {"es": "documentación / estatus migratorio",
                                    "en": "documentation / migration status"},
    },
    "reason_code": {
        "no_capacity": {"es": "sin cupo", "en": "no capacity"},
        "outside_mandate": {"es": "fuera del mandato", "en": "outside the mandate"},
        "eligibility_not_met": {"es": "no cumple los criterios", "en": "eligibility criteria not met"},
        "insufficient_information": {"es": "información insuficiente", "en": "insufficient information"},
        "duplicate_referral": {"es": "referencia duplicada", "en": "duplicate referral"},
        "already_served": {"es": "ya atendida", "en": "already served"},
        "survivor_request": {"es": "a pedido de la sobreviviente", "en": "at the survivor's request"},
        "need_resolved": {"es": "necesidad resuelta", "en": "need resolved"},
        "referred_elsewhere": {"es": "referida a otro servicio", "en": "referred elsewhere"},
        "entered_in_error": {"es": "registrada por error", "en": "entered in error"},
        "consent_withdrawn": {"es": "consentimiento retirado", "en": "consent withdrawn"},
        "consent_expired": {"es": "consentimiento vencido", "en": "consent expired"},
        "case_erased": {"es": "caso eliminado", "en": "case erased"},
        "other": {"es": "otro", "en": "other"},
    },
    "outcome_code": {
        "needs_met": {"es": "necesidades cubiertas", "en": "needs met"},
        "needs_partially_met": {"es": "necesidades cubiertas en parte", "en": "needs partially met"},
        "ongoing_care": {"es": "atención en curso", "en": "ongoing care"},
        "referred_onward": {"es": "referida a otro servicio", "en": "referred onward"},
    },
}


def label(vocabulary: str, code: str | None, locale: str) -> str:
    """The label of a code in the locale; an unknown code is shown as the code itself (codes are safe)."""
    if code is None:
        return ""
    entry = LABELS.get(vocabulary, {}).get(code)
    if not entry:
        return code
    return entry.get(locale) or entry.get("es") or code
