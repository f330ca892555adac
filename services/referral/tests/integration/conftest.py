"""Integration fixtures: the referral service on the real stack, and a stand-in for intake that
publishes case and consent CloudEvents to the broker exactly as intake will (validated against
intake's schemas in contracts/events when they exist; field names from docs/events.md)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from careroute_devstack.testing import wait_for
from careroute_platform import contracts
from careroute_platform.cloudevents import Event, event_type, to_kafka
from referral.adapters.orm import cases, consents, incidents
from referral.service_layer.seed import _id
from sqlalchemy import select

MSP_TULCAN = _id("service", "/government/msp/hospital-tulcan", "cmr")
MSP_IBARRA = _id("service", "/government/msp/hospital-ibarra", "cmr")          # not connected to Care Route
ALAS_PSY = _id("service", "/civil-society/alas-de-colibri", "psychosocial")
HIAS_LEGAL = _id("service", "/civil-society/hias", "legal")
QUIMERA_PSY = _id("service", "/civil-society/quimera", "psychosocial")
SHELTER_TULCAN = _id("service", "/civil-society/casa-de-acogida-tulcan", "shelter")
JUNTA_TULCAN = _id("service", "/government/juntas-cantonales/tulcan", "measures")
FISCALIA_CARCHI = _id("service", "/government/fiscalia/carchi", "complaints")
IOM_TULCAN_PSY = _id("service", "/iom/tulcan", "psychosocial")
HOSPITAL = "/government/msp/hospital-tulcan"
ALL_TOPICS = ["careroute.case", "careroute.consent", "careroute.referral", "careroute.directory", "careroute.access"]


CROCKFORD = str.maketrans({"I": "J", "L": "K", "O": "P", "U": "V"})


def z(moment: datetime) -> str:
    """Intake's timestamp form: UTC with a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def subject_of(stack, user: str) -> str:
    return jwt.decode(stack.token(user), options={"verify_signature": False})["sub"]


