"""The vocabularies every service shares (docs/events.md): service types, consent data categories
and referral priorities, with their Spanish and English labels. One definition, so that the codes
in events and the words people read are the same everywhere."""
from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class ServiceType(StrEnum):
    HEALTH_CMR = "health_cmr"
    PSYCHOSOCIAL = "psychosocial"
    LEGAL_AID = "legal_aid"
    SAFE_SHELTER = "safe_shelter"
    PROTECTION_MEASURES = "protection_measures"
    POLICE_JUSTICE = "police_justice"
    LIVELIHOODS = "livelihoods"
    DOCUMENTATION_MIGRATION = "documentation_migration"


class DataCategory(StrEnum):
    IDENTITY = "identity"
    CONTACT_DETAILS = "contact_details"
    INCIDENT_SUMMARY = "incident_summary"
    HEALTH_NEEDS = "health_needs"
    PROTECTION_NEEDS = "protection_needs"
    PSYCHOSOCIAL_NEEDS = "psychosocial_needs"
    LEGAL_NEEDS = "legal_needs"


class Priority(StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    NORMAL = "normal"

    @property
    def response_window(self) -> timedelta:
        return RESPONSE_WINDOWS[self]


RESPONSE_WINDOWS = {
    Priority.EMERGENCY: timedelta(hours=24),
    Priority.URGENT: timedelta(hours=72),
    Priority.NORMAL: timedelta(days=14),
}

SHARED_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "service_type": {
        "health_cmr": {"es": "Salud / manejo clínico de la violación", "en": "Health / clinical management of rape"},
        "psychosocial": {"es": "Atención psicosocial", "en": "Psychosocial support"},
        "legal_aid": {"es": "Asesoría legal", "en": "Legal aid"},
        "safe_shelter": {"es": "Casa de acogida", "en": "Safe shelter"},
        "protection_measures": {"es": "Medidas de protección (boleta de auxilio)",
                                "en": "Protection measures (boleta de auxilio)"},
        "police_justice": {"es": "Policía / justicia", "en": "Police / justice"},
        "livelihoods": {"es": "Medios de vida", "en": "Livelihoods"},
        "documentation_migration": {"es": "Documentación / situación migratoria",
                                    "en": "Documentation / migration status"},
    },
    "data_category": {
        "identity": {"es": "Identidad", "en": "Identity"},
        "contact_details": {"es": "Datos de contacto", "en": "Contact details"},
        "incident_summary": {"es": "Resumen del incidente", "en": "Incident summary"},
        "health_needs": {"es": "Necesidades de salud", "en": "Health needs"},
        "protection_needs": {"es": "Necesidades de protección", "en": "Protection needs"},
        "psychosocial_needs": {"es": "Necesidades psicosociales", "en": "Psychosocial needs"},
        "legal_needs": {"es": "Necesidades legales", "en": "Legal needs"},
    },
    "priority": {
        "emergency": {"es": "Emergencia (respuesta en 24 h)", "en": "Emergency (answer within 24 h)"},
        "urgent": {"es": "Urgente (respuesta en 72 h)", "en": "Urgent (answer within 72 h)"},
        "normal": {"es": "Normal (respuesta en 14 días)", "en": "Normal (answer within 14 days)"},
    },
}
