"""The identity vault and data-subject rights: purpose-bound reads, rectification, export, and
erasure by crypto-shredding — proven with full (superuser) database access."""
import pytest
from careroute_devstack.testing import wait_for
from intake.adapters.orm import case_notes, cases, vault_fields, vault_keys
from intake.service_layer.context import intake_context
from intake.vault.crypto import CaseKey, VaultError
from sqlalchemy import create_engine, select, text

from .conftest import drain, events_for, marker, register

pytestmark = pytest.mark.integration


def test_identity_read_needs_a_purpose_and_stays_in_the_office(intake):
    given = marker("Ident")
    case = register(intake, given=given)
    path = f"/v1/cases/{case['id']}/identity"
    missing = intake.call("GET", path, user="caseworker.tulcan")
    assert missing.status_code == 422 and missing.headers["content-type"].startswith("application/problem+json")
    assert intake.call("GET", f"{path}?purpose=curiosity", user="caseworker.tulcan").status_code == 422
    r = intake.call("GET", f"{path}?purpose=contact_survivor", user="caseworker.tulcan")
    assert r.status_code == 200 and r.json()["given_names"] == given and r.json()["date_of_birth"] == "1994-03-02"
    by_header = intake.call("GET", path, user="supervisor.tulcan", headers={"X-Access-Purpose": "case_management"})
    assert by_header.status_code == 200
    assert intake.call("GET", f"{path}?purpose=contact_survivor", user="caseworker.quito").status_code == 404
    assert intake.call("GET", f"{path}?purpose=contact_survivor", user="provider.alas").status_code == 403
    assert intake.call("GET", f"{path}?purpose=contact_survivor").status_code == 401