@dataclass
class Intake:
    """Publishes what intake would publish, and waits until the referral service has projected it."""
    stack: object
    harness: object
    producer: object = None
    published: list = field(default_factory=list)

    def __post_init__(self) -> None:
        from careroute_platform.outbox import make_producer
        self.producer = make_producer(self.stack.cfg.bootstrap)

    def publish(self, topic: str, name: str, data: dict, *, key: str, event_id: str | None = None,
                time: datetime | None = None) -> Event:
        event = Event(type=event_type(name), source="/careroute/intake", data=data, key=key,
                      **({"id": event_id} if event_id else {}),
                      **({"time": time.isoformat()} if time else {}))
        try:
            contracts.validate(event.type, data)           # intake's contract, once its schema exists
        except contracts.ContractViolation as exc:
            if "no schema" not in str(exc):
                raise
        k, v, headers = to_kafka(event)
        self.producer.send(topic, key=k, value=v, headers=headers).get(timeout=30)
        self.published.append(event)
        return event

    # -- projections ----------------------------------------------------------------------------
    def _row(self, table, column, value):
        with self.harness.runtime.engine.connect() as conn:
            return conn.execute(select(table).where(column == value)).first()

    def processed(self, event_id: str) -> bool:
        table = self.harness.runtime.processed_table
        return self._row(table, table.c.event_id, event_id) is not None

    def wait_processed(self, event) -> None:
        wait_for(lambda: self.processed(event.id), 60, message="event processed by the referral consumer")

    def case_row(self, case_id: str):
        return self._row(cases, cases.c.case_id, case_id)

    def consent_row(self, consent_id: str):
        return self._row(consents, consents.c.consent_id, consent_id)

    # -- what intake does -----------------------------------------------------------------------
    def register(self, *, office: str = "/iom/tulcan", caseworker: str = "caseworker.tulcan", age_band="26_40",
                 sex="female", nationality="VE", mobility_status="irregular_migrant", province="04", canton="0401",
                 risk_level="medium", needs=("health_cmr", "psychosocial"), reporting_consent=True,
                 case_id: str | None = None, wait: bool = True) -> str:
        case_id = case_id or str(uuid.uuid4())
        self.publish("careroute.case", "case.registered", {
            "case_id": case_id, "survivor_code": "TUL-2026-" + uuid.uuid4().hex[:6].upper().translate(CROCKFORD),
            "office": office,
            "caseworker": subject_of(self.stack, caseworker), "age_band": age_band, "sex": sex,
            "nationality": nationality, "mobility_status": mobility_status, "province": province, "canton": canton,
            "risk_level": risk_level, "needs": list(needs), "reporting_consent": reporting_consent,
            "clinical_window": None}, key=case_id)
        if wait:
            wait_for(lambda: (row := self.case_row(case_id)) is not None and row.registered, 60, message="case projected")
        return case_id

    def grant(self, case_id: str, *, organisation: str | None = HOSPITAL, service_type: str | None = None,
              categories=("identity", "contact_details", "health_needs"), expires_at: datetime | None = None,
              office: str = "/iom/tulcan", consent_id: str | None = None, wait: bool = True) -> str:
        consent_id = consent_id or str(uuid.uuid4())
        data = {"case_id": case_id, "consent_id": consent_id, "office": office, "purpose": "sharing",
                "given_by": "survivor", "categories": list(categories), "reporting": True,
                "expires_at": z(expires_at) if expires_at else None}
        if organisation:
            data["recipient_organisation"] = organisation
        else:
            data["recipient_service_type"] = service_type
        self.publish("careroute.consent", "consent.granted", data, key=case_id)
        if wait:
            wait_for(lambda: (row := self.consent_row(consent_id)) is not None and row.granted, 60,
                     message="consent projected")
        return consent_id

    def withdraw(self, case_id: str, consent_id: str, *, organisation: str | None = HOSPITAL,
                 service_type: str | None = None, categories=("identity", "contact_details", "health_needs"),
                 office: str = "/iom/tulcan", wait: bool = True) -> None:
        data = {"case_id": case_id, "consent_id": consent_id, "office": office, "purpose": "sharing",
                "categories": list(categories)}
        if organisation:
            data["recipient_organisation"] = organisation
        else:
            data["recipient_service_type"] = service_type
        self.publish("careroute.consent", "consent.withdrawn", data, key=case_id)
        if wait:
            wait_for(lambda: (row := self.consent_row(consent_id)) is not None and row.withdrawn_at is not None, 60,
                     message="withdrawal projected")

    def clinical_window(self, case_id: str, *, hours_ago: float = 10, office: str = "/iom/tulcan") -> str:
        incident_id = str(uuid.uuid4())
        incident_at = datetime.now(UTC) - timedelta(hours=hours_ago)
        self.publish("careroute.case", "incident.recorded", {
            "case_id": case_id, "office": office, "incident_id": incident_id, "gbvims_type": "rape",
            "context_flags": [], "legal_types": ["sexual"], "sexual_violence": True, "province": "04",
            "canton": "0401"}, key=case_id)
        self.publish("careroute.case", "case.clinical_window_opened", {
            "case_id": case_id, "office": office, "incident_id": incident_id, "incident_at": z(incident_at),
            "pep_deadline": z(incident_at + timedelta(hours=72)),
            "ec_deadline": z(incident_at + timedelta(hours=120))}, key=case_id)
        wait_for(lambda: self._row(incidents, incidents.c.incident_id, incident_id) is not None
                 and self._row(incidents, incidents.c.incident_id, incident_id).pep_deadline is not None, 60,
                 message="clinical window projected")
        return incident_id

    def erase(self, case_id: str, office: str = "/iom/tulcan") -> None:
        self.publish("careroute.case", "case.erased", {"case_id": case_id, "office": office}, key=case_id)
        wait_for(lambda: (row := self.case_row(case_id)) is not None and row.erased, 60, message="erasure projected")


@pytest.fixture(scope="session")
def referral(service_harness):
    return service_harness("referral")


@pytest.fixture(scope="session")
def intake(stack, referral):
    helper = Intake(stack, referral)
    yield helper
    helper.producer.close(timeout=5)


def create(referral, case_id: str, *, service_id: str = MSP_TULCAN, user: str = "caseworker.tulcan",
           categories=("identity", "health_needs"), priority: str = "urgent", reason: str | None = "Needs care",
           headers: dict | None = None, **extra):
    body = {"case_id": case_id, "service_id": service_id, "priority": priority, "categories": list(categories),
            **({"reason": reason} if reason is not None else {}), **extra}
    return referral.call("POST", "/v1/referrals", user=user, json=body, headers=headers or {})


def act(referral, referral_id: str, action: str, *, user: str, etag: str | None, body: dict | None = None,
        headers: dict | None = None, token: str | None = None):
    h = dict(headers or {})
    if etag is not None:
        h["If-Match"] = etag
    if token:
        h["Authorization"] = f"Bearer {token}"
        return referral.client.post(f"/v1/referrals/{referral_id}/{action}", json=body or {}, headers=h)
    return referral.call("POST", f"/v1/referrals/{referral_id}/{action}", user=user, json=body or {}, headers=h)


def referral_events(tap, referral_id: str) -> list:
    return [e for e in tap.events(["careroute.referral"]) if e.data.get("referral_id") == referral_id]


def access_events(tap, resource_id: str) -> list:
    return [e for e in tap.events(["careroute.access"]) if (e.data.get("resource") or {}).get("id") == resource_id]
