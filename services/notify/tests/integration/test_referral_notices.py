"""From a referral event on the broker to inbox entries, e-mails (real SMTP to the sink) and signed
webhooks (a real local receiver), in the recipient's language and with no personal data."""
from __future__ import annotations

import re

import pytest

from careroute_devstack.testing import wait_for

pytestmark = pytest.mark.integration

MSP = "/government/msp/hospital-tulcan"


def z(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parts(mail):
    msg = mail.message
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def test_emergency_referral_reaches_inbox_email_and_webhook(notify, events, publish, sub_of, entry_for, mail_for,
                                                           receiver, register_endpoint, verify_signature):
    endpoint = register_endpoint(receiver.url("/msp/referrals"), ["referral.created", "referral.overdue"])
    event = publish(events.referral("created", receiving_organisation=MSP, priority="emergency",
                                    service_type="health_cmr", referring_caseworker=sub_of("caseworker.tulcan")))
    referral_id = event.data["referral_id"]

    # inbox: an organisation entry for the hospital's service providers
    entry = entry_for("provider.msp-tulcan", referral_id=referral_id)
    assert entry["kind"] == "referral_received" and entry["scope"] == "organisation"
    assert entry["priority"] == "emergency" and entry["mandatory"] is True
    assert entry["deadline"] and entry["link"].endswith(f"/referrals/{referral_id}")
    assert entry["title"].startswith("[EMERGENCIA]")

    # e-mail in Spanish (the provider's locale), plain text and HTML, with the link
    reference = entry["reference"]
    mail = mail_for("provider.msp-tulcan@example.org", reference)
    subject = str(mail.message["Subject"])
    assert subject.startswith("[EMERGENCIA] Nueva referencia") and mail.message["Content-Language"] == "es"
    text, html = parts(mail)
    assert entry["link"] in text and f'href="{entry["link"]}"' in html
    assert "salud / manejo clínico de la violación" in text and "Prioridad: emergencia (24 h)" in text

    # webhook to the hospital's system, signed the Standard Webhooks way
    delivery = wait_for(lambda: next((r for r in receiver.at("/msp/referrals") if referral_id.encode() in r.body),
                                     None), 30, message="the webhook")
    body = verify_signature(delivery, [endpoint["secret"]])
    assert body["type"] == "referral.created" and delivery.headers["webhook-id"] == event.id
    assert body["data"]["referral_id"] == referral_id and body["data"]["priority"] == "emergency"
    assert body["data"]["link"] == entry["link"]
    assert set(body["data"]) <= {"event_id", "referral_id", "case_id", "receiving_organisation", "referring_office",
                                 "service_type", "priority", "status", "response_due_at", "link"}


def test_english_speaking_recipient_gets_english(notify, events, publish, entry_for, mail_for):
    event = publish(events.referral("created", receiving_organisation="/civil-society/quimera", priority="urgent",
                                    service_type="legal_aid"))
    entry = entry_for("provider.quimera", referral_id=event.data["referral_id"])
    mail = mail_for("provider.quimera@example.org", entry["reference"])
    assert str(mail.message["Subject"]).startswith("New referral") and mail.message["Content-Language"] == "en"
    text, html = parts(mail)
    assert "Priority: urgent (72 h)" in text and "legal aid" in text and 'lang="en"' in html


def test_the_referring_caseworker_hears_back_and_nobody_else_does(notify, events, publish, sub_of, entry_for,
                                                                  mail_for, inbox_of):
    created = events.referral("created", referring_caseworker=sub_of("caseworker.tulcan"))
    publish(created)
    common = dict(case_id=created.data["case_id"], referral_id=created.data["referral_id"],
                  referring_caseworker=sub_of("caseworker.tulcan"))
    for name, kind in (("accepted", "referral_accepted"), ("completed", "referral_completed")):
        publish(events.referral(name, **common))
        entry = entry_for("caseworker.tulcan", referral_id=common["referral_id"], kind=kind)
        assert entry["scope"] == "user"
    declined = publish(events.referral("declined", **{**common, "referral_id": None}))
    entry = entry_for("caseworker.tulcan", referral_id=declined.data["referral_id"], kind="referral_declined")
    mail = mail_for("caseworker.tulcan@example.org", entry["reference"])
    assert "sin cupo" in parts(mail)[0]                       # the reason code's label, in Spanish
    # another caseworker, the same office's supervisor and the receiving providers see none of these
    for other in ("caseworker.quito", "supervisor.tulcan"):
        assert not [i for i in inbox_of(other) if i["referral_id"] == common["referral_id"]
                    and i["kind"] in ("referral_accepted", "referral_completed")]
    r = notify.call("GET", f"/v1/inbox/{entry['id']}", user="caseworker.quito")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = notify.call("POST", f"/v1/inbox/{entry['id']}/read", user="caseworker.quito")
    assert r.status_code == 404


def test_overdue_escalates_to_supervisors_and_the_receiving_organisation(notify, events, publish, entry_for,
                                                                         mail_for):
    event = publish(events.referral("overdue", priority="urgent", receiving_organisation="/civil-society/hias"))
    referral_id = event.data["referral_id"]
    supervisor = entry_for("supervisor.tulcan", referral_id=referral_id, kind="referral_overdue")
    provider = entry_for("provider.hias", referral_id=referral_id, kind="referral_overdue")
    assert supervisor["mandatory"] and provider["mandatory"]
    assert str(mail_for("supervisor.tulcan@example.org", supervisor["reference"]).message["Subject"]).startswith(
        "[VENCIDA]")
    mail_for("provider.hias@example.org", provider["reference"])


def test_deadline_approaching_reminds_the_receiving_providers(notify, events, publish, entry_for, inbox_of):
    event = publish(events.referral("deadline_approaching", priority="emergency"))
    entry = entry_for("provider.alas", referral_id=event.data["referral_id"], kind="referral_deadline_approaching")
    assert entry["mandatory"] and entry["deadline"]
    assert not [i for i in inbox_of("supervisor.tulcan") if i["referral_id"] == event.data["referral_id"]]


def test_clinical_window_and_possible_duplicate_go_to_the_offices_supervisors(notify, events, publish, entry_for,
                                                                              mail_for):
    import uuid
    from datetime import datetime, timedelta, timezone

    case_id = str(uuid.uuid4())
    incident = datetime.now(timezone.utc) - timedelta(hours=5)
    publish(events.case("case.clinical_window_opened", {
        "case_id": case_id, "office": "/iom/tulcan", "incident_id": str(uuid.uuid4()),
        "incident_at": z(incident), "pep_deadline": z(incident + timedelta(hours=72)),
        "ec_deadline": z(incident + timedelta(hours=120))}))
    entry = entry_for("supervisor.tulcan", case_id=case_id, kind="clinical_window_opened")
    assert entry["mandatory"] and entry["link"].endswith(f"/cases/{case_id}")
    subject = str(mail_for("supervisor.tulcan@example.org", entry["reference"]).message["Subject"])
    assert subject.startswith("[URGENTE] Ventana clínica abierta") and "PEP antes de" in subject

    publish(events.case("case.possible_duplicate", {"case_id": case_id, "office": "/iom/tulcan",
                                                    "other_case_id": str(uuid.uuid4()),
                                                    "other_office": "/iom/ibarra", "matched_on": "document"}))
    dup = entry_for("supervisor.tulcan", case_id=case_id, kind="possible_duplicate")
    assert re.match(r"^CASE-[0-9A-F]{8}$", dup["params"]["other_reference"])


def test_anomalies_go_to_oversight_in_english(notify, events, publish, sub_of, entry_for, mail_for, inbox_of):
    subject = sub_of("caseworker.quito")
    publish(events.case("anomaly.detected", {"rule": "unusual-case-reads", "subject": subject,
                                             "organisation": "/iom/centro-amor-quito", "count": 57,
                                             "threshold": 40, "window_seconds": 3600}))
    entry = wait_for(lambda: next((i for i in inbox_of("auditor.oversight") if i["kind"] == "anomaly_detected"
                                   and i["params"]["count"] == "57"), None), 30)
    assert subject not in str(entry)
    mail = mail_for("auditor.oversight@example.org", "unusual-case-reads")
    assert str(mail.message["Subject"]).startswith("Access anomaly") and subject not in mail.raw.decode()
    assert not [i for i in inbox_of("supervisor.quito") if i["kind"] == "anomaly_detected"]


def test_consent_withdrawal_tells_the_organisation_holding_the_referral(notify, events, publish, entry_for,
                                                                        inbox_of):
    import uuid

    created = publish(events.referral("created", receiving_organisation="/civil-society/hias",
                                      service_type="legal_aid"))
    entry_for("provider.hias", referral_id=created.data["referral_id"], kind="referral_received")
    publish(events.case("consent.withdrawn", {
        "case_id": created.data["case_id"], "consent_id": str(uuid.uuid4()), "office": "/iom/tulcan",
        "purpose": "sharing", "recipient_service_type": "legal_aid", "categories": ["legal_needs"]}))
    entry = entry_for("provider.hias", referral_id=created.data["referral_id"], kind="consent_withdrawn")
    assert entry["params"]["categories"] == "legal_needs"
    assert not [i for i in inbox_of("provider.alas") if i["case_id"] == created.data["case_id"]]
