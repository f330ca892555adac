"""The auditor's API within the audit harness: an access event published as intake would lands in
the log, a later checkpoint covers it, and the proof and exports the API hands out verify offline
with the verifier library and the log's public key. Refusals, bad input and out-of-range proofs."""
from __future__ import annotations

import base64
import csv
import io
import json
import uuid
import zipfile

import pytest
from audit.domain.checkpoint import add_cosignature, generate_signer, parse_signer
from audit.verifier import (
    ConsistencyProof,
    InclusionProof,
    verify_checkpoint,
    verify_checkpoint_consistency,
    verify_entries_with_proofs,
    verify_entry_inclusion,
    verify_export,
)
from careroute_devstack.testing import wait_for

from .conftest import MARKER, case_read, caseworker, send

pytestmark = pytest.mark.integration
AUDITOR = "auditor.oversight"


def entry_of(audit, event_id: str):
    r = audit.call("GET", f"/entries/by-event/{event_id}", user=AUDITOR)
    return r.json() if r.status_code == 200 else None


def checkpoint_covering(audit, index: int) -> dict:
    def covered():
        r = audit.call("GET", "/checkpoints/latest", user=AUDITOR)
        return r.json() if r.status_code == 200 and r.json()["size"] > index else None
    return wait_for(covered, 40, interval=0.3, message="a checkpoint covering the entry")


def public_keys(audit) -> list[str]:
    r = audit.call("GET", "/keys", user=AUDITOR)
    assert r.status_code == 200
    return [k["key"] for k in r.json()["keys"]]


@pytest.fixture(scope="module")
def logged(audit, producer):
    """A case read as intake would publish it (with planted fields), logged and checkpointed."""
    event = case_read(caseworker(), plant=True)
    send(producer, "careroute.access", event)
    entry = wait_for(lambda: entry_of(audit, event.id), 40, interval=0.2, message="the entry")
    checkpoint = checkpoint_covering(audit, entry["index"])
    return event, entry, checkpoint


def test_end_to_end_inclusion_proof_verifies_offline(audit, logged):
    event, entry, checkpoint = logged
    assert entry["entry"]["event_id"] == event.id
    assert entry["entry"]["actor"] == {"subject": event.data["actor"]["subject"], "organisation": "/iom/tulcan",
                                       "roles": ["caseworker"], "client": "careroute-frontend"}
    assert entry["entry"]["resource"] == {"type": "case", "id": event.data["resource"]["id"]}
    assert entry["entry"]["outcome"] == "allowed" and entry["entry"]["service"] == "intake"
    assert entry["entry"]["trace_id"] == event.traceparent.split("-")[1]
    assert entry["entry"]["purpose"] == "follow-up of the safety plan"

    r = audit.call("GET", f"/entries/{entry['index']}/inclusion-proof", user=AUDITOR)
    assert r.status_code == 200, r.text
    body = r.json()
    note = body["checkpoint"]
    assert body["tree_size"] == checkpoint["size"] and note.startswith("careroute.iom.int/audit\n")
    keys = public_keys(audit)
    report = verify_entry_inclusion(note, keys, body["entry"], entry["index"], InclusionProof.from_json(body))
    assert report.ok, report.problems
    # the key file written by dev_env for the embedded stack verifies it too
    pub = (audit.stack.cfg.run_dir / "secrets" / "audit-signer.pub").read_text().strip()
    assert verify_checkpoint(note, [pub]).ok
    # ... by event id, against an explicit (non-checkpoint) tree size
    r = audit.call("GET", f"/entries/by-event/{event.id}/inclusion-proof",
                   params={"tree_size": entry["index"] + 1}, user=AUDITOR)
    assert r.status_code == 200 and r.json()["tree_size"] == entry["index"] + 1
    # a tampered entry does not verify
    forged = json.loads(json.dumps(body["entry"]))
    forged["outcome"] = "denied"
    assert not verify_entry_inclusion(note, keys, forged, entry["index"], InclusionProof.from_json(body)).ok


def test_planted_fields_reach_no_entry_and_no_export(audit, logged):
    event, entry, _ = logged
    assert MARKER not in json.dumps(entry)
    for fmt in ("jsonl", "csv"):
        r = audit.call("GET", "/export", params={"format": fmt}, user=AUDITOR)
        assert r.status_code == 200
        assert event.id in r.text and MARKER not in r.text
    r = audit.call("GET", "/entries", params={"resource_type": "case", "resource_id": event.data["resource"]["id"]},
                   user=AUDITOR)
    assert r.status_code == 200 and r.json()["total"] == 1 and MARKER not in r.text


def test_full_jsonl_export_verifies_with_the_verifier(audit, logged):
    r = audit.call("GET", "/export", user=AUDITOR)
    assert r.status_code == 200, r.text
    size = int(r.headers["audit-checkpoint-size"])
    note = audit.call("GET", f"/checkpoints/{size}", params={"format": "note"}, user=AUDITOR).text
    lines = r.text.splitlines(keepends=True)
    assert len(lines) == size
    report = verify_export(lines, note, public_keys(audit))
    assert report.ok, report.problems[:3]
    # tampering with the service's own export is caught
    first = json.loads(lines[0])
    first["entry"]["action"] = "nothing.to.see"
    tampered = [json.dumps(first) + "\n", *lines[1:]]
    assert "leaf-hash-mismatch" in verify_export(tampered, note, public_keys(audit)).codes()
    assert "too-few-entries" in verify_export(lines[1:], note, public_keys(audit)).codes()


