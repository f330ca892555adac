"""No personal data outside the vault: the whole run, scanned for planted markers.

The world (conftest.py) planted a unique marker in every personal-data field of four survivors —
given and family names, date of birth, phone, address, document number, the caregiver's names and
phone, the safety plan, case notes (with an e-mail address in them) — and in every free text of the
referral service (reasons, the decline note, the counter-referral note). The flow crossed all four
services: intake -> referral -> intake (shared data) -> notify (inbox, e-mail, webhook) -> audit.
This file adds bad requests carrying the markers, and then looks for every marker and its reformatted
variants (digits-only and national phone formats, dd/mm/yyyy dates, the e-mail's local part) in:

- every record of every topic of contracts/topics.yaml and of its `.dlt` twin (key, value, headers);
- every log record of every logger at DEBUG, raw and as the platform's JSON formatter writes it, and
  the log files of the identity provider, the broker and PostgreSQL;
- every service's /metrics;
- notify: every inbox entry of the people involved, every e-mail the SMTP sink received, every
  webhook body and header the institution's receiver got, the delivery log API, and every row of
  every notify table;
- audit: the entries API, the jsonl / csv / bundle exports, and every row of every audit table;
- intake's database (identity, notes and the safety plan are encrypted there: no plaintext), and the
  referral service's database (which legitimately keeps its own free text, but no identity);
- the error bodies of the bad requests.

The only places the markers may appear are the entitled reads (intake's identity, notes and export for
the owning office; shared data for the accepting organisation; the referral's free text for its
parties), which the positive control below uses to prove the scanner finds what is there.
"""
from __future__ import annotations

import email
import email.policy
import io
import json
import zipfile
from urllib.parse import quote

import pytest
from careroute_platform.contracts import topics
from sqlalchemy import MetaData, select

from .conftest import find_markers, service_ids, wait_for, wait_for_audit_checkpoint

pytestmark = pytest.mark.integration

REFERRAL_FREE_TEXT = ("Reason", "CounterNote", "DeclineNote")


def needles_of(world, *, exclude_referral_text: bool = False) -> dict[str, str]:
    needles = world.markers.variants()
    for label, value in list(world.markers.values.items()):
        if value.startswith("+"):
            needles[f"{label}/urlencoded"] = quote(value).lower()
    for label in list(needles):
        if "/compact" in label:
            needles.pop(label)  # 8 digits: too short to be told from an id
    if exclude_referral_text:
        needles = {k: v for k, v in needles.items() if not any(t in k.split("/")[0] for t in REFERRAL_FREE_TEXT)}
    return needles


