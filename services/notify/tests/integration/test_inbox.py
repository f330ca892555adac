"""The inbox API: listing, unread counts, marking read, preferences, the live stream, audit and refusals."""
from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from careroute_devstack.infra import free_port, wait_for_port
from careroute_devstack.testing import wait_for
from notify.adapters.orm import notifications

pytestmark = pytest.mark.integration

LAGO = "/iom/lago-agrio"   # an office no other test refers from: its caseworker's inbox is this file's alone


def test_listing_unread_counts_and_marking_read(notify, events, publish, sub_of, entry_for):
    cw = sub_of("caseworker.lagoagrio")
    ids = [publish(events.referral("accepted", referring_office=LAGO, referring_caseworker=cw)).data["referral_id"]
           for _ in range(3)]
    entries = [entry_for("caseworker.lagoagrio", referral_id=rid) for rid in ids]
    assert all(not e["read"] for e in entries)

    page = notify.call("GET", "/v1/inbox", user="caseworker.lagoagrio", params={"limit": 2, "offset": 0}).json()
    assert len(page["items"]) == 2 and page["total"] >= 3 and page["limit"] == 2 and page["offset"] == 0
    rest = notify.call("GET", "/v1/inbox", user="caseworker.lagoagrio", params={"limit": 2, "offset": 2}).json()
    assert {i["id"] for i in page["items"]}.isdisjoint({i["id"] for i in rest["items"]})

    before = notify.call("GET", "/v1/inbox/unread-count", user="caseworker.lagoagrio").json()["unread"]
    assert before >= 3
    assert notify.call("POST", f"/v1/inbox/{entries[0]['id']}/read", user="caseworker.lagoagrio").status_code == 204
    assert notify.call("POST", f"/v1/inbox/{entries[0]['id']}/read", user="caseworker.lagoagrio").status_code == 204
    assert notify.call("GET", "/v1/inbox/unread-count", user="caseworker.lagoagrio").json()["unread"] == before - 1
    one = notify.call("GET", f"/v1/inbox/{entries[0]['id']}", user="caseworker.lagoagrio").json()
    assert one["read"] and one["read_at"]
    unread = notify.call("GET", "/v1/inbox", user="caseworker.lagoagrio", params={"unread_only": True}).json()
    assert entries[0]["id"] not in [i["id"] for i in unread["items"]]
    marked = notify.call("POST", "/v1/inbox/read-all", user="caseworker.lagoagrio").json()["marked"]
    assert marked >= 2
    assert notify.call("GET", "/v1/inbox/unread-count", user="caseworker.lagoagrio").json()["unread"] == 0


def test_titles_follow_the_callers_language(notify, events, publish, sub_of, entry_for):
    event = publish(events.referral("declined", referring_office=LAGO,
                                    referring_caseworker=sub_of("caseworker.lagoagrio")))
    entry = entry_for("caseworker.lagoagrio", referral_id=event.data["referral_id"])
    assert entry["title"].startswith("Referencia") and entry["kind_label"] == "Referencia rechazada"
    r = notify.call("GET", f"/v1/inbox/{entry['id']}", user="caseworker.lagoagrio",
                    headers={"accept-language": "en-GB,en;q=0.9"})
    assert r.json()["title"].startswith("Referral") and r.json()["kind_label"] == "Referral declined"


def test_organisation_entries_are_for_the_roles_they_address(notify, events, publish, entry_for, inbox_of):
    event = publish(events.referral("created", receiving_organisation="/civil-society/alas-de-colibri"))
    entry = entry_for("provider.alas", referral_id=event.data["referral_id"])
    # a partner caseworker of the same organisation is not a service provider
    assert not [i for i in inbox_of("caseworker.alas") if i["referral_id"] == event.data["referral_id"]]
    assert notify.call("GET", f"/v1/inbox/{entry['id']}", user="caseworker.alas").status_code == 404
    # reading an entry as a member of the organisation marks it read for that person only
    notify.call("POST", f"/v1/inbox/{entry['id']}/read", user="provider.alas")
    assert notify.call("GET", f"/v1/inbox/{entry['id']}", user="provider.alas").json()["read"] is True


def test_preferences_mute_channels_but_never_emergencies(notify, events, publish, entry_for, inbox_of, mail_for,
                                                         smtp_sink, db):
    prefs = notify.call("GET", "/v1/preferences", user="provider.alas").json()["items"]
    by_kind = {p["kind"]: p for p in prefs}
    assert by_kind["referral_overdue"]["locked"] and by_kind["clinical_window_opened"]["locked"]
    assert not by_kind["referral_received"]["locked"]
    for kind, body in (("referral_overdue", {"inbox": False, "email": True}),
                       ("clinical_window_opened", {"inbox": True, "email": False})):
        r = notify.call("PUT", f"/v1/preferences/{kind}", user="provider.alas", json=body)
        assert r.status_code == 422 and r.json()["type"].endswith("/notification-preference-locked")
    assert notify.call("PUT", "/v1/preferences/no_such_kind", user="provider.alas",
                       json={"inbox": True, "email": True}).status_code == 404
    assert notify.call("PUT", "/v1/preferences/referral_received", user="provider.alas",
                       json={"inbox": "no", "email": True}).status_code == 422
    assert notify.call("PUT", "/v1/preferences/referral_received", user="provider.alas",
                       json={"inbox": False, "email": False, "sms": True}).status_code == 422

    r = notify.call("PUT", "/v1/preferences/referral_received", user="provider.alas",
                    json={"inbox": False, "email": False})
    assert r.status_code == 200 and r.json() == {"kind": "referral_received", "inbox": False, "email": False,
                                                 "locked": False, "emergencies_always_delivered": True}
    try:
        normal = publish(events.referral("created", priority="normal"))
        emergency = publish(events.referral("created", priority="emergency"))
        entry = entry_for("provider.alas", referral_id=emergency.data["referral_id"])
        mail_for("provider.alas@example.org", entry["reference"])  # an emergency always gets through

        def fanned_out():
            row = db.execute(select(notifications.c.email_status, notifications.c.reference)
                             .where(notifications.c.referral_id == normal.data["referral_id"])).first()
            db.rollback()
            return row if row and row.email_status == "done" else None
        row = wait_for(fanned_out, 30)
        assert not [m for m in smtp_sink.to("provider.alas@example.org") if row.reference in str(m.message["Subject"])]
        assert not [i for i in inbox_of("provider.alas") if i["referral_id"] == normal.data["referral_id"]]
        # another provider of the organisation (none here) or the same person after un-muting sees it again
    finally:
        notify.call("PUT", "/v1/preferences/referral_received", user="provider.alas",
                    json={"inbox": True, "email": True})
    assert [i for i in inbox_of("provider.alas") if i["referral_id"] == normal.data["referral_id"]]


