"""Labels of the shared vocabularies' codes (docs/events.md and the services' vocabularies), as
gettext messages with the vocabulary as context (the same English word may need different Spanish
forms: "Other" is "Otro" or "Otra"). Codes travel; labels are for people. A test checks these codes
against the services' vocabularies so a new code cannot go unlabelled."""
from __future__ import annotations

from . import i18n


def NC_(context: str, message: str) -> str:
    """Marks a message with context for extraction (translated later with pgettext)."""
    return message


VOCABULARIES: dict[str, dict[str, str]] = {
    "service_type": {
        "health_cmr": NC_("service_type", "Health / clinical management of rape"),
        "psychosocial": NC_("service_type", "Psychosocial support"),
        "legal_aid": NC_("service_type", "Legal aid"),
        "safe_shelter": NC_("service_type", "Safe shelter"),
        "protection_measures": NC_("service_type", "Protection measures"),
        "police_justice": NC_("service_type", "Police / justice"),
        "livelihoods": NC_("service_type", "Livelihoods"),
        "documentation_migration": NC_("service_type", "Documentation / migration status"),
    },
    "data_category": {
        "identity": NC_("data_category", "Identity"),
        "contact_details": NC_("data_category", "Contact details"),
        "incident_summary": NC_("data_category", "Incident summary"),
        "health_needs": NC_("data_category", "Health needs"),
        "protection_needs": NC_("data_category", "Protection needs"),
        "psychosocial_needs": NC_("data_category", "Psychosocial needs"),
        "legal_needs": NC_("data_category", "Legal needs"),
    },
    "risk_level": {
        "high": NC_("risk_level", "High"),
        "medium": NC_("risk_level", "Medium"),
        "low": NC_("risk_level", "Low"),
    },
    "case_status": {
        "open": NC_("case_status", "Open"),
        "follow_up": NC_("case_status", "Follow-up"),
        "closed": NC_("case_status", "Closed"),
        "erased": NC_("case_status", "Erased"),
    },
    "closure_reason": {
        "needs_met": NC_("closure_reason", "Needs met"),
        "survivor_request": NC_("closure_reason", "At the survivor's request"),
        "survivor_relocated": NC_("closure_reason", "Survivor relocated"),
        "lost_contact": NC_("closure_reason", "Contact lost"),
        "referred_externally": NC_("closure_reason", "Referred outside the care route"),
        "survivor_deceased": NC_("closure_reason", "Survivor deceased"),
        "consent_withdrawn": NC_("closure_reason", "Consent withdrawn"),
        "other": NC_("closure_reason", "Other"),
    },
    "gbvims_type": {
        "rape": NC_("gbvims_type", "Rape"),
        "sexual_assault": NC_("gbvims_type", "Sexual assault"),
        "physical_assault": NC_("gbvims_type", "Physical assault"),
        "forced_marriage": NC_("gbvims_type", "Forced marriage"),
        "denial_of_resources": NC_("gbvims_type", "Denial of resources, opportunities or services"),
        "psychological_abuse": NC_("gbvims_type", "Psychological / emotional abuse"),
    },
    "context_flag": {
        "intimate_partner_violence": NC_("context_flag", "Intimate partner violence"),
        "child_sexual_abuse": NC_("context_flag", "Child sexual abuse"),
        "early_marriage": NC_("context_flag", "Early marriage"),
        "sexual_exploitation": NC_("context_flag", "Sexual exploitation"),
        "trafficking": NC_("context_flag", "Trafficking"),
        "harmful_traditional_practice": NC_("context_flag", "Harmful traditional practice"),
    },
    "legal_type": {
        "fisica": NC_("legal_type", "Physical"),
        "psicologica": NC_("legal_type", "Psychological"),
        "sexual": NC_("legal_type", "Sexual"),
        "economica_patrimonial": NC_("legal_type", "Economic and patrimonial"),
        "simbolica": NC_("legal_type", "Symbolic"),
        "politica": NC_("legal_type", "Political"),
        "gineco_obstetrica": NC_("legal_type", "Gyneco-obstetric"),
    },
    "time_of_day": {
        "morning": NC_("time_of_day", "Morning (06-12)"),
        "afternoon": NC_("time_of_day", "Afternoon (12-18)"),
        "evening": NC_("time_of_day", "Evening (18-24)"),
        "night": NC_("time_of_day", "Night (00-06)"),
        "unknown": NC_("time_of_day", "Unknown"),
    },
    "location_type": {
        "survivor_home": NC_("location_type", "Survivor's home"),
        "perpetrator_home": NC_("location_type", "Perpetrator's home"),
        "other_home": NC_("location_type", "Other home"),
        "street": NC_("location_type", "Street / public space"),
        "public_transport": NC_("location_type", "Transport"),
        "border_crossing": NC_("location_type", "Official border crossing"),
        "irregular_crossing": NC_("location_type", "Irregular crossing"),
        "shelter": NC_("location_type", "Shelter"),
        "workplace": NC_("location_type", "Workplace"),
        "school": NC_("location_type", "School"),
        "health_facility": NC_("location_type", "Health facility"),
        "detention": NC_("location_type", "Detention"),
        "online": NC_("location_type", "Online"),
        "other": NC_("location_type", "Other"),
        "unknown": NC_("location_type", "Unknown"),
    },
    "perpetrator_sex": {
        "male": NC_("perpetrator_sex", "Male"),
        "female": NC_("perpetrator_sex", "Female"),
        "both": NC_("perpetrator_sex", "Both"),
        "unknown": NC_("perpetrator_sex", "Unknown"),
    },
    "perpetrator_age_group": {
        "0_11": NC_("perpetrator_age_group", "0-11"),
        "12_17": NC_("perpetrator_age_group", "12-17"),
        "18_25": NC_("perpetrator_age_group", "18-25"),
        "26_40": NC_("perpetrator_age_group", "26-40"),
        "41_60": NC_("perpetrator_age_group", "41-60"),
        "61_plus": NC_("perpetrator_age_group", "61+"),
        "unknown": NC_("perpetrator_age_group", "Unknown"),
    },
    "perpetrator_relationship": {
        "intimate_partner": NC_("perpetrator_relationship", "Intimate partner"),
        "former_partner": NC_("perpetrator_relationship", "Former partner"),
        "primary_caregiver": NC_("perpetrator_relationship", "Primary caregiver"),
        "family_member": NC_("perpetrator_relationship", "Family member"),
        "friend_neighbour": NC_("perpetrator_relationship", "Friend / neighbour"),
        "employer_supervisor": NC_("perpetrator_relationship", "Employer / supervisor"),
        "teacher_school_official": NC_("perpetrator_relationship", "Teacher / school official"),
        "service_provider": NC_("perpetrator_relationship", "Service provider"),
        "housemate_landlord": NC_("perpetrator_relationship", "Housemate / landlord"),
        "authority_official": NC_("perpetrator_relationship", "Authority / official"),
        "armed_group_member": NC_("perpetrator_relationship", "Armed group member"),
        "smuggler_trafficker": NC_("perpetrator_relationship", "Smuggler / trafficker"),
        "other_community_member": NC_("perpetrator_relationship", "Other community member"),
        "no_relation": NC_("perpetrator_relationship", "No relation"),
        "unknown": NC_("perpetrator_relationship", "Unknown"),
    },
    "reported_to": {
        "police": NC_("reported_to", "Police"),
        "fiscalia": NC_("reported_to", "Attorney General's office"),
        "health_service": NC_("reported_to", "Health service"),
        "junta_cantonal": NC_("reported_to", "Cantonal rights protection board"),
        "other_organisation": NC_("reported_to", "Other organisation"),
        "not_reported": NC_("reported_to", "Not reported"),
    },
    "sex": {
        "female": NC_("sex", "Female"),
        "male": NC_("sex", "Male"),
        "intersex": NC_("sex", "Intersex"),
    },
    "gender_identity": {
        "woman": NC_("gender_identity", "Woman"),
        "man": NC_("gender_identity", "Man"),
        "trans_woman": NC_("gender_identity", "Trans woman"),
        "trans_man": NC_("gender_identity", "Trans man"),
        "non_binary": NC_("gender_identity", "Non-binary"),
        "other": NC_("gender_identity", "Other"),
        "prefer_not_to_say": NC_("gender_identity", "Prefers not to say"),
    },
    "age_band": {
        "0_11": NC_("age_band", "0-11"),
        "12_17": NC_("age_band", "12-17"),
        "18_25": NC_("age_band", "18-25"),
        "26_40": NC_("age_band", "26-40"),
        "41_60": NC_("age_band", "41-60"),
        "61_plus": NC_("age_band", "61+"),
    },
    "ethnicity": {
        "mestiza": NC_("ethnicity", "Mestizo"),
        "indigena": NC_("ethnicity", "Indigenous"),
        "afrodescendiente": NC_("ethnicity", "Afro-descendant"),
        "montubia": NC_("ethnicity", "Montubio"),
        "blanca": NC_("ethnicity", "White"),
        "other": NC_("ethnicity", "Other"),
        "prefer_not_to_say": NC_("ethnicity", "Prefers not to say"),
    },
    "mobility_status": {
        "refugee": NC_("mobility_status", "Refugee"),
        "asylum_seeker": NC_("mobility_status", "Asylum seeker"),
        "migrant_in_transit": NC_("mobility_status", "Migrant in transit"),
        "regular_migrant": NC_("mobility_status", "Regular migrant"),
        "irregular_migrant": NC_("mobility_status", "Irregular migrant"),
        "returnee": NC_("mobility_status", "Returnee"),
        "host_community": NC_("mobility_status", "Host community"),
    },
    "disability": {
        "physical": NC_("disability", "Physical"),
        "visual": NC_("disability", "Visual"),
        "hearing": NC_("disability", "Hearing"),
        "speech": NC_("disability", "Speech"),
        "intellectual": NC_("disability", "Intellectual"),
        "psychosocial": NC_("disability", "Psychosocial"),
        "other": NC_("disability", "Other"),
    },
    "document_type": {
        "cedula_ecuador": NC_("document_type", "Ecuadorian ID card"),
        "cedula_venezuela": NC_("document_type", "Venezuelan ID card"),
        "cedula_colombia": NC_("document_type", "Colombian ID card"),
        "passport": NC_("document_type", "Passport"),
        "refugee_id": NC_("document_type", "Refugee ID"),
        "visa_or_permit": NC_("document_type", "Visa or permit"),
        "birth_certificate": NC_("document_type", "Birth certificate"),
        "other": NC_("document_type", "Other"),
    },
    "consent_giver": {
        "survivor": NC_("consent_giver", "The survivor (adult)"),
        "adolescent": NC_("consent_giver", "The adolescent (15-17)"),
        "caregiver": NC_("consent_giver", "Caregiver, with the child's assent"),
    },
    "caregiver_relationship": {
        "mother": NC_("caregiver_relationship", "Mother"),
        "father": NC_("caregiver_relationship", "Father"),
        "grandparent": NC_("caregiver_relationship", "Grandparent"),
        "other_relative": NC_("caregiver_relationship", "Other relative"),
        "legal_guardian": NC_("caregiver_relationship", "Legal guardian"),
        "foster_carer": NC_("caregiver_relationship", "Foster carer"),
        "other": NC_("caregiver_relationship", "Other"),
    },
    "consent_purpose": {
        "registration": NC_("consent_purpose", "Registration and case management"),
        "sharing": NC_("consent_purpose", "Sharing with an organisation or service type"),
        "transfer": NC_("consent_purpose", "Case transfer"),
    },
    "note_type": {
        "follow_up": NC_("note_type", "Follow-up"),
        "contact_attempt": NC_("note_type", "Contact attempt"),
        "service_delivery": NC_("note_type", "Service delivered"),
        "safety": NC_("note_type", "Safety"),
        "other": NC_("note_type", "Other"),
    },
    "access_purpose": {
        "case_management": NC_("access_purpose", "Case management"),
        "contact_survivor": NC_("access_purpose", "Contact the survivor"),
        "service_coordination": NC_("access_purpose", "Service coordination"),
        "safety_planning": NC_("access_purpose", "Safety planning"),
        "data_subject_request": NC_("access_purpose", "Data-subject request (LOPDP)"),
        "legal_obligation": NC_("access_purpose", "Legal obligation"),
    },
    "transfer_reason": {
        "survivor_relocating": NC_("transfer_reason", "Survivor relocating"),
        "specialised_services": NC_("transfer_reason", "Specialised services"),
        "safety": NC_("transfer_reason", "Safety"),
        "other": NC_("transfer_reason", "Other"),
    },
    "transfer_decline_reason": {
        "no_capacity": NC_("transfer_decline_reason", "No capacity"),
        "outside_coverage": NC_("transfer_decline_reason", "Outside coverage"),
        "service_unavailable": NC_("transfer_decline_reason", "Service unavailable"),
        "other": NC_("transfer_decline_reason", "Other"),
    },
    "transfer_status": {
        "pending": NC_("transfer_status", "Pending"),
        "accepted": NC_("transfer_status", "Accepted"),
        "declined": NC_("transfer_status", "Declined"),
        "expired": NC_("transfer_status", "Expired"),
    },
    "erasure_reason": {
        "data_subject_request": NC_("erasure_reason", "Data-subject request"),
        "registered_in_error": NC_("erasure_reason", "Registered in error"),
        "legal_order": NC_("erasure_reason", "Legal order"),
    },
    "priority": {
        "emergency": NC_("priority", "Emergency (answer within 24 h)"),
        "urgent": NC_("priority", "Urgent (answer within 72 h)"),
        "normal": NC_("priority", "Normal (answer within 14 days)"),
    },
    "referral_status": {
        "pending": NC_("referral_status", "Pending"),
        "accepted": NC_("referral_status", "Accepted"),
        "declined": NC_("referral_status", "Declined"),
        "expired": NC_("referral_status", "Expired without answer"),
        "revoked": NC_("referral_status", "Revoked"),
        "completed": NC_("referral_status", "Completed (counter-referral)"),
        "closed": NC_("referral_status", "Closed without service"),
    },
    "service_status": {
        "available": NC_("service_status", "Available"),
        "at_capacity": NC_("service_status", "At capacity"),
        "suspended": NC_("service_status", "Suspended"),
    },
    "decline_reason": {
        "no_capacity": NC_("decline_reason", "No capacity"),
        "outside_mandate": NC_("decline_reason", "Outside our mandate"),
        "eligibility_not_met": NC_("decline_reason", "Eligibility not met"),
        "insufficient_information": NC_("decline_reason", "Insufficient information"),
        "duplicate_referral": NC_("decline_reason", "Duplicate referral"),
        "already_served": NC_("decline_reason", "Already receiving the service"),
        "other": NC_("decline_reason", "Other reason"),
    },
    "revoke_reason": {
        "survivor_request": NC_("revoke_reason", "At the survivor's request"),
        "need_resolved": NC_("revoke_reason", "The need was resolved"),
        "referred_elsewhere": NC_("revoke_reason", "Referred elsewhere"),
        "entered_in_error": NC_("revoke_reason", "Entered in error"),
        "other": NC_("revoke_reason", "Other reason"),
        "consent_withdrawn": NC_("revoke_reason", "Consent withdrawn"),
        "consent_expired": NC_("revoke_reason", "Consent expired"),
        "case_erased": NC_("revoke_reason", "Case erased"),
    },
    "close_reason": {
        "survivor_did_not_attend": NC_("close_reason", "The survivor did not attend"),
        "survivor_unreachable": NC_("close_reason", "Could not be reached"),
        "survivor_declined_service": NC_("close_reason", "The survivor declined the service"),
        "service_unavailable": NC_("close_reason", "Service unavailable"),
        "referred_onward": NC_("close_reason", "Referred onward"),
        "other": NC_("close_reason", "Other reason"),
    },
    "outcome": {
        "needs_met": NC_("outcome", "Needs met"),
        "needs_partially_met": NC_("outcome", "Needs partially met"),
        "ongoing_care": NC_("outcome", "Ongoing care"),
        "referred_onward": NC_("outcome", "Referred onward"),
    },
    "override_kind": {
        "consent": NC_("override_kind", "Without consent (legal basis)"),
        "eligibility": NC_("override_kind", "Outside eligibility"),
        "service_at_capacity": NC_("override_kind", "Service at capacity"),
        "service_suspended": NC_("override_kind", "Service suspended"),
    },
    "legal_basis": {
        "child_protection": NC_("legal_basis", "Child protection"),
        "imminent_risk": NC_("legal_basis", "Imminent risk to life"),
    },
    "notification_kind": {
        "referral_received": NC_("notification_kind", "New referral received"),
        "referral_accepted": NC_("notification_kind", "Referral accepted"),
        "referral_declined": NC_("notification_kind", "Referral declined"),
        "referral_expired": NC_("notification_kind", "Referral expired without response"),
        "referral_completed": NC_("notification_kind", "Referral completed (counter-referral)"),
        "referral_revoked": NC_("notification_kind", "Referral revoked"),
        "referral_deadline_approaching": NC_("notification_kind", "Response deadline approaching"),
        "referral_overdue": NC_("notification_kind", "Referral overdue"),
        "clinical_window_opened": NC_("notification_kind", "Clinical window open (PEP / emergency contraception)"),
        "possible_duplicate": NC_("notification_kind", "Possible duplicate case"),
        "consent_withdrawn": NC_("notification_kind", "Consent withdrawn"),
        "anomaly_detected": NC_("notification_kind", "Access anomaly detected"),
        "webhook_endpoint_disabled": NC_("notification_kind", "Webhook endpoint disabled"),
    },
    "audit_outcome": {
        "allowed": NC_("audit_outcome", "Allowed"),
        "denied": NC_("audit_outcome", "Denied"),
        "recorded": NC_("audit_outcome", "Recorded"),
    },
    "role": {
        "caseworker": NC_("role", "Caseworker"),
        "supervisor": NC_("role", "Supervisor"),
        "service-provider": NC_("role", "Service provider"),
        "government-official": NC_("role", "Government official"),
        "auditor": NC_("role", "Auditor"),
        "directory-admin": NC_("role", "Directory admin"),
        "integration-client": NC_("role", "Institutional system"),
    },
}


def label(vocab: str, code, locale: str) -> str:
    """The label of `code` in `vocab`, in `locale`; an unknown code is shown as itself."""
    if code is None or code == "":
        return "—"
    message = VOCABULARIES.get(vocab, {}).get(str(code))
    if message is None:
        return str(code)
    return i18n.translations(i18n.pick(locale)).upgettext(vocab, message)


def options(vocab: str, locale: str, only=None) -> list[tuple[str, str]]:
    codes = VOCABULARIES.get(vocab, {})
    return [(code, label(vocab, code, locale)) for code in codes if only is None or code in only]