@pytest.fixture(scope="module")
def run(world, platform, receiver):
    """The bad requests with markers, then everything drained."""
    p, m = platform, world.markers.values
    cid, rid = world.cases["tulcan"], world.referrals["R2"]
    given, phone, doc, note = m["tulcanGiven"], m["tulcanPhone"], m["tulcanDocument"], m["tulcanNote"]
    bad = [
        ("intake", "POST", "/v1/cases", "caseworker.tulcan",
         {"survivor": {"given_names": given, "phone": f"{phone} ext {given}"}, "profile": {"nationality": given}}, {}),
        ("intake", "POST", f"/v1/cases/{cid}/notes", "caseworker.tulcan", {"note_type": given, "text": note}, {}),
        ("intake", "POST", f"/v1/cases/{cid}/notes", "caseworker.tulcan", {"note_type": "other", "text": note + "\x00"}, {}),
        ("intake", "PUT", f"/v1/cases/{cid}/identity", "caseworker.tulcan",
         {"given_names": given, "document_type": "passport", "document_number": doc}, {"If-Match": 'W/"999"'}),
        ("intake", "PATCH", f"/v1/cases/{cid}", "caseworker.tulcan", {"caseworker": given}, {"If-Match": 'W/"1"'}),
        ("intake", "GET", f"/v1/cases/{cid}/identity", "caseworker.quito", None, {"X-Access-Purpose": given}),
        ("intake", "GET", f"/v1/cases?survivor_code={quote(given)}", "caseworker.tulcan", None, {}),
        ("intake", "GET", f"/v1/cases/{cid}/identity?purpose=case_management", "caseworker.quito", None, {}),
        ("intake", "POST", f"/v1/cases/{cid}/consents", "caseworker.tulcan",
         {"purpose": "sharing", "given_by": given, "recipient_organisation": f"/civil-society/{given}"}, {}),
        ("referral", "POST", "/v1/referrals", "caseworker.tulcan",
         {"case_id": cid, "service_id": service_ids()["alas-psychosocial"], "priority": given,
          "categories": ["identity"], "reason": f"{given} {phone} {doc}"}, {}),
        ("referral", "POST", "/v1/referrals", "caseworker.quito",
         {"case_id": cid, "service_id": service_ids()["alas-psychosocial"], "priority": "normal",
          "categories": ["identity"], "reason": f"{given} {phone}"}, {}),
        ("referral", "POST", f"/v1/referrals/{rid}/decline", "provider.msp-tulcan",
         {"reason_code": given, "note": f"{given} {phone}"}, {"If-Match": 'W/"1"'}),
        ("referral", "POST", f"/v1/referrals/{rid}/decline", "provider.quimera",
         {"reason_code": "other", "note": f"{given} {phone}"}, {"If-Match": 'W/"1"'}),
        ("referral", "GET", f"/v1/directory/services?q={quote(given)}&case_id={cid}", "caseworker.quito", None, {}),
        ("notify", "POST", "/v1/webhooks/endpoints", "msp-hospital-tulcan-system",
         {"url": f"https://10.0.0.1/{given}?phone={quote(phone)}", "event_types": ["referral.created"]}, {}),
        ("notify", "POST", "/v1/webhooks/endpoints", "msp-hospital-tulcan-system",
         {"url": "https://10.0.0.1/x", "event_types": [given]}, {}),
        ("notify", "PUT", "/v1/preferences/referral_accepted", "caseworker.tulcan", {"inbox": given, "email": phone}, {}),
        ("audit", "POST", "/checkpoints/1/cosignatures", "auditor.oversight", {"cosignature": f"— {given} {doc}"}, {}),
        ("audit", "GET", f"/entries?subject={quote(given)}&action={quote(given)}", "auditor.oversight", None, {}),
    ]
    for service, method, path, user, body, headers in bad:
        r = p.call(service, method, path, user=user, json=body, headers=headers)
        assert r.status_code < 500, (service, path, r.status_code, r.text[:300])
        assert r.status_code >= 400 or "/entries" in path, (service, path, r.status_code)
        world.error_bodies.append(f"{r.status_code} {json.dumps(dict(r.headers))} {r.text}")
    for service in ("intake", "referral", "notify", "audit"):  # a token made of personal data
        path = {"intake": "/v1/cases", "referral": "/v1/referrals", "notify": "/v1/inbox", "audit": "/entries"}[service]
        r = p[service].client.get(path,
                                  headers={"Authorization": f"Bearer {given}.{phone}.{doc}"})
        assert r.status_code == 401
        world.error_bodies.append(r.text + json.dumps(dict(r.headers)))
    # entitled reads: they do carry the markers (the positive control)
    entitled = [p.call_patiently("intake", "GET", f"/v1/cases/{cid}/identity?purpose=case_management",
                                 user="caseworker.tulcan"),
                p.call_patiently("intake", "GET", f"/v1/cases/{cid}/notes", user="caseworker.tulcan")]
    assert all(r.status_code == 200 for r in entitled)
    world.entitled_bodies += [r.text for r in entitled]
    # everything published; the last events consumed by audit (a checkpoint covers them) and notify
    p.drain()
    wait_for_audit_checkpoint(p)
    wait_for(lambda: p.mailbox.messages(), 60, message="at least one e-mail")
    return world