def test_live_stream_sends_unread_count_and_new_entries(notify, stack, events, publish, sub_of):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(notify.app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port, 15)
    received: list[tuple[str, dict]] = []
    comments: list[str] = []
    try:
        headers = {**stack.auth("caseworker.lagoagrio"), "accept": "text/event-stream"}
        with httpx.stream("GET", f"http://127.0.0.1:{port}/v1/inbox/stream", headers=headers,
                          timeout=httpx.Timeout(10.0)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            event_name = None
            published = None
            deadline = time.monotonic() + 40
            got_it = False
            for line in response.iter_lines():
                if time.monotonic() > deadline:
                    break
                if line.startswith(":"):
                    comments.append(line)
                    if got_it:
                        break
                elif line.startswith("event:"):
                    event_name = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    received.append((event_name, json.loads(line.split(":", 1)[1])))
                    if event_name == "unread" and published is None:
                        published = publish(events.referral("accepted", referring_office=LAGO,
                                                            referring_caseworker=sub_of("caseworker.lagoagrio")))
                    if event_name == "notification" and published and \
                            received[-1][1]["referral_id"] == published.data["referral_id"]:
                        got_it = True   # and read on until the next keep-alive comment
    finally:
        server.should_exit = True
        thread.join(10)
    assert received[0][0] == "unread" and "unread" in received[0][1]
    notification = [d for e, d in received if e == "notification"][-1]
    assert notification["kind"] == "referral_accepted" and notification["referral_id"] == published.data["referral_id"]
    assert "link" in notification and "seq" in notification
    assert comments and comments[-1] == ": keep-alive"


def test_inbox_refuses_callers_without_a_token_and_bad_input(notify):
    for method, path in (("GET", "/v1/inbox"), ("GET", "/v1/inbox/unread-count"), ("GET", "/v1/inbox/stream"),
                         ("POST", "/v1/inbox/read-all"), ("GET", "/v1/preferences")):
        r = notify.client.request(method, path)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    r = notify.client.get("/v1/inbox", headers={"Authorization": "Bearer not.a.token"})
    assert r.status_code == 401
    assert notify.call("GET", "/v1/inbox", user="caseworker.tulcan", params={"limit": 1000}).status_code == 422
    r = notify.call("GET", "/v1/inbox", user="caseworker.tulcan", params={"kind": "<script>ZZ-MARKER</script>"})
    assert r.status_code == 422 and "ZZ-MARKER" not in r.text
    assert notify.call("GET", "/v1/inbox/not-a-uuid", user="caseworker.tulcan").status_code == 404
    assert notify.call("GET", "/v1/inbox/00000000-0000-0000-0000-000000000000",
                       user="caseworker.tulcan").status_code == 404


def test_inbox_reads_and_refusals_are_access_audited(notify, events, publish, sub_of, entry_for, kafka_tap):
    event = publish(events.referral("accepted", referring_office=LAGO,
                                    referring_caseworker=sub_of("caseworker.lagoagrio")))
    entry = entry_for("caseworker.lagoagrio", referral_id=event.data["referral_id"])
    notify.call("GET", f"/v1/inbox/{entry['id']}", user="caseworker.lagoagrio")
    notify.call("GET", f"/v1/inbox/{entry['id']}", user="caseworker.tulcan")   # someone else's: refused

    def recorded():
        found = {}
        for e in kafka_tap.events(["careroute.access"]):
            if e.data.get("service") == "notify" and e.data["resource"]["id"] == entry["id"]:
                found[(e.data["actor"]["subject"], e.data["outcome"])] = e.data
        return found if len(found) >= 2 else None
    found = wait_for(recorded, 30, interval=0.5)
    allowed = found[(sub_of("caseworker.lagoagrio"), "allowed")]
    denied = found[(sub_of("caseworker.tulcan"), "denied")]
    assert allowed["action"] == "inbox.read" and allowed["reason"] == "own-inbox"
    assert denied["reason"] == "not-recipient"
    listing = [e for e in kafka_tap.events(["careroute.access"]) if e.data.get("service") == "notify"
               and e.data["action"] == "inbox.list"]
    assert listing


def test_metrics_expose_notification_and_delivery_figures(notify, events, publish, entry_for):
    event = publish(events.referral("created"))
    entry_for("provider.alas", referral_id=event.data["referral_id"])
    text = notify.client.get("/metrics").text
    for name in ("notify_notifications_created_total", "notify_webhook_delivery_attempts_total",
                 "notify_delivery_queue_age_seconds", "notify_email_send_failures_total"):
        assert name in text
    assert 'channel="inbox"' in text and 'kind="referral_received"' in text
