"""Shared helpers for the intake integration tests (real PostgreSQL, broker and identity provider)."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from careroute_platform.outbox import wait_until_published


@pytest.fixture(scope="session")
def intake(service_harness):
    return service_harness("intake")


def marker(label: str) -> str:
    """A unique planted value: if it shows up anywhere outside the vault, a test finds it."""
    return f"Zq{label}{uuid.uuid4().hex[:10]}"


def registration(*, given=None, family="Perez", dob: str | None = "1994-03-02", phone="+593 99 123 4567",
                 document: str | None = None, incident: dict | None = None, sharing: list | None = None,
                 reporting: bool = True, risk: str = "medium", needs=("psychosocial", "health_cmr"),
                 profile: dict | None = None, consent: dict | None = None) -> dict:
    # Unique identities by default: the same person registered hundreds of times is not the usual case.
    given = given or marker("Maria")
    if document is None:
        document = "V" + uuid.uuid4().hex[:9]
    document = document or None  # "" means: no document
    body = {
        "consent": {"given_by": "survivor", "given_at": _now_iso(-60), "registration": True, "reporting": reporting,
                    "sharing": sharing or []},
        "survivor": {"given_names": given, "family_names": family, "date_of_birth": dob, "phone": phone,
                     "address": "Calle Bolívar 12, Tulcán", "document_type": "cedula_venezuela" if document else None,
                     "document_number": document},
        "profile": {"sex": "female", "nationality": "VE", "mobility_status": "irregular_migrant",
                    "languages": ["es"], "province": "04", "canton": "0401", **(profile or {})},
        "needs": list(needs),
        "risk": {"level": risk, **({"safety_plan": "Plan: stay with a trusted neighbour"} if risk == "high" else {})},
    }
    if consent:
        body["consent"].update(consent)
    if incident is not None:
        body["incident"] = incident
    if dob is None:
        body["survivor"].pop("date_of_birth")
        body["profile"].setdefault("age_band", "26_40")
    return body


def incident(*, days_ago: int = 10, gbvims_type="physical_assault", legal_types=("fisica",), **extra) -> dict:
    occurred = (datetime.now(timezone(timedelta(hours=-5))) - timedelta(days=days_ago)).date()
    return {"occurred_on": occurred.isoformat(), "time_of_day": "unknown", "location_type": "street",
            "province": "04", "canton": "0401", "gbvims_type": gbvims_type, "legal_types": list(legal_types),
            "perpetrators": {"count": 1, "sex": "male", "age_group": "26_40", "relationship": "no_relation"}, **extra}


def _now_iso(offset_seconds: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_seconds)).isoformat()


def register(intake, user="caseworker.tulcan", **kwargs) -> dict:
    r = intake.call("POST", "/v1/cases", user=user, json=registration(**kwargs))
    assert r.status_code == 201, r.text
    return r.json()


def drain(intake) -> None:
    wait_until_published(intake.runtime.engine, intake.runtime.outbox_table, timeout=30)


def events_for(tap, topics, case_id: str) -> list:
    return [e for e in tap.events(topics) if e.key == case_id]


def when(value, predicate):
    """`value` if the predicate holds for it, else None (for wait_for)."""
    return value if predicate(value) else None


def events_including(tap, topics, case_id: str, names: set[str]) -> list | None:
    """The case's events once all of `names` are among them."""
    found = events_for(tap, topics, case_id)
    return found if names <= {e.name for e in found} else None


def dump(value) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


__all__ = ["date", "drain", "dump", "events_for", "events_including", "incident", "marker", "register", "registration", "when"]