# ============================================================================ the positive control
def test_the_scanner_finds_markers_where_they_are_entitled_to_be(run):
    needles = needles_of(run)
    found = set()
    for body in run.entitled_bodies:
        found |= {label.split("/")[0] for label in find_markers(body, needles)}
    for label in ("tulcanGiven", "tulcanFamily", "tulcanPhone", "tulcanDocument", "tulcanAddress",
                  "tulcanCareGiven", "tulcanNote", "tulcanNoteEmail", "tulcanDateOfBirth"):
        assert label in found, f"the scanner did not find {label} in the entitled reads"


# ============================================================================ the scans
def test_no_marker_on_any_topic_or_dead_letter_topic(run, kafka_tap):
    names = [t for name in topics() for t in (name, f"{name}.dlt")]
    records = kafka_tap.read_all(names)
    seen_topics = {r.topic for r in records}
    assert {"careroute.case", "careroute.consent", "careroute.referral", "careroute.access",
            "careroute.directory"} <= seen_topics, seen_topics
    assert any(r.key == run.cases["tulcan"].encode() for r in records)
    needles = needles_of(run)
    leaks = []
    for r in records:
        blob = (r.key or b"") + b" " + (r.value or b"") + b" " + b" ".join(v or b"" for _, v in r.headers or [])
        for label in find_markers(blob, needles):
            leaks.append(f"{label} on {r.topic}[{r.partition}]@{r.offset}")
    assert not leaks, leaks[:20]


def around(text: str, needle: str, width: int = 200) -> str:
    at = text.lower().find(needle)
    return text[max(0, at - width): at + len(needle) + width] if at >= 0 else ""


def test_no_marker_in_any_log(run, platform):
    text = platform.logs.text()
    assert len(text) > 10_000 and '"logger": "audit.' in text, "the log capture saw nothing of the services"
    needles = needles_of(run)
    leaks = [f"{label}: ...{around(text, needles[label])}..." for label in find_markers(text, needles)]
    files = [f for f in platform.stack.cfg.run_dir.rglob("*.log") if "pgdata" not in f.parts]
    assert files, "no log files of the embedded processes"
    for path in files:
        leaks += [f"{label} in {path.name}" for label in find_markers(path.read_bytes(), needles_of(run))]
    assert not leaks, leaks


def test_no_marker_in_metrics(run, platform):
    needles = needles_of(run)
    for service in ("intake", "referral", "notify", "audit"):
        body = platform[service].client.get("/metrics").text
        assert "http_requests" in body
        assert not find_markers(body, needles), service
        for cid in run.cases.values():  # no ids in labels either (cardinality, and ids are data too)
            assert cid not in body


def test_no_marker_in_notifications_emails_or_webhooks(run, platform, receiver):
    needles = needles_of(run)
    leaks = []
    for user in ("caseworker.tulcan", "supervisor.tulcan", "provider.alas", "provider.msp-tulcan", "caseworker.alas",
                 "msp-hospital-tulcan-system", "official.msp", "auditor.oversight", "supervisor.quito"):
        r = platform.call("notify", "GET", "/v1/inbox?limit=100", user=user, headers={"Accept-Language": "en"})
        assert r.status_code == 200
        leaks += [f"{label} in {user}'s inbox" for label in find_markers(r.text, needles)]
        for item in r.json()["items"][:5]:
            one = platform.call("notify", "GET", f"/v1/inbox/{item['id']}", user=user)
            leaks += [f"{label} in inbox entry" for label in find_markers(one.text, needles)]
    tulcan = platform.call("notify", "GET", "/v1/inbox?limit=100", user="caseworker.tulcan").json()
    assert any(i["referral_id"] == run.referrals["R1"] for i in tulcan["items"])
    mails = platform.mailbox.messages()
    assert mails
    for raw in mails:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = [raw] + [part.get_payload(decode=True) or b"" for part in message.walk() if not part.is_multipart()]
        for blob in parts:
            leaks += [f"{label} in an e-mail" for label in find_markers(blob, needles)]
    assert receiver.at("/msp"), "the institution's system received nothing"
    for hook in receiver.received:
        blob = hook.body + json.dumps(hook.headers).encode()
        leaks += [f"{label} in a webhook" for label in find_markers(blob, needles)]
    deliveries = platform.call("notify", "GET", f"/v1/webhooks/endpoints/{run.endpoints['msp']}/deliveries?limit=100",
                               user="msp-hospital-tulcan-system")
    assert deliveries.status_code == 200 and deliveries.json()["items"]
    leaks += [f"{label} in the delivery log" for label in find_markers(deliveries.text, needles)]
    assert not leaks, leaks