def test_filtered_export_carries_proofs_and_the_bundle_verifies(audit, logged):
    event, _, _ = logged
    subject = event.data["actor"]["subject"]
    r = audit.call("GET", "/export", params={"subject": subject}, user=AUDITOR)
    assert r.status_code == 200
    lines = r.text.splitlines(keepends=True)
    assert [json.loads(x)["entry"]["event_id"] for x in lines] == [event.id]
    size = int(r.headers["audit-checkpoint-size"])
    note = audit.call("GET", f"/checkpoints/{size}", params={"format": "note"}, user=AUDITOR).text
    report = verify_entries_with_proofs(lines, note, public_keys(audit))
    assert report.ok and report.entries == 1, report.problems

    r = audit.call("GET", "/export", params={"format": "bundle"}, user=AUDITOR)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as bundle:
        assert set(bundle.namelist()) == {"export.jsonl", "checkpoint.txt", "keys.txt", "README.txt"}
        keys = [k for k in bundle.read("keys.txt").decode().splitlines() if k and not k.startswith("#")]
        report = verify_export(bundle.read("export.jsonl").decode().splitlines(keepends=True),
                               bundle.read("checkpoint.txt").decode(), keys)
    assert report.ok, report.problems[:3]

    r = audit.call("GET", "/export", params={"format": "csv", "subject": subject}, user=AUDITOR)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["event_id"] for row in rows] == [event.id] and rows[0]["proof"]


def test_consistency_between_two_checkpoints_verifies(audit, producer, logged):
    _, _, first = logged
    later = case_read()
    send(producer, "careroute.access", later)
    newer = wait_for(lambda: entry_of(audit, later.id), 40, interval=0.2, message="a later entry")
    second = checkpoint_covering(audit, newer["index"])
    r = audit.call("GET", "/proofs/consistency", params={"size1": first["size"], "size2": second["size"]},
                   user=AUDITOR)
    assert r.status_code == 200, r.text
    proof = r.json()
    report = verify_checkpoint_consistency(first["note"], second["note"], public_keys(audit),
                                           ConsistencyProof.from_json(proof))
    assert report.ok, report.problems
    listed = audit.call("GET", "/checkpoints", params={"limit": 100}, user=AUDITOR).json()
    assert {first["size"], second["size"]} <= {c["size"] for c in listed["items"]}


def test_every_auditor_call_is_itself_audited(audit, logged):
    purpose = f"oversight review {uuid.uuid4().hex[:6]}"
    assert audit.call("GET", "/entries", params={"purpose": purpose, "limit": 1}, user=AUDITOR).status_code == 200

    def mine():
        r = audit.call("GET", "/entries", params={"action": "audit.entries.search", "order": "desc", "limit": 100},
                       user=AUDITOR)
        return [i for i in r.json()["items"] if i["entry"]["purpose"] == purpose]
    [found] = wait_for(mine, 40, interval=0.3, message="the auditor's own search in the log")
    assert found["entry"]["actor"]["roles"] == ["auditor"]
    assert found["entry"]["actor"]["organisation"] == "/iom/oversight"
    assert found["entry"]["service"] == "audit" and found["entry"]["outcome"] == "allowed"


def test_refusals(audit, logged):
    paths = ["/entries", "/entries/0", "/entries/0/inclusion-proof", "/proofs/consistency?size1=1",
             "/checkpoints", "/checkpoints/latest", "/keys", "/export"]
    for path in paths:
        r = audit.call("GET", path)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", path
        for user in ("caseworker.tulcan", "supervisor.tulcan", "provider.alas", "official.ministerio"):
            r = audit.call("GET", path, user=user)
            assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", (path, user)
    r = audit.call("POST", "/checkpoints/1/cosignatures", json={"cosignature": "x" * 20}, user="caseworker.tulcan")
    assert r.status_code == 403


