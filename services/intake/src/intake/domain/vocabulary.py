"""The codes the intake service stores, publishes and accepts, with their Spanish and English labels.

Codes are stable identifiers shared with the other services (docs/events.md); labels are for people
and may change. Nothing here is free text: every value that leaves the service is one of these codes."""
from __future__ import annotations

from enum import StrEnum

from careroute_platform.vocabulary import SHARED_LABELS, DataCategory, ServiceType  # noqa: F401 - re-exported


class Labelled(StrEnum):
    """A vocabulary whose members carry {"es": ..., "en": ...} labels in `LABELS`."""


class RiskLevel(Labelled):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class CaseStatus(Labelled):
    OPEN = "open"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    ERASED = "erased"


class ClosureReason(Labelled):
    NEEDS_MET = "needs_met"
    SURVIVOR_REQUEST = "survivor_request"
    SURVIVOR_RELOCATED = "survivor_relocated"
    LOST_CONTACT = "lost_contact"
    REFERRED_EXTERNALLY = "referred_externally"
    SURVIVOR_DECEASED = "survivor_deceased"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    OTHER = "other"


class GbvimsType(Labelled):
    """GBVIMS core types, chosen by elimination in this order (the order of the members)."""
    RAPE = "rape"
    SEXUAL_ASSAULT = "sexual_assault"
    PHYSICAL_ASSAULT = "physical_assault"
    FORCED_MARRIAGE = "forced_marriage"
    DENIAL_OF_RESOURCES = "denial_of_resources"
    PSYCHOLOGICAL_ABUSE = "psychological_abuse"


class ContextFlag(Labelled):
    INTIMATE_PARTNER_VIOLENCE = "intimate_partner_violence"
    CHILD_SEXUAL_ABUSE = "child_sexual_abuse"
    EARLY_MARRIAGE = "early_marriage"
    SEXUAL_EXPLOITATION = "sexual_exploitation"
    TRAFFICKING = "trafficking"
    HARMFUL_TRADITIONAL_PRACTICE = "harmful_traditional_practice"


class LegalType(Labelled):
    """Ecuador's LOIPEVM (2018) types of violence."""
    FISICA = "fisica"
    PSICOLOGICA = "psicologica"
    SEXUAL = "sexual"
    ECONOMICA_PATRIMONIAL = "economica_patrimonial"
    SIMBOLICA = "simbolica"
    POLITICA = "politica"
    GINECO_OBSTETRICA = "gineco_obstetrica"


class TimeOfDay(Labelled):
    MORNING = "morning"        # 06:00-12:00
    AFTERNOON = "afternoon"    # 12:00-18:00
    EVENING = "evening"        # 18:00-24:00
    NIGHT = "night"            # 00:00-06:00
    UNKNOWN = "unknown"


class LocationType(Labelled):
    SURVIVOR_HOME = "survivor_home"
    PERPETRATOR_HOME = "perpetrator_home"
    OTHER_HOME = "other_home"
    STREET = "street"
    PUBLIC_TRANSPORT = "public_transport"
    BORDER_CROSSING = "border_crossing"
    IRREGULAR_CROSSING = "irregular_crossing"
    SHELTER = "shelter"
    WORKPLACE = "workplace"
    SCHOOL = "school"
    HEALTH_FACILITY = "health_facility"
    DETENTION = "detention"
    ONLINE = "online"
    OTHER = "other"
    UNKNOWN = "unknown"


class PerpetratorSex(Labelled):
    MALE = "male"
    FEMALE = "female"
    BOTH = "both"
    UNKNOWN = "unknown"


class PerpetratorAgeGroup(Labelled):
    AGE_0_11 = "0_11"
    AGE_12_17 = "12_17"
    AGE_18_25 = "18_25"
    AGE_26_40 = "26_40"
    AGE_41_60 = "41_60"
    AGE_61_PLUS = "61_plus"
    UNKNOWN = "unknown"