def test_no_marker_in_audit_entries_or_exports(run, platform):
    needles = needles_of(run)
    auditor = "auditor.oversight"
    leaks = []
    entries = platform.call("audit", "GET", "/entries", user=auditor,
                            params={"resource_id": run.cases["tulcan"], "resource_type": "case", "limit": 100})
    assert entries.status_code == 200 and entries.json()["total"] > 0
    leaks += find_markers(entries.text, needles)
    for fmt in ("jsonl", "csv"):
        r = platform.call("audit", "GET", "/export", user=auditor, params={"format": fmt})
        assert r.status_code == 200 and len(r.content) > 10_000
        leaks += [f"{label} in the {fmt} export" for label in find_markers(r.content, needles)]
    bundle = platform.call("audit", "GET", "/export", user=auditor, params={"format": "bundle",
                                                                            "resource_type": "case"})
    assert bundle.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as z:
        for name in z.namelist():
            leaks += [f"{label} in bundle {name}" for label in find_markers(z.read(name), needles)]
    assert not leaks, leaks


def _table_rows(engine):
    metadata = MetaData()
    metadata.reflect(bind=engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                yield table.name, row


def _as_text(row) -> str:
    out = []
    for value in row:
        if isinstance(value, (bytes, bytearray, memoryview)):
            out.append(bytes(value).decode("utf-8", "replace"))
        else:
            out.append(json.dumps(value, default=str, ensure_ascii=False) if isinstance(value, (dict, list))
                       else str(value))
    return " ".join(out)


@pytest.mark.parametrize("service", ["intake", "referral", "notify", "audit"])
def test_no_marker_in_any_database_row(run, platform, service):
    """Intake's vault is encrypted (identity, notes, safety plan): no plaintext marker in any intake table.
    The referral service keeps its own free text (reason, notes) by design, but never identity. Notify and
    audit keep nothing of either."""
    needles = needles_of(run, exclude_referral_text=(service == "referral"))
    leaks, rows = [], 0
    for table, row in _table_rows(platform[service].runtime.engine):
        rows += 1
        leaks += [f"{label} in {service}.{table}" for label in find_markers(_as_text(row), needles)]
    assert rows > 20, f"{service}: nothing to scan"
    assert not leaks, sorted(set(leaks))


def test_referral_free_text_stays_in_the_referral_service(run, platform):
    """The counter-referral note and the decline note are in the referral service (its parties read
    them there), and nowhere else: not in intake, notify or audit (checked above) nor on any topic."""
    r = platform.call("referral", "GET", f"/v1/referrals/{run.referrals['R3']}", user="caseworker.tulcan")
    assert run.markers.values["R3CounterNote"] in r.text
    # and the database scan does see what is stored in plain text (a positive control for the scans above)
    needles = {k: v for k, v in needles_of(run).items() if k.startswith(("R3CounterNote", "R4DeclineNote"))}
    found = {label for _, row in _table_rows(platform["referral"].runtime.engine)
             for label in find_markers(_as_text(row), needles)}
    assert {"R3CounterNote", "R4DeclineNote"} <= found


def test_no_marker_in_error_bodies(run):
    needles = needles_of(run)
    assert len(run.error_bodies) >= 20
    leaks = [f"{label}: {body[:160]}" for body in run.error_bodies for label in find_markers(body, needles)]
    assert not leaks, leaks


