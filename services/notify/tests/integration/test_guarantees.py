"""What must hold whatever happens: exactly once per recipient, no personal data anywhere, poison to
the dead-letter topic, erasure purges, and an SMTP relay or directory that is down delays but never drops."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from careroute_devstack.testing import wait_for
from careroute_platform.cloudevents import Event
from notify.adapters.directory import StaticDirectory
from notify.adapters.orm import deliveries, notifications
from notify.bootstrap import components

pytestmark = pytest.mark.integration

MSP = "/government/msp/hospital-tulcan"
MARKER = "ZZ-PLANTED-MARIA-PEREZ"
PLANTED = {"survivor_name": f"{MARKER} Gómez", "survivor_phone": "+593 99 123 4567",
           "survivor_email": "maria.perez.zz@example.com", "notes": f"{MARKER} told us she fled from Ipiales",
           "document_number": "1712345678", "date_of_birth": "1999-02-03"}
PLANTED_VALUES = [MARKER, "99 123 4567", "maria.perez.zz", "1712345678", "1999-02-03", "Ipiales"]


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def count(db, table, *conditions) -> int:
    value = db.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one()
    db.rollback()
    return value


def processed(db, event_id: str) -> bool:
    from sqlalchemy import text

    row = db.execute(text("select 1 from processed_events where consumer_group = 'notify' and event_id = :id"),
                     {"id": event_id}).first()
    db.rollback()
    return row is not None


def test_the_same_event_twice_notifies_each_recipient_once(notify, events, publish, receiver, register_endpoint,
                                                           msp_system, smtp_sink, db):
    endpoint = register_endpoint(receiver.url("/exactly-once"), ["referral.created"])
    event = events.referral("created", receiving_organisation=MSP, priority="urgent")
    publish(event)
    publish(event)                                    # the broker redelivers, or a producer retried
    sentinel = publish(events.referral("accepted", case_id=event.data["case_id"], receiving_organisation=MSP))
    wait_for(lambda: processed(db, sentinel.id), 30, message="the events after the duplicate")  # same partition
    assert count(db, notifications, notifications.c.event_id == event.id) == 1
    webhook = wait_for(lambda: [r for r in receiver.at("/exactly-once")
                                if event.data["referral_id"].encode() in r.body], 30)
    reference = db.execute(select(notifications.c.reference).where(notifications.c.event_id == event.id)).scalar_one()
    db.rollback()
    wait_for(lambda: smtp_sink.to("provider.msp-tulcan@example.org") and
             [m for m in smtp_sink.to("provider.msp-tulcan@example.org") if reference in str(m.message["Subject"])], 30)
    # applying the event again directly, bypassing the processed-events guard, still writes nothing new
    c = components(notify.runtime)
    with notify.runtime.uow() as uow:
        c.handlers.referral(uow, event)
        uow.commit()
    wait_for(lambda: count(db, deliveries, deliveries.c.event_id == event.id, deliveries.c.status == "pending") == 0,
             30)
    assert count(db, notifications, notifications.c.event_id == event.id) == 1
    assert count(db, deliveries, deliveries.c.event_id == event.id, deliveries.c.channel == "webhook") == 1
    assert count(db, deliveries, deliveries.c.event_id == event.id, deliveries.c.channel == "email") == 1
    assert len(webhook) == 1
    assert len([m for m in smtp_sink.to("provider.msp-tulcan@example.org")
                if reference in str(m.message["Subject"])]) == 1
    notify.client.delete(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=msp_system())


def test_planted_personal_data_never_reaches_inbox_email_or_webhook(notify, events, publish, receiver,
                                                                    register_endpoint, msp_system, entry_for,
                                                                    mail_for, smtp_sink, kafka_tap, db):
    endpoint = register_endpoint(receiver.url("/pii-scan"), ["referral.created", "referral.declined",
                                                              "consent.withdrawn"])
    created = publish(events.referral("created", receiving_organisation=MSP, priority="emergency",
                                      extra=PLANTED))
    case_id, referral_id = created.data["case_id"], created.data["referral_id"]
    declined = publish(events.referral("declined", case_id=case_id, referral_id=referral_id,
                                       receiving_organisation=MSP, extra={**PLANTED, "decline_note": MARKER}))
    incident = datetime.now(timezone.utc) - timedelta(hours=2)
    publish(events.case("case.clinical_window_opened", {
        "case_id": case_id, "office": "/iom/tulcan", "incident_id": str(uuid.uuid4()), "incident_at": z(incident),
        "pep_deadline": z(incident + timedelta(hours=72)), "ec_deadline": z(incident + timedelta(hours=120)),
        **PLANTED}, validate=False))
    withdrawn = publish(events.case("consent.withdrawn", {
        "case_id": case_id, "consent_id": str(uuid.uuid4()), "office": "/iom/tulcan", "purpose": "sharing",
        "recipient_organisation": MSP, "categories": ["identity"], **PLANTED}, validate=False))

    provider_entry = entry_for("provider.msp-tulcan", referral_id=referral_id, kind="referral_received")
    entry_for("provider.msp-tulcan", referral_id=referral_id, kind="consent_withdrawn")
    supervisor_entry = entry_for("supervisor.tulcan", case_id=case_id, kind="clinical_window_opened")
    mail_for("provider.msp-tulcan@example.org", provider_entry["reference"])
    mail_for("supervisor.tulcan@example.org", supervisor_entry["reference"])
    wait_for(lambda: len([r for r in receiver.at("/pii-scan") if referral_id.encode() in r.body]) >= 3, 30)
    wait_for(lambda: processed(db, declined.id) and processed(db, withdrawn.id), 30)

    surfaces = {
        "inbox": json.dumps([notify.call("GET", "/v1/inbox", user=u, params={"limit": 100}).json()
                             for u in ("provider.msp-tulcan", "supervisor.tulcan", "caseworker.tulcan")],
                            ensure_ascii=False),
        "email": "\n".join(m.message.get_body(("plain",)).get_content() + m.message.get_body(("html",)).get_content()
                           + str(m.message["Subject"]) for m in smtp_sink.messages),
        "email_raw": b"\n".join(m.raw for m in smtp_sink.messages).decode("utf-8", "replace"),
        "webhooks": b"\n".join(r.body for r in receiver.received).decode("utf-8", "replace"),
        "delivery_log": json.dumps(notify.client.get(f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries",
                                                     headers=msp_system()).json(), ensure_ascii=False),
        "database": json.dumps([list(map(str, r)) for r in db.execute(select(notifications)).all()]
                               + [list(map(str, r)) for r in db.execute(select(deliveries)).all()],
                               ensure_ascii=False),
        "access_events": json.dumps([e.data for e in kafka_tap.events(["careroute.access", "careroute.notification"])
                                     if e.source == "/careroute/notify"], ensure_ascii=False),
    }
    db.rollback()
    for where, text in surfaces.items():
        for value in PLANTED_VALUES:
            assert value not in text, f"planted personal data reached the {where}"


def test_malformed_events_go_to_the_dead_letter_topic_and_other_types_are_ignored(notify, events, publish,
                                                                                  producer, kafka_tap, db):
    bad = publish(events.referral("created", validate=False, extra={"priority": "very-high"}))
    free_text = publish(events.referral("declined", validate=False,
                                        extra={"reason_code": "Maria llamó al +593 99 123 4567"}))
    producer.send("careroute.referral", key=b"k", value=b"not json at all",
                  headers=[("ce_specversion", b"1.0"), ("ce_id", b"raw-1"), ("ce_source", b"/x"),
                           ("ce_type", b"org.iom.careroute.referral.created.v1")]).get(30)
    other = publish(Event(type="org.iom.careroute.case.registered.v1", source="/careroute/intake",
                          data={"case_id": str(uuid.uuid4()), "anything": "goes"}, key=str(uuid.uuid4())))

    def dead_lettered():
        ids = {}
        for record in kafka_tap.read_all(["careroute.referral.dlt", "careroute.case.dlt"]):
            headers = dict(record.headers)
            if headers.get("dlt_consumer_group") == b"notify":
                ids[headers["ce_id"].decode()] = headers["dlt_error_type"].decode()
        return ids if {bad.id, free_text.id, "raw-1"} <= set(ids) else None
    ids = wait_for(dead_lettered, 40, interval=0.5)
    assert ids[bad.id] == "PermanentError" and ids[free_text.id] == "PermanentError"
    assert other.id not in ids
    assert count(db, notifications, notifications.c.event_id.in_([bad.id, free_text.id])) == 0


def test_erasing_a_case_purges_its_notifications_and_late_events_are_ignored(notify, events, publish, receiver,
                                                                             register_endpoint, msp_system,
                                                                             entry_for, inbox_of, db):
    endpoint = register_endpoint(receiver.url("/erased-case"), ["referral.created"])
    receiver.failing.add("/erased-case")                 # keeps the delivery pending
    created = publish(events.referral("created", receiving_organisation=MSP))
    case_id = created.data["case_id"]
    entry_for("provider.msp-tulcan", referral_id=created.data["referral_id"])
    wait_for(lambda: count(db, deliveries, deliveries.c.case_id == case_id, deliveries.c.channel == "webhook"), 30)

    erased = publish(events.case("case.erased", {"case_id": case_id, "office": "/iom/tulcan"}))
    wait_for(lambda: processed(db, erased.id), 30)
    assert count(db, notifications, notifications.c.case_id == case_id) == 0
    assert count(db, deliveries, deliveries.c.case_id == case_id) == 0
    assert not [i for i in inbox_of("provider.msp-tulcan") if i["case_id"] == case_id]

    late = publish(events.referral("accepted", case_id=case_id, referral_id=created.data["referral_id"],
                                   receiving_organisation=MSP))
    wait_for(lambda: processed(db, late.id), 30)
    assert count(db, notifications, notifications.c.case_id == case_id) == 0
    receiver.failing.discard("/erased-case")
    notify.client.delete(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=msp_system())


def test_an_smtp_relay_that_is_down_delays_mail_but_never_drops_it(notify, events, publish, smtp_sink, entry_for,
                                                                   mail_for, db):
    smtp_sink.stop()
    try:
        event = publish(events.referral("created", receiving_organisation="/civil-society/hias"))
        entry = entry_for("provider.hias", referral_id=event.data["referral_id"])

        def retried():
            row = db.execute(select(deliveries.c.status, deliveries.c.attempts, deliveries.c.last_error)
                             .join(notifications, notifications.c.id == deliveries.c.notification_id)
                             .where(notifications.c.referral_id == event.data["referral_id"])).first()
            db.rollback()
            return row if row and row.attempts >= 2 else None
        row = wait_for(retried, 30)
        assert row.status == "pending" and row.last_error == "connection-refused"
    finally:
        smtp_sink.start()
    mail = mail_for("provider.hias@example.org", entry["reference"])
    assert mail.message["X-Care-Route-Delivery"]


def test_a_directory_that_is_down_delays_mail_but_the_inbox_is_immediate(notify, events, publish, entry_for,
                                                                         mail_for, db):
    c = components(notify.runtime)
    real = c.deliveries.directory
    down = StaticDirectory()
    down.available = False
    c.deliveries.directory = down
    try:
        event = publish(events.referral("created", receiving_organisation="/civil-society/hias"))
        entry = entry_for("provider.hias", referral_id=event.data["referral_id"])   # no directory needed

        def postponed():
            row = db.execute(select(notifications.c.email_status, notifications.c.email_attempts)
                             .where(notifications.c.referral_id == event.data["referral_id"])).first()
            db.rollback()
            return row if row and row.email_attempts >= 2 else None
        assert wait_for(postponed, 30).email_status == "pending"
    finally:
        c.deliveries.directory = real
    mail_for("provider.hias@example.org", entry["reference"])


def test_a_purged_referral_takes_its_notices_with_it(notify, events, publish, entry_for, inbox_of, db):
    created = publish(events.referral("created", receiving_organisation="/civil-society/hias"))
    entry_for("provider.hias", referral_id=created.data["referral_id"])
    data = {k: created.data[k] for k in ("referral_id", "case_id", "referring_office", "referring_caseworker",
                                         "receiving_organisation", "service_type", "priority", "status",
                                         "occurred_at")}
    from careroute_platform import contracts
    from careroute_platform.cloudevents import event_type

    contracts.validate(event_type("referral.purged"), data)
    purged = publish(Event(type=event_type("referral.purged"), source="/careroute/referral", data=data,
                           key=created.data["case_id"]))
    wait_for(lambda: processed(db, purged.id), 30)
    assert count(db, notifications, notifications.c.referral_id == created.data["referral_id"]) == 0
    assert not [i for i in inbox_of("provider.hias") if i["referral_id"] == created.data["referral_id"]]
