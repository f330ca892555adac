"""How shared-data fields and values are shown to a receiving organisation: labels for the keys
intake sends (gettext), codes turned into their labels, lists and nested records readable."""
from __future__ import annotations

from babel.dates import get_day_names

from . import geography, i18n, labels
from .i18n import N_

FIELD_LABELS = {
    "given_names": N_("Given names"), "family_names": N_("Family names"), "date_of_birth": N_("Date of birth"),
    "age_years": N_("Age in years"), "age_band": N_("Age band"), "sex": N_("Sex"),
    "gender_identity": N_("Gender identity"), "nationality": N_("Nationality"), "document_type": N_("Identity document"),
    "document_number": N_("Document number"), "caregiver": N_("Caregiver"), "phone": N_("Phone"),
    "address": N_("Address"), "caregiver_phone": N_("Caregiver's phone"), "languages": N_("Languages"),
    "incidents": N_("Incidents"), "needs": N_("Needs"), "clinical_window": N_("Clinical window"),
    "disability": N_("Disability"), "risk_level": N_("Risk level"), "safety_plan_in_place": N_("Safety plan in place"),
    "mobility_status": N_("Mobility status"), "relationship": N_("Relationship"),
    "occurred_on": N_("Date"), "gbvims_type": N_("Type of violence"), "location_type": N_("Where it happened"),
    "province": N_("Province"), "canton": N_("Canton"), "perpetrators": N_("Perpetrator(s)"),
    "reported_to": N_("Reported to"), "pep_deadline": N_("PEP deadline"), "ec_deadline": N_("EC deadline"),
    "time_of_day": N_("Time of day"), "context_flags": N_("Context"), "legal_types": N_("Types of violence (LOIPEVM)"),
    "count": N_("Number"), "age_group": N_("Age group"),
}
# which vocabulary a key's codes belong to
VOCABULARY_OF = {
    "sex": "sex", "gender_identity": "gender_identity", "document_type": "document_type", "age_band": "age_band",
    "relationship": "caregiver_relationship", "needs": "service_type", "disability": "disability",
    "risk_level": "risk_level", "mobility_status": "mobility_status", "gbvims_type": "gbvims_type",
    "location_type": "location_type", "reported_to": "reported_to", "time_of_day": "time_of_day",
    "context_flags": "context_flag", "legal_types": "legal_type", "age_group": "perpetrator_age_group",
}
NESTED_VOCABULARY = {("perpetrators", "sex"): "perpetrator_sex",
                     ("perpetrators", "relationship"): "perpetrator_relationship"}


def field_label(key: str, locale: str) -> str:
    message = FIELD_LABELS.get(key)
    return i18n.tr(locale, message) if message else key.replace("_", " ")


def show_value(key: str, value, locale: str, parent: str | None = None) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return i18n.tr(locale, "Yes") if value else i18n.tr(locale, "No")
    if isinstance(value, list):
        return "; ".join(show_value(key, v, locale, parent) for v in value)
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            if v in (None, "", [], {}):
                continue
            parts.append(f"{field_label(k, locale)}: {show_value(k, v, locale, parent=key)}")
        return " · ".join(parts) or "—"
    vocab = NESTED_VOCABULARY.get((parent, key)) if parent else None
    vocab = vocab or VOCABULARY_OF.get(key)
    if vocab:
        return labels.label(vocab, value, locale)
    if key == "nationality":
        return geography.nationality_name(str(value), locale)
    if key == "province":
        return geography.province_name(str(value))
    if key == "canton":
        return geography.canton_name(str(value))
    if key in ("pep_deadline", "ec_deadline", "incident_at"):
        return i18n.fmt_datetime(value, locale)
    return str(value)


def weekday_name(index: int, locale: str) -> str:
    return get_day_names("wide", locale=locale)[int(index)]


def weekday_choices(locale: str) -> list[tuple[str, str]]:
    names = get_day_names("wide", locale=locale)
    return [(str(i), names[i]) for i in range(7)]
