"""Writes contracts/events/{referral,directory}.*.v1.json from the vocabularies in the domain, so the
schemas and the code cannot drift. Run: .venv/bin/python services/referral/tools/gen_contracts.py"""
from __future__ import annotations

import json
from pathlib import Path

from referral.domain.vocabulary import (
    CloseReason,
    DataCategory,
    DeclineReason,
    LegalBasis,
    OrganisationKind,
    OrganisationStatus,
    OutcomeCode,
    OverrideKind,
    Priority,
    ReferralStatus,
    RevokeReason,
    ServiceStatus,
    ServiceType,
)

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "contracts" / "events"
ORG_PATH = {"type": "string", "maxLength": 160, "pattern": "^/(iom|government|civil-society)(/[a-z0-9-]+)+$"}
SUBJECT = {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9._:-]+$"}
ID = {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9_-]+$"}
UUID = {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
TS = {"type": "string", "format": "date-time", "maxLength": 40}


def enum(e) -> dict:
    return {"enum": [m.value for m in e]}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


COMMON = {
    "referral_id": UUID,
    "case_id": ID,
    "referring_office": ORG_PATH,
    "referring_caseworker": SUBJECT,
    "receiving_organisation": ORG_PATH,
    "service_type": enum(ServiceType),
    "priority": enum(Priority),
    "status": enum(ReferralStatus),
    "occurred_at": TS,
}
ACTED = {"acted_by": nullable(SUBJECT), "acted_by_client": nullable({"type": "string", "maxLength": 64})}

REFERRAL_EVENTS = {
    "created": ("A referral was made to an organisation's service. The reason stays in the referral service.", {
        "status": {"const": "pending"},
        "service_id": UUID,
        "created_by": SUBJECT,
        "response_due_at": TS,
        "expires_at": TS,
        "categories": {"type": "array", "items": enum(DataCategory), "minItems": 1, "uniqueItems": True},
        "services_requested": {"type": "array", "items": enum(ServiceType), "minItems": 1, "uniqueItems": True},
        "clinical_window": nullable({"type": "object", "additionalProperties": False,
                                     "required": ["incident_at", "pep_deadline", "ec_deadline"],
                                     "properties": {"incident_at": nullable(TS), "pep_deadline": nullable(TS),
                                                    "ec_deadline": nullable(TS)}}),
        "override": {"type": "boolean"},
        "override_kinds": {"type": "array", "items": enum(OverrideKind), "uniqueItems": True},
        "override_legal_basis": nullable(enum(LegalBasis)),
    }, ["service_id", "created_by", "response_due_at", "expires_at", "categories", "services_requested",
        "clinical_window", "override", "override_kinds"]),
    "accepted": ("The receiving organisation accepted the referral.", {"status": {"const": "accepted"}, **ACTED},
                 ["acted_by"]),
    "declined": ("The receiving organisation declined the referral (reason code; any note stays in the service).",
                 {"status": {"const": "declined"}, **ACTED, "reason_code": enum(DeclineReason)},
                 ["acted_by", "reason_code"]),
    "expired": ("Nobody answered a pending referral by its deadline plus the grace period.",
                {"status": {"const": "expired"}, "response_due_at": TS, "expires_at": TS},
                ["response_due_at", "expires_at"]),
    "revoked": ("The referring side (or the system, on consent withdrawal, consent expiry or case erasure) revoked the referral.",
                {"status": {"const": "revoked"}, **ACTED, "reason_code": enum(RevokeReason)},
                ["acted_by", "reason_code"]),
    "completed": ("The service was delivered and the receiver sent the counter-referral (codes only).", {
        "status": {"const": "completed"}, **ACTED,
        "counter_referral": {"type": "object", "additionalProperties": False,
                             "required": ["service_delivered", "outcome_code", "follow_up_advised",
                                          "follow_up_service_types"],
                             "properties": {"service_delivered": {"type": "boolean"},
                                            "outcome_code": enum(OutcomeCode),
                                            "follow_up_advised": {"type": "boolean"},
                                            "follow_up_service_types": {"type": "array", "items": enum(ServiceType),
                                                                        "uniqueItems": True}}},
    }, ["acted_by", "counter_referral"]),
    "closed": ("An accepted referral was closed without the service being delivered.",
               {"status": {"const": "closed"}, **ACTED, "reason_code": enum(CloseReason)},
               ["acted_by", "reason_code"]),
    "deadline_approaching": ("A pending referral reached the warning point of its response window (once).",
                             {"status": {"const": "pending"}, "response_due_at": TS}, ["response_due_at"]),
    "overdue": ("A pending referral passed its response deadline without an answer (once).",
                {"status": {"const": "pending"}, "response_due_at": TS}, ["response_due_at"]),
    "purged": (("The case was erased: the referral's content was deleted; only a tombstone remains. `status` is "
                "the last status before the purge."), {}, []),
}


def referral_schema(name: str, description: str, extra: dict, required: list[str]) -> dict:
    props = {**COMMON, **extra}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://careroute.iom.int/contracts/events/referral.{name}.v1.json",
        "title": f"referral.{name} v1",
        "description": description + " Ids, codes, categories and timestamps only: never free text.",
        "type": "object",
        "additionalProperties": False,
        "required": list(COMMON) + required,
        "properties": props,
    }


DIRECTORY_EVENTS = {
    "organisation_changed": ("An organisation in the service directory was created or changed.", {
        "organisation_id": UUID,
        "organisation": ORG_PATH,
        "kind": enum(OrganisationKind),
        "status": enum(OrganisationStatus),
        "change": {"enum": ["created", "updated"]},
        "version": {"type": "integer", "minimum": 1},
        "occurred_at": TS,
    }),
    "service_changed": ("A service in the directory was created or changed (status, acceptance of referrals, places).", {
        "service_id": UUID,
        "organisation_id": UUID,
        "organisation": ORG_PATH,
        "service_type": enum(ServiceType),
        "status": enum(ServiceStatus),
        "accepts_referrals": {"type": "boolean"},
        "cantons": {"type": "array", "items": {"type": "string", "maxLength": 80}, "uniqueItems": True},
        "change": {"enum": ["created", "updated"]},
        "version": {"type": "integer", "minimum": 1},
        "occurred_at": TS,
    }),
}


def directory_schema(name: str, description: str, props: dict) -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://careroute.iom.int/contracts/events/directory.{name}.v1.json",
        "title": f"directory.{name} v1",
        "description": description + " Key: the organisation or service id.",
        "type": "object",
        "additionalProperties": False,
        "required": list(props),
        "properties": props,
    }


def main() -> None:
    for name, (description, extra, required) in REFERRAL_EVENTS.items():
        path = OUT / f"referral.{name}.v1.json"
        path.write_text(json.dumps(referral_schema(name, description, extra, required), indent=2,
                                   ensure_ascii=False) + "\n")
    for name, (description, props) in DIRECTORY_EVENTS.items():
        path = OUT / f"directory.{name}.v1.json"
        path.write_text(json.dumps(directory_schema(name, description, props), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
