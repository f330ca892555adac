"""`make seed`: demo data for the running embedded stack, entered through the real APIs as the
demo users would (so every step is consented, evented and audited). Fictitious people only."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx

from .stack import DEV_PASSWORD, ROOT, StackConfig

ALAS = "/civil-society/alas-de-colibri"
MSP_TULCAN = "/government/msp/hospital-tulcan"
ECUADOR = timezone(timedelta(hours=-5))
PEOPLE = [  # fictitious
    ("Daniela Alejandra", "Rivas Colmenares", "1996-04-11", "+593 99 000 0101", "psychological_abuse", 20, "medium"),
    ("Yuleidy", "Martínez Pérez", "2001-09-23", "+593 98 000 0202", "rape", 1, "high"),
    ("Carmen Rosa", "Guerrero Tapia", "1988-01-30", "+593 97 000 0303", "physical_assault", 6, "medium"),
]


class Api:
    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.tokens: dict[str, str] = {}

    def token(self, user: str) -> str:
        if user not in self.tokens:
            r = httpx.post(f"{self.cfg.issuer}/protocol/openid-connect/token", data={
                "grant_type": "password", "client_id": "careroute-cli", "username": user, "password": DEV_PASSWORD})
            r.raise_for_status()
            self.tokens[user] = r.json()["access_token"]
        return self.tokens[user]

    def call(self, service: str, method: str, path: str, user: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.cfg.service_url(service) + path, headers=headers, timeout=15, **kwargs)


def registration(given, family, dob, phone, gbvims_type, days_ago, risk) -> dict:
    now = datetime.now(UTC)
    occurred = (datetime.now(ECUADOR) - timedelta(days=days_ago)).date().isoformat()
    sexual = gbvims_type == "rape"
    return {
        "consent": {"given_by": "survivor", "given_at": (now - timedelta(minutes=2)).isoformat(), "registration": True,
                    "reporting": True,
                    "sharing": [{"recipient_organisation": ALAS, "categories": ["contact_details", "psychosocial_needs"]},
                                {"recipient_organisation": MSP_TULCAN,
                                 "categories": ["contact_details", "health_needs", "incident_summary"]}]},
        "survivor": {"given_names": given, "family_names": family, "date_of_birth": dob, "phone": phone,
                     "address": "Barrio Centro, Tulcán", "document_type": "passport",
                     "document_number": "P" + uuid.uuid4().hex[:8].upper()},
        "profile": {"sex": "female", "nationality": "VE", "mobility_status": "migrant_in_transit", "languages": ["es"],
                    "province": "04", "canton": "0401"},
        "incident": {"occurred_on": occurred, "time_of_day": "night", "location_type": "street", "province": "04",
                     "canton": "0401", "gbvims_type": gbvims_type, "legal_types": ["sexual"] if sexual else ["psicologica"],
                     "perpetrators": {"count": 1, "sex": "male", "age_group": "26_40", "relationship": "no_relation"}},
        "needs": ["psychosocial", "health_cmr"] if sexual else ["psychosocial"],
        "risk": {"level": risk, **({"safety_plan": "Safe place identified with the shelter"} if risk == "high" else {})},
    }


def service_id(api: Api, organisation: str, service_type: str) -> str:
    r = api.call("referral", "GET", f"/v1/directory/services?service_type={service_type}&limit=100", "caseworker.tulcan")
    r.raise_for_status()
    return next(s["id"] for s in r.json()["items"] if s["organisation"]["group_path"] == organisation)


def refer(api: Api, case_id: str, service: str, categories: list[str], priority: str) -> dict:
    for _ in range(60):  # the referral service learns of the case from intake's events
        r = api.call("referral", "POST", "/v1/referrals", "caseworker.tulcan", json={
            "case_id": case_id, "service_id": service, "priority": priority, "categories": categories,
            "reason": "Demo referral"}, headers={"Idempotency-Key": f"seed-{case_id}-{service}"})
        if r.status_code == 201 or r.status_code == 200:
            return r.json()
        time.sleep(0.5)
    raise RuntimeError(f"referral not created: {r.status_code} {r.text[:200]}")


def main() -> None:
    api = Api(StackConfig(ROOT / ".run"))
    alas = service_id(api, ALAS, "psychosocial")
    msp = service_id(api, MSP_TULCAN, "health_cmr")
    for i, person in enumerate(PEOPLE):
        r = api.call("intake", "POST", "/v1/cases", "caseworker.tulcan", json=registration(*person),
                     headers={"Idempotency-Key": f"seed-case-{i}-{person[3]}"})
        r.raise_for_status()
        case_id = r.json()["id"]
        print(f"case {r.json().get('survivor_code', case_id)} registered at IOM Tulcán")
        if person[4] == "rape":
            ref = refer(api, case_id, msp, ["contact_details", "health_needs"], "emergency")
            print(f"  emergency referral {ref['id']} to the MSP hospital in Tulcán (pending)")
        ref = refer(api, case_id, alas, ["contact_details", "psychosocial_needs"], "urgent")
        print(f"  referral {ref['id']} to Alas de Colibrí (psychosocial)")
        if i == 0:
            current = api.call("referral", "GET", f"/v1/referrals/{ref['id']}", "provider.alas")
            api.call("referral", "POST", f"/v1/referrals/{ref['id']}/accept", "provider.alas", json={},
                     headers={"If-Match": current.headers["etag"]}).raise_for_status()
            print("  accepted by provider.alas")
    print("\nSeeded. Log in at the frontend as caseworker.tulcan, provider.alas or provider.msp-tulcan.")


if __name__ == "__main__":
    main()
