"""The events the intake service publishes: ids, codes, categories and timestamps only
(contracts/events/*.json reject anything else before it reaches the outbox)."""
from __future__ import annotations

from datetime import UTC, datetime

from careroute_platform.cloudevents import Event, event_type

SOURCE = "/careroute/intake"


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event(name: str, case_id: str, **data) -> Event:
    return Event(type=event_type(name), source=SOURCE, data={"case_id": case_id, **data}, key=case_id,
                 subject=case_id)


def case_registered(case: dict, clinical_window: dict | None) -> Event:
    p = case["profile"]
    return event("case.registered", case["id"], survivor_code=case["survivor_code"], office=case["office"],
                 caseworker=case["caseworker"], age_band=p["age_band"], sex=p["sex"], nationality=p["nationality"],
                 mobility_status=p["mobility_status"], province=p["province"], canton=p["canton"],
                 risk_level=case["risk_level"], needs=sorted(case["needs"]),
                 reporting_consent=case["reporting_consent"], clinical_window=clinical_window)


def case_updated(case: dict, changed: list[str]) -> Event:
    p = case["profile"]
    return event("case.updated", case["id"], office=case["office"], version=case["version"], changed=sorted(set(changed)),
                 caseworker=case["caseworker"], risk_level=case["risk_level"], status=case["status"],
                 needs=sorted(case["needs"]), age_band=p["age_band"], sex=p["sex"], nationality=p["nationality"],
                 mobility_status=p["mobility_status"], province=p["province"], canton=p["canton"])


def case_closed(case_id: str, office: str, closure_reason: str) -> Event:
    return event("case.closed", case_id, office=office, closure_reason=closure_reason)


def case_erased(case_id: str, office: str) -> Event:
    return event("case.erased", case_id, office=office)


def clinical_window_opened(case_id: str, office: str, window: dict) -> Event:
    return event("case.clinical_window_opened", case_id, office=office, **window)


def possible_duplicate(case_id: str, office: str, other_case_id: str, other_office: str, matched_on: str) -> Event:
    return event("case.possible_duplicate", case_id, office=office, other_case_id=other_case_id,
                 other_office=other_office, matched_on=matched_on)


def incident_recorded(case_id: str, office: str, incident: dict) -> Event:
    return event("incident.recorded", case_id, office=office, incident_id=incident["id"],
                 gbvims_type=incident["gbvims_type"], context_flags=sorted(incident["context_flags"]),
                 legal_types=sorted(incident["legal_types"]), sexual_violence=incident["sexual_violence"],
                 province=incident["province"], canton=incident["canton"])


def _recipient(consent: dict) -> dict:
    if consent["recipient_organisation"]:
        return {"recipient_organisation": consent["recipient_organisation"]}
    return {"recipient_service_type": consent["recipient_service_type"]}


def consent_granted(case_id: str, office: str, consent: dict) -> Event:
    return event("consent.granted", case_id, consent_id=consent["id"], office=office, purpose=consent["purpose"],
                 given_by=consent["given_by"], **_recipient(consent), categories=sorted(consent["categories"]),
                 reporting=consent["reporting"], expires_at=iso(consent["expires_at"]))


def consent_withdrawn(case_id: str, office: str, consent: dict) -> Event:
    return event("consent.withdrawn", case_id, consent_id=consent["id"], office=office, purpose=consent["purpose"],
                 **_recipient(consent), categories=sorted(consent["categories"]))


def transfer(step: str, transfer_row: dict, **extra) -> Event:
    return event(f"transfer.{step}", transfer_row["case_id"], transfer_id=transfer_row["id"],
                 from_office=transfer_row["from_office"], to_office=transfer_row["to_office"], **extra)
