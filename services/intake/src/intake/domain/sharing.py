"""What each data category contains when a receiving organisation reads a referred case.

A reader gets the pseudonymous case id and survivor code, plus exactly the sections of the
categories it may see — nothing else:

| category           | contents                                                                 |
|--------------------|--------------------------------------------------------------------------|
| identity           | names, date of birth, age, sex, gender identity, nationality, document, caregiver's name and relationship |
| contact_details    | phone, address, languages                                                |
| incident_summary   | incidents as codes (types, dates, place codes, perpetrators), reported elsewhere |
| health_needs       | health needs, clinical windows (PEP / EC deadlines), disability, age band, sex |
| protection_needs   | risk level, whether a safety plan exists, protection needs, mobility status |
| psychosocial_needs | psychosocial needs                                                      |
| legal_needs        | legal needs, mobility status, nationality                               |
Case notes and the safety plan's text are never shared."""
from __future__ import annotations

from .vocabulary import DataCategory, ServiceType

NEEDS_BY_CATEGORY = {
    DataCategory.HEALTH_NEEDS: {ServiceType.HEALTH_CMR},
    DataCategory.PROTECTION_NEEDS: {ServiceType.SAFE_SHELTER, ServiceType.PROTECTION_MEASURES,
                                    ServiceType.POLICE_JUSTICE, ServiceType.LIVELIHOODS},
    DataCategory.PSYCHOSOCIAL_NEEDS: {ServiceType.PSYCHOSOCIAL},
    DataCategory.LEGAL_NEEDS: {ServiceType.LEGAL_AID, ServiceType.POLICE_JUSTICE, ServiceType.DOCUMENTATION_MIGRATION},
}


def shared_view(*, categories: frozenset[str], case: dict, identity: dict | None, incidents: list[dict],
                clinical_window: dict | None) -> dict:
    """`case` is the stored non-identifying case; `identity` the decrypted vault record (or None)."""
    profile = case["profile"]
    needs = set(case["needs"])
    identity = identity or {}
    view: dict = {"case_id": case["id"], "survivor_code": case["survivor_code"], "categories": sorted(categories)}
    if DataCategory.IDENTITY in categories:
        caregiver = identity.get("caregiver") or None
        view["identity"] = {
            "given_names": identity.get("given_names"), "family_names": identity.get("family_names"),
            "date_of_birth": identity.get("date_of_birth"), "age_years": profile.get("age_years"),
            "sex": profile.get("sex"), "gender_identity": profile.get("gender_identity"),
            "nationality": profile.get("nationality"), "document_type": identity.get("document_type"),
            "document_number": identity.get("document_number"),
            "caregiver": ({"given_names": caregiver.get("given_names"), "family_names": caregiver.get("family_names"),
                           "relationship": caregiver.get("relationship")} if caregiver else None),
        }
    if DataCategory.CONTACT_DETAILS in categories:
        caregiver = identity.get("caregiver") or {}
        view["contact_details"] = {"phone": identity.get("phone"), "address": identity.get("address"),
                                   "caregiver_phone": caregiver.get("phone"), "languages": profile.get("languages", [])}
    if DataCategory.INCIDENT_SUMMARY in categories:
        view["incident_summary"] = {"incidents": incidents}
    if DataCategory.HEALTH_NEEDS in categories:
        view["health_needs"] = {"needs": _needs(needs, DataCategory.HEALTH_NEEDS), "clinical_window": clinical_window,
                                "disability": profile.get("disability", []), "age_band": profile.get("age_band"),
                                "sex": profile.get("sex")}
    if DataCategory.PROTECTION_NEEDS in categories:
        view["protection_needs"] = {"needs": _needs(needs, DataCategory.PROTECTION_NEEDS),
                                    "risk_level": case["risk_level"], "safety_plan_in_place": case["safety_plan_in_place"],
                                    "mobility_status": profile.get("mobility_status")}
    if DataCategory.PSYCHOSOCIAL_NEEDS in categories:
        view["psychosocial_needs"] = {"needs": _needs(needs, DataCategory.PSYCHOSOCIAL_NEEDS)}
    if DataCategory.LEGAL_NEEDS in categories:
        view["legal_needs"] = {"needs": _needs(needs, DataCategory.LEGAL_NEEDS),
                               "mobility_status": profile.get("mobility_status"),
                               "nationality": profile.get("nationality")}
    return view


def _needs(needs: set[str], category: DataCategory) -> list[str]:
    return sorted(n for n in needs if n in NEEDS_BY_CATEGORY[category])