class PerpetratorRelationship(Labelled):
    INTIMATE_PARTNER = "intimate_partner"
    FORMER_PARTNER = "former_partner"
    PRIMARY_CAREGIVER = "primary_caregiver"
    FAMILY_MEMBER = "family_member"
    FRIEND_NEIGHBOUR = "friend_neighbour"
    EMPLOYER_SUPERVISOR = "employer_supervisor"
    TEACHER_SCHOOL_OFFICIAL = "teacher_school_official"
    SERVICE_PROVIDER = "service_provider"
    HOUSEMATE_LANDLORD = "housemate_landlord"
    AUTHORITY_OFFICIAL = "authority_official"
    ARMED_GROUP_MEMBER = "armed_group_member"
    SMUGGLER_TRAFFICKER = "smuggler_trafficker"
    OTHER_COMMUNITY_MEMBER = "other_community_member"
    NO_RELATION = "no_relation"
    UNKNOWN = "unknown"


class ReportedTo(Labelled):
    POLICE = "police"
    FISCALIA = "fiscalia"
    HEALTH_SERVICE = "health_service"
    JUNTA_CANTONAL = "junta_cantonal"
    OTHER_ORGANISATION = "other_organisation"
    NOT_REPORTED = "not_reported"


class Sex(Labelled):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"


class GenderIdentity(Labelled):
    WOMAN = "woman"
    MAN = "man"
    TRANS_WOMAN = "trans_woman"
    TRANS_MAN = "trans_man"
    NON_BINARY = "non_binary"
    OTHER = "other"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


class AgeBand(Labelled):
    """GBVIMS age groups (survivor's age at registration)."""
    AGE_0_11 = "0_11"
    AGE_12_17 = "12_17"
    AGE_18_25 = "18_25"
    AGE_26_40 = "26_40"
    AGE_41_60 = "41_60"
    AGE_61_PLUS = "61_plus"


class Ethnicity(Labelled):
    """Self-identification, following the categories of Ecuador's census."""
    MESTIZA = "mestiza"
    INDIGENA = "indigena"
    AFRODESCENDIENTE = "afrodescendiente"
    MONTUBIA = "montubia"
    BLANCA = "blanca"
    OTHER = "other"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


class MobilityStatus(Labelled):
    REFUGEE = "refugee"
    ASYLUM_SEEKER = "asylum_seeker"
    MIGRANT_IN_TRANSIT = "migrant_in_transit"
    REGULAR_MIGRANT = "regular_migrant"
    IRREGULAR_MIGRANT = "irregular_migrant"
    RETURNEE = "returnee"
    HOST_COMMUNITY = "host_community"


class Disability(Labelled):
    PHYSICAL = "physical"
    VISUAL = "visual"
    HEARING = "hearing"
    SPEECH = "speech"
    INTELLECTUAL = "intellectual"
    PSYCHOSOCIAL = "psychosocial"
    OTHER = "other"


class DocumentType(Labelled):
    CEDULA_ECUADOR = "cedula_ecuador"
    CEDULA_VENEZUELA = "cedula_venezuela"
    CEDULA_COLOMBIA = "cedula_colombia"
    PASSPORT = "passport"
    REFUGEE_ID = "refugee_id"
    VISA_OR_PERMIT = "visa_or_permit"
    BIRTH_CERTIFICATE = "birth_certificate"
    OTHER = "other"


class ConsentGiver(Labelled):
    SURVIVOR = "survivor"        # an adult survivor
    ADOLESCENT = "adolescent"    # 15-17, consenting herself (LOPDP)
    CAREGIVER = "caregiver"      # for a child, with the child's assent


class CaregiverRelationship(Labelled):
    MOTHER = "mother"
    FATHER = "father"
    GRANDPARENT = "grandparent"
    OTHER_RELATIVE = "other_relative"
    LEGAL_GUARDIAN = "legal_guardian"
    FOSTER_CARER = "foster_carer"
    OTHER = "other"


class ConsentPurpose(Labelled):
    REGISTRATION = "registration"
    SHARING = "sharing"
    TRANSFER = "transfer"


class NoteType(Labelled):
    FOLLOW_UP = "follow_up"
    CONTACT_ATTEMPT = "contact_attempt"
    SERVICE_DELIVERY = "service_delivery"
    SAFETY = "safety"
    OTHER = "other"


class AccessPurpose(Labelled):
    """Why a member of staff opens a survivor's identity: recorded in the audit log (codes only)."""
    CASE_MANAGEMENT = "case_management"
    CONTACT_SURVIVOR = "contact_survivor"
    SERVICE_COORDINATION = "service_coordination"
    SAFETY_PLANNING = "safety_planning"
    DATA_SUBJECT_REQUEST = "data_subject_request"
    LEGAL_OBLIGATION = "legal_obligation"