def test_out_of_range_proofs_and_bad_input_are_clear_problems(audit, logged):
    _, entry, _ = logged
    size = audit.call("GET", "/checkpoints/latest", user=AUDITOR).json()["size"]
    cases = [
        ("/entries/999999999/inclusion-proof", {}, 422),
        (f"/entries/{entry['index']}/inclusion-proof", {"tree_size": 10**12}, 422),
        (f"/entries/{entry['index']}/inclusion-proof", {"tree_size": entry["index"]}, 422),  # not yet covered
        ("/proofs/consistency", {"size1": size + 5, "size2": size}, 422),
        ("/proofs/consistency", {"size1": 1, "size2": 10**12}, 422),
        ("/proofs/consistency", {"size1": -1}, 422),
        ("/entries/-3", {}, 422),
        ("/entries/999999999", {}, 404),
        ("/entries", {"limit": 1000}, 422),
        ("/entries", {"organisation": "<script>alert(1)</script>"}, 422),
        ("/entries", {"from": "yesterday-ish"}, 422),
        ("/checkpoints/999999999", {}, 404),
        ("/export", {"format": "xml"}, 422),
    ]
    for path, params, status in cases:
        r = audit.call("GET", path, params=params, user=AUDITOR)
        assert r.status_code == status, (path, params, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert "<script>" not in r.text and "yesterday-ish" not in r.text
    r = audit.call("GET", "/entries/999999999/inclusion-proof", user=AUDITOR, headers={"accept-language": "en"})
    assert r.json()["type"].endswith("/out-of-range") and "beyond" in r.json()["detail"]


def test_search_filters_and_pagination(audit, producer):
    who = caseworker(organisation="/iom/lago-agrio")
    events = [case_read(who) for _ in range(3)] + [case_read(who, allowed=False)]
    for e in events:
        send(producer, "careroute.access", e)
    wait_for(lambda: all(entry_of(audit, e.id) for e in events), 40, interval=0.3, message="entries")
    r = audit.call("GET", "/entries", params={"subject": who.subject, "limit": 2}, user=AUDITOR).json()
    assert r["total"] == 4 and len(r["items"]) == 2 and r["limit"] == 2 and r["offset"] == 0
    r2 = audit.call("GET", "/entries", params={"subject": who.subject, "limit": 2, "offset": 2}, user=AUDITOR).json()
    assert {i["event_id"] for i in r["items"] + r2["items"]} == {e.id for e in events}
    denied = audit.call("GET", "/entries", params={"subject": who.subject, "outcome": "denied"}, user=AUDITOR).json()
    assert [i["event_id"] for i in denied["items"]] == [events[-1].id]
    org = audit.call("GET", "/entries", params={"organisation": "/iom", "include_sub_organisations": "true",
                                                "subject": who.subject}, user=AUDITOR).json()
    assert org["total"] == 4
    first_time = entry_of(audit, events[0].id)["entry"]["time"]
    later = audit.call("GET", "/entries", params={"subject": who.subject, "from": first_time, "action": "case.read"},
                       user=AUDITOR).json()
    assert later["total"] == 4
    none = audit.call("GET", "/entries", params={"subject": who.subject, "to": first_time}, user=AUDITOR).json()
    assert none["total"] == 0


def test_a_second_organisation_cosigns_a_checkpoint(audit, logged):
    from fastapi.testclient import TestClient

    _, _, checkpoint = logged
    cosigner_skey, cosigner_vkey = generate_signer("fiscalia.gob.ec/witness")
    stranger_skey, _ = generate_signer("stranger.example/witness")
    runtime = audit.definition.runtime(audit.settings.model_copy(update={"cosigner_keys": [cosigner_vkey]}))
    client = TestClient(audit.definition.create_app(runtime), raise_server_exceptions=False)
    headers = audit.stack.auth(AUDITOR)
    keys = public_keys(audit)
    size = checkpoint["size"]

    cosigned = add_cosignature(checkpoint["note"], parse_signer(cosigner_skey), keys)
    line = cosigned.rstrip("\n").rsplit("\n", 1)[1]
    r = client.post(f"/checkpoints/{size}/cosignatures", json={"cosignature": line}, headers=headers)
    assert r.status_code == 201 and r.json()["added"] is True, r.text
    again = client.post(f"/checkpoints/{size}/cosignatures", json={"cosignature": line}, headers=headers)
    assert again.status_code == 201 and again.json()["added"] is False
    note = client.get(f"/checkpoints/{size}", params={"format": "note"}, headers=headers).text
    assert note.endswith(line + "\n")
    assert verify_checkpoint(note, [cosigner_vkey]).ok and verify_checkpoint(note, keys).ok

    stranger = add_cosignature(checkpoint["note"], parse_signer(stranger_skey), keys).rstrip("\n").rsplit("\n", 1)[1]
    r = client.post(f"/checkpoints/{size}/cosignatures", json={"cosignature": stranger}, headers=headers)
    assert r.status_code == 422 and r.json()["reason"] == "not-verified"
    name, sig = line.split(" ")[1:]
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    forged = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}"
    r = client.post(f"/checkpoints/{size}/cosignatures", json={"cosignature": forged}, headers=headers)
    assert r.status_code in (409, 422)
    r = client.post("/checkpoints/999999999/cosignatures", json={"cosignature": line}, headers=headers)
    assert r.status_code == 404


def test_metrics_report_the_log_state(audit, logged):
    text = audit.client.get("/metrics").text
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
              if line.startswith(("audit_tree_size ", "audit_entries_total ", "audit_checkpoint_age_seconds ",
                                  "audit_checkpoint_size ", "audit_uncheckpointed_age_seconds "))}
    assert values["audit_tree_size"] >= 1 and values["audit_entries_total"] == values["audit_tree_size"]
    assert values["audit_checkpoint_size"] >= 1 and values["audit_checkpoint_age_seconds"] >= 0
    assert "audit_uncheckpointed_age_seconds" in values