def test_rectification(intake):
    case = register(intake, given=marker("Old"))
    path = f"/v1/cases/{case['id']}/identity"
    new_name = marker("New")
    body = {"given_names": new_name, "family_names": "Rojas", "date_of_birth": "1994-03-02",
            "document_type": "passport", "document_number": "AB123456"}
    assert intake.call("PUT", path, user="caseworker.tulcan", json=body).status_code == 428
    r = intake.call("PUT", path, user="caseworker.tulcan", json=body, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 200 and r.json()["given_names"] == new_name and r.headers["etag"] == 'W/"2"'
    assert r.json()["phone"] is None  # PUT replaces the whole record
    minor = {**body, "date_of_birth": "2015-01-01"}
    refused = intake.call("PUT", path, user="caseworker.tulcan", json=minor, headers={"If-Match": 'W/"2"'})
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "dob-contradicts-consent"
    for bad in ({**body, "document_type": None}, {**body, "phone": "ZqEvil"}, {**body, "given_names": ""},
                {**body, "nickname": "ZqEvil"}, {**body, "given_names": "ZqEvil" * 30}):
        bad_r = intake.call("PUT", path, user="caseworker.tulcan", json=bad, headers={"If-Match": 'W/"2"'})
        assert bad_r.status_code == 422 and "ZqEvil" not in bad_r.text
    assert intake.call("PUT", path, user="caseworker.quito", json=body, headers={"If-Match": 'W/"2"'}).status_code == 404


def test_export_is_complete_and_for_the_owning_supervisor(intake):
    given, note = marker("Export"), marker("ExportNote")
    case = register(intake, given=given)
    intake.call("POST", f"/v1/cases/{case['id']}/notes", user="caseworker.tulcan",
                json={"note_type": "safety", "text": note})
    r = intake.call("GET", f"/v1/cases/{case['id']}/export", user="supervisor.tulcan")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    body = r.json()
    assert body["identity"]["given_names"] == given and body["notes"][0]["text"] == note
    assert body["case"]["survivor_code"] == case["survivor_code"] and body["consents"]
    assert intake.call("GET", f"/v1/cases/{case['id']}/export", user="caseworker.tulcan").status_code == 403
    assert intake.call("GET", f"/v1/cases/{case['id']}/export", user="supervisor.quito").status_code == 404


def test_erasure_makes_the_vault_unreadable_even_with_full_database_access(stack, intake, kafka_tap):
    given, note = marker("Erase"), marker("EraseNote")
    case = register(intake, given=given)
    case_id = case["id"]
    intake.call("POST", f"/v1/cases/{case_id}/notes", user="caseworker.tulcan", json={"note_type": "other", "text": note})
    superuser = create_engine(stack.postgres.admin_url.rsplit("/", 1)[0] + "/intake")
    keyring = intake_context(intake.runtime).keyring

    # An attacker's copy taken before the erasure (a replica, a dump): ciphertexts and the wrapped key.
    with superuser.connect() as conn:
        stolen_fields = conn.execute(select(vault_fields.c.field, vault_fields.c.ciphertext)
                                     .where(vault_fields.c.case_id == case_id)).all()
        stolen_notes = conn.execute(select(case_notes.c.id, case_notes.c.ciphertext)
                                    .where(case_notes.c.case_id == case_id)).all()
    assert stolen_fields and stolen_notes
    assert all(given.encode() not in blob for _, blob in stolen_fields)

    path = f"/v1/cases/{case_id}/erase"
    assert intake.call("POST", path, user="caseworker.tulcan", json={"reason": "data_subject_request"},
                       headers={"If-Match": 'W/"1"'}).status_code == 403
    assert intake.call("POST", path, user="supervisor.tulcan", json={"reason": "data_subject_request"}).status_code == 428
    assert intake.call("POST", path, user="supervisor.tulcan", json={"reason": "ZqEvil"},
                       headers={"If-Match": 'W/"1"'}).status_code == 422
    assert intake.call("POST", path, user="supervisor.quito", json={"reason": "data_subject_request"},
                       headers={"If-Match": 'W/"1"'}).status_code == 404
    r = intake.call("POST", path, user="supervisor.tulcan", json={"reason": "data_subject_request"},
                    headers={"If-Match": 'W/"1"'})
    assert r.status_code == 200 and r.json()["status"] == "erased"

    with superuser.connect() as conn:
        assert conn.execute(select(vault_keys).where(vault_keys.c.case_id == case_id)).first() is None
        assert conn.execute(select(vault_fields).where(vault_fields.c.case_id == case_id)).first() is None
        assert conn.execute(select(case_notes).where(case_notes.c.case_id == case_id)).first() is None
        tomb = conn.execute(select(cases).where(cases.c.id == case_id)).one()
        assert tomb.status == "erased" and tomb.survivor_code is None and tomb.nationality is None
        remaining = conn.execute(select(vault_keys.c.case_id, vault_keys.c.kek_id, vault_keys.c.wrapped_key)).all()
        # No text anywhere in the database carries the planted values.
        tables = conn.execute(text("select tablename from pg_tables where schemaname = 'public'")).scalars().all()
        for table in tables:
            dumped = conn.execute(text(f'select coalesce(string_agg(t::text, \'\n\'), \'\') from "{table}" t')).scalar()
            assert given not in dumped and note not in dumped
    superuser.dispose()

    # With every key material that still exists (each remaining data key, unwrapped with the KEKs),
    # the stolen ciphertexts do not open: the erased case's key is gone for good.
    candidates = []
    for other_case, kek_id, wrapped in remaining:
        candidates.append(keyring.unwrap(kek_id, wrapped, case_id=other_case))
    for material in candidates[:200]:
        key = CaseKey(case_id, material)
        for field, blob in stolen_fields:
            with pytest.raises(VaultError):
                key.open(field, blob)
        for note_id, blob in stolen_notes:
            with pytest.raises(VaultError):
                key.open(f"note:{note_id}", blob)

    assert intake.call("GET", f"/v1/cases/{case_id}", user="caseworker.tulcan").status_code == 410
    assert intake.call("GET", f"/v1/cases/{case_id}/identity?purpose=case_management",
                       user="caseworker.tulcan").status_code == 410
    assert case_id not in {c["id"] for c in intake.call("GET", "/v1/cases?limit=100", user="caseworker.tulcan").json()["items"]}
    drain(intake)
    erased = wait_for(lambda: [e for e in events_for(kafka_tap, ["careroute.case"], case_id) if e.name == "case.erased"],
                      message="case.erased")
    assert erased[0].data == {"case_id": case_id, "office": "/iom/tulcan"}