class TransferReason(Labelled):
    SURVIVOR_RELOCATING = "survivor_relocating"
    SPECIALISED_SERVICES = "specialised_services"
    SAFETY = "safety"
    OTHER = "other"


class TransferDeclineReason(Labelled):
    NO_CAPACITY = "no_capacity"
    OUTSIDE_COVERAGE = "outside_coverage"
    SERVICE_UNAVAILABLE = "service_unavailable"
    OTHER = "other"


class TransferStatus(Labelled):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


class ErasureReason(Labelled):
    DATA_SUBJECT_REQUEST = "data_subject_request"
    REGISTERED_IN_ERROR = "registered_in_error"
    LEGAL_ORDER = "legal_order"


class DuplicateMatch(Labelled):
    NAME_AND_BIRTH_DATE = "name_dob"
    DOCUMENT = "document"


class DuplicateResolution(Labelled):
    NOT_DUPLICATE = "not_duplicate"
    CONFIRMED = "confirmed"


LABELS: dict[str, dict[str, dict[str, str]]] = {
    **{k: v for k, v in SHARED_LABELS.items() if k != "priority"},
    "risk_level": {"high": {"es": "Alto", "en": "High"}, "medium": {"es": "Medio", "en": "Medium"},
                   "low": {"es": "Bajo", "en": "Low"}},
    "case_status": {"open": {"es": "Abierto", "en": "Open"}, "follow_up": {"es": "En seguimiento", "en": "Follow-up"},
                    "closed": {"es": "Cerrado", "en": "Closed"}, "erased": {"es": "Suprimido", "en": "Erased"}},
    "closure_reason": {
        "needs_met": {"es": "Necesidades atendidas", "en": "Needs met"},
        "survivor_request": {"es": "A pedido de la sobreviviente", "en": "At the survivor's request"},
        "survivor_relocated": {"es": "La sobreviviente se trasladó", "en": "Survivor relocated"},
        "lost_contact": {"es": "Sin contacto", "en": "Contact lost"},
        "referred_externally": {"es": "Referida fuera de la ruta", "en": "Referred outside the care route"},
        "survivor_deceased": {"es": "Fallecimiento", "en": "Survivor deceased"},
        "consent_withdrawn": {"es": "Consentimiento retirado", "en": "Consent withdrawn"},
        "other": {"es": "Otro", "en": "Other"},
    },
    "gbvims_type": {
        "rape": {"es": "Violación", "en": "Rape"},
        "sexual_assault": {"es": "Agresión sexual", "en": "Sexual assault"},
        "physical_assault": {"es": "Agresión física", "en": "Physical assault"},
        "forced_marriage": {"es": "Matrimonio forzado", "en": "Forced marriage"},
        "denial_of_resources": {"es": "Negación de recursos, oportunidades o servicios",
                                "en": "Denial of resources, opportunities or services"},
        "psychological_abuse": {"es": "Abuso psicológico / emocional", "en": "Psychological / emotional abuse"},
    },
    "context_flag": {
        "intimate_partner_violence": {"es": "Violencia de pareja", "en": "Intimate partner violence"},
        "child_sexual_abuse": {"es": "Abuso sexual infantil", "en": "Child sexual abuse"},
        "early_marriage": {"es": "Matrimonio infantil", "en": "Early marriage"},
        "sexual_exploitation": {"es": "Explotación sexual", "en": "Sexual exploitation"},
        "trafficking": {"es": "Trata de personas", "en": "Trafficking"},
        "harmful_traditional_practice": {"es": "Práctica tradicional nociva", "en": "Harmful traditional practice"},
    },
    "legal_type": {
        "fisica": {"es": "Física", "en": "Physical"},
        "psicologica": {"es": "Psicológica", "en": "Psychological"},
        "sexual": {"es": "Sexual", "en": "Sexual"},
        "economica_patrimonial": {"es": "Económica y patrimonial", "en": "Economic and patrimonial"},
        "simbolica": {"es": "Simbólica", "en": "Symbolic"},
        "politica": {"es": "Política", "en": "Political"},
        "gineco_obstetrica": {"es": "Gineco-obstétrica", "en": "Gyneco-obstetric"},
    },
    "time_of_day": {
        "morning": {"es": "Mañana (06-12)", "en": "Morning (06-12)"},
        "afternoon": {"es": "Tarde (12-18)", "en": "Afternoon (12-18)"},
        "evening": {"es": "Noche (18-24)", "en": "Evening (18-24)"},
        "night": {"es": "Madrugada (00-06)", "en": "Night (00-06)"},
        "unknown": {"es": "Desconocida", "en": "Unknown"},
    },
    "location_type": {
        "survivor_home": {"es": "Vivienda de la sobreviviente", "en": "Survivor's home"},
        "perpetrator_home": {"es": "Vivienda del agresor", "en": "Perpetrator's home"},
        "other_home": {"es": "Otra vivienda", "en": "Other home"},
        "street": {"es": "Calle / espacio público", "en": "Street / public space"},
        "public_transport": {"es": "Transporte", "en": "Transport"},
        "border_crossing": {"es": "Paso fronterizo oficial", "en": "Official border crossing"},
        "irregular_crossing": {"es": "Paso irregular (trocha)", "en": "Irregular crossing"},
        "shelter": {"es": "Albergue / casa de acogida", "en": "Shelter"},
        "workplace": {"es": "Lugar de trabajo", "en": "Workplace"},
        "school": {"es": "Escuela", "en": "School"},
        "health_facility": {"es": "Servicio de salud", "en": "Health facility"},
        "detention": {"es": "Centro de detención", "en": "Detention"},
        "online": {"es": "En línea", "en": "Online"},
        "other": {"es": "Otro", "en": "Other"},
        "unknown": {"es": "Desconocido", "en": "Unknown"},
    },
    "perpetrator_sex": {"male": {"es": "Hombre", "en": "Male"}, "female": {"es": "Mujer", "en": "Female"},
                        "both": {"es": "Ambos", "en": "Both"}, "unknown": {"es": "Desconocido", "en": "Unknown"}},
    "perpetrator_age_group": {
        "0_11": {"es": "0-11", "en": "0-11"}, "12_17": {"es": "12-17", "en": "12-17"},
        "18_25": {"es": "18-25", "en": "18-25"}, "26_40": {"es": "26-40", "en": "26-40"},
        "41_60": {"es": "41-60", "en": "41-60"}, "61_plus": {"es": "61 o más", "en": "61+"},
        "unknown": {"es": "Desconocida", "en": "Unknown"},
    },
    "perpetrator_relationship": {
        "intimate_partner": {"es": "Pareja", "en": "Intimate partner"},
        "former_partner": {"es": "Expareja", "en": "Former partner"},
        "primary_caregiver": {"es": "Cuidador principal", "en": "Primary caregiver"},
        "family_member": {"es": "Familiar", "en": "Family member"},
        "friend_neighbour": {"es": "Amigo / vecino", "en": "Friend / neighbour"},
        "employer_supervisor": {"es": "Empleador / jefe", "en": "Employer / supervisor"},
        "teacher_school_official": {"es": "Docente / personal escolar", "en": "Teacher / school official"},
        "service_provider": {"es": "Proveedor de servicios", "en": "Service provider"},
        "housemate_landlord": {"es": "Compañero de vivienda / arrendador", "en": "Housemate / landlord"},
        "authority_official": {"es": "Autoridad / funcionario", "en": "Authority / official"},
        "armed_group_member": {"es": "Miembro de grupo armado", "en": "Armed group member"},
        "smuggler_trafficker": {"es": "Coyote / tratante", "en": "Smuggler / trafficker"},
        "other_community_member": {"es": "Otro miembro de la comunidad", "en": "Other community member"},
        "no_relation": {"es": "Sin relación", "en": "No relation"},
        "unknown": {"es": "Desconocida", "en": "Unknown"},
    },
    "reported_to": {
        "police": {"es": "Policía", "en": "Police"}, "fiscalia": {"es": "Fiscalía", "en": "Attorney General's office"},
        "health_service": {"es": "Servicio de salud", "en": "Health service"},
        "junta_cantonal": {"es": "Junta Cantonal de Protección de Derechos", "en": "Cantonal rights protection board"},
        "other_organisation": {"es": "Otra organización", "en": "Other organisation"},
        "not_reported": {"es": "No denunciado", "en": "Not reported"},
    },
    "sex": {"female": {"es": "Mujer", "en": "Female"}, "male": {"es": "Hombre", "en": "Male"},
            "intersex": {"es": "Intersexual", "en": "Intersex"}},
    "gender_identity": {
        "woman": {"es": "Mujer", "en": "Woman"}, "man": {"es": "Hombre", "en": "Man"},
        "trans_woman": {"es": "Mujer trans", "en": "Trans woman"}, "trans_man": {"es": "Hombre trans", "en": "Trans man"},
        "non_binary": {"es": "No binaria", "en": "Non-binary"}, "other": {"es": "Otra", "en": "Other"},
        "prefer_not_to_say": {"es": "Prefiere no decir", "en": "Prefers not to say"},
    },
    "age_band": {
        "0_11": {"es": "0-11", "en": "0-11"}, "12_17": {"es": "12-17", "en": "12-17"},
        "18_25": {"es": "18-25", "en": "18-25"}, "26_40": {"es": "26-40", "en": "26-40"},
        "41_60": {"es": "41-60", "en": "41-60"}, "61_plus": {"es": "61 o más", "en": "61+"},
    },
    "ethnicity": {
        "mestiza": {"es": "Mestiza", "en": "Mestizo"}, "indigena": {"es": "Indígena", "en": "Indigenous"},
        "afrodescendiente": {"es": "Afrodescendiente", "en": "Afro-descendant"},
        "montubia": {"es": "Montubia", "en": "Montubio"}, "blanca": {"es": "Blanca", "en": "White"},
        "other": {"es": "Otra", "en": "Other"}, "prefer_not_to_say": {"es": "Prefiere no decir", "en": "Prefers not to say"},
    },
    "mobility_status": {
        "refugee": {"es": "Refugiada", "en": "Refugee"},
        "asylum_seeker": {"es": "Solicitante de asilo", "en": "Asylum seeker"},
        "migrant_in_transit": {"es": "Migrante en tránsito", "en": "Migrant in transit"},
        "regular_migrant": {"es": "Migrante regular", "en": "Regular migrant"},
        "irregular_migrant": {"es": "Migrante en situación irregular", "en": "Irregular migrant"},
        "returnee": {"es": "Retornada", "en": "Returnee"},
        "host_community": {"es": "Comunidad de acogida", "en": "Host community"},
    },
    "disability": {
        "physical": {"es": "Física", "en": "Physical"}, "visual": {"es": "Visual", "en": "Visual"},
        "hearing": {"es": "Auditiva", "en": "Hearing"}, "speech": {"es": "Del habla", "en": "Speech"},
        "intellectual": {"es": "Intelectual", "en": "Intellectual"},
        "psychosocial": {"es": "Psicosocial", "en": "Psychosocial"}, "other": {"es": "Otra", "en": "Other"},
    },
    "document_type": {
        "cedula_ecuador": {"es": "Cédula ecuatoriana", "en": "Ecuadorian ID card"},
        "cedula_venezuela": {"es": "Cédula venezolana", "en": "Venezuelan ID card"},
        "cedula_colombia": {"es": "Cédula colombiana", "en": "Colombian ID card"},
        "passport": {"es": "Pasaporte", "en": "Passport"},
        "refugee_id": {"es": "Carné de refugiado", "en": "Refugee ID"},
        "visa_or_permit": {"es": "Visa o permiso", "en": "Visa or permit"},
        "birth_certificate": {"es": "Partida de nacimiento", "en": "Birth certificate"},
        "other": {"es": "Otro", "en": "Other"},
    },
    "consent_giver": {
        "survivor": {"es": "La sobreviviente (adulta)", "en": "The survivor (adult)"},
        "adolescent": {"es": "La adolescente (15-17 años)", "en": "The adolescent (15-17)"},
        "caregiver": {"es": "Cuidador/a, con asentimiento del niño/a", "en": "Caregiver, with the child's assent"},
    },
    "caregiver_relationship": {
        "mother": {"es": "Madre", "en": "Mother"}, "father": {"es": "Padre", "en": "Father"},
        "grandparent": {"es": "Abuelo/a", "en": "Grandparent"}, "other_relative": {"es": "Otro familiar", "en": "Other relative"},
        "legal_guardian": {"es": "Tutor/a legal", "en": "Legal guardian"},
        "foster_carer": {"es": "Familia acogiente", "en": "Foster carer"}, "other": {"es": "Otro", "en": "Other"},
    },
    "consent_purpose": {
        "registration": {"es": "Registro y gestión del caso", "en": "Registration and case management"},
        "sharing": {"es": "Compartir con una organización o tipo de servicio", "en": "Sharing with an organisation or service type"},
        "transfer": {"es": "Transferencia del caso", "en": "Case transfer"},
    },
    "note_type": {
        "follow_up": {"es": "Seguimiento", "en": "Follow-up"}, "contact_attempt": {"es": "Intento de contacto", "en": "Contact attempt"},
        "service_delivery": {"es": "Servicio prestado", "en": "Service delivered"}, "safety": {"es": "Seguridad", "en": "Safety"},
        "other": {"es": "Otra", "en": "Other"},
    },
    "access_purpose": {
        "case_management": {"es": "Gestión del caso", "en": "Case management"},
        "contact_survivor": {"es": "Contactar a la sobreviviente", "en": "Contact the survivor"},
        "service_coordination": {"es": "Coordinación de servicios", "en": "Service coordination"},
        "safety_planning": {"es": "Plan de seguridad", "en": "Safety planning"},
        "data_subject_request": {"es": "Solicitud de la titular (LOPDP)", "en": "Data-subject request (LOPDP)"},
        "legal_obligation": {"es": "Obligación legal", "en": "Legal obligation"},
    },
    "transfer_reason": {
        "survivor_relocating": {"es": "La sobreviviente se traslada", "en": "Survivor relocating"},
        "specialised_services": {"es": "Servicios especializados", "en": "Specialised services"},
        "safety": {"es": "Seguridad", "en": "Safety"}, "other": {"es": "Otro", "en": "Other"},
    },
    "transfer_decline_reason": {
        "no_capacity": {"es": "Sin capacidad", "en": "No capacity"},
        "outside_coverage": {"es": "Fuera de cobertura", "en": "Outside coverage"},
        "service_unavailable": {"es": "Servicio no disponible", "en": "Service unavailable"},
        "other": {"es": "Otro", "en": "Other"},
    },
    "transfer_status": {
        "pending": {"es": "Pendiente", "en": "Pending"}, "accepted": {"es": "Aceptada", "en": "Accepted"},
        "declined": {"es": "Rechazada", "en": "Declined"}, "expired": {"es": "Vencida", "en": "Expired"},
    },
    "erasure_reason": {
        "data_subject_request": {"es": "Solicitud de la titular", "en": "Data-subject request"},
        "registered_in_error": {"es": "Registro por error", "en": "Registered in error"},
        "legal_order": {"es": "Orden legal", "en": "Legal order"},
    },
}

VOCABULARIES: dict[str, type[Labelled]] = {
    "service_type": ServiceType, "data_category": DataCategory, "risk_level": RiskLevel, "case_status": CaseStatus,
    "closure_reason": ClosureReason, "gbvims_type": GbvimsType, "context_flag": ContextFlag, "legal_type": LegalType,
    "time_of_day": TimeOfDay, "location_type": LocationType, "perpetrator_sex": PerpetratorSex,
    "perpetrator_age_group": PerpetratorAgeGroup, "perpetrator_relationship": PerpetratorRelationship,
    "reported_to": ReportedTo, "sex": Sex, "gender_identity": GenderIdentity, "age_band": AgeBand,
    "ethnicity": Ethnicity, "mobility_status": MobilityStatus, "disability": Disability, "document_type": DocumentType,
    "consent_giver": ConsentGiver, "caregiver_relationship": CaregiverRelationship, "consent_purpose": ConsentPurpose,
    "note_type": NoteType, "access_purpose": AccessPurpose, "transfer_reason": TransferReason,
    "transfer_decline_reason": TransferDeclineReason, "transfer_status": TransferStatus, "erasure_reason": ErasureReason,
}

SEXUAL_VIOLENCE_TYPES = frozenset({GbvimsType.RAPE, GbvimsType.SEXUAL_ASSAULT})
