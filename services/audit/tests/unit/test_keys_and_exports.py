"""Key settings (rotation, cosigners, key files) and the export line formats the verifier reads."""
from __future__ import annotations

import base64
import json

import pytest
from audit.adapters.keys import KeyConfigurationError, load_keys
from audit.domain.checkpoint import Checkpoint, generate_signer, parse_signer, sign_checkpoint
from audit.domain.merkle import InMemoryNodeStore, append_leaves, inclusion_proof, inclusion_proof_keys, root
from audit.service_layer.proofs import _csv_safe, jsonl_line
from audit.settings import AuditSettings
from audit.verifier import entry_leaf_hash, export_line, main, verify_entries_with_proofs, verify_export

pytestmark = pytest.mark.unit
ORIGIN = "careroute.iom.int/audit"


@pytest.fixture(autouse=True)
def no_audit_environment(monkeypatch):
    """Settings here come from the test alone, not from a harness that ran earlier in the session."""
    import os

    for name in [n for n in os.environ if n.startswith("AUDIT_")]:
        monkeypatch.delenv(name)


def settings(**kw) -> AuditSettings:
    return AuditSettings(_env_file=None, **kw)


def test_signer_from_string_or_file_and_rotation(tmp_path):
    skey, vkey = generate_signer(ORIGIN)
    _, old_vkey = generate_signer(ORIGIN)
    _, witness = generate_signer("fiscalia.gob.ec/witness")
    keys = load_keys(settings(signer_key=skey, previous_verifier_keys=[old_vkey], cosigner_keys=[witness]))
    assert keys.current.key_string() == vkey and [k.key_string() for k in keys.trusted] == [vkey, old_vkey]
    assert [k["status"] for k in keys.describe()["keys"]] == ["current", "previous"]
    assert keys.describe()["cosigners"][0]["key"] == witness
    path = tmp_path / "signer.key"
    path.write_text("# the log's key\n" + skey + "\n")
    assert load_keys(settings(signer_key_file=path)).signer.verifier.key_string() == vkey
    api_only = load_keys(settings(verifier_key=vkey))
    assert api_only.signer is None and api_only.current.key_string() == vkey
    with pytest.raises(KeyConfigurationError):
        api_only.require_signer()


@pytest.mark.parametrize("bad", [
    {"signer_key": "PRIVATE+KEY+nope"}, {"previous_verifier_keys": ["not-a-key"]},
    {"verifier_key": generate_signer(ORIGIN)[1], "signer_key": generate_signer(ORIGIN)[0]},
])
def test_bad_key_settings_fail_without_echoing_keys(bad):
    with pytest.raises(KeyConfigurationError) as caught:
        load_keys(settings(**bad))
    assert "nope" not in str(caught.value) and "PRIVATE+KEY+careroute" not in str(caught.value)


def test_service_export_lines_are_the_verifiers_format():
    entry = {"v": 1, "event_id": "e1", "actor": {"subject": "u"}, "purpose": "ñandú \u2028 \"quoted\""}
    from rfc8785 import dumps

    canonical = dumps(entry).decode()
    leaf = entry_leaf_hash(entry)
    assert jsonl_line(7, canonical, leaf) == export_line(7, entry)
    proof = {"leaf_index": 7, "tree_size": 9, "hashes": [base64.b64encode(b"x" * 32).decode()]}
    line = jsonl_line(7, canonical, leaf, proof)
    assert line == dumps({"index": 7, "entry": entry, "leaf_hash": base64.b64encode(leaf).decode(),
                          "proof": proof}).decode() + "\n"


def test_proof_keys_are_exactly_what_a_proof_reads():
    store = InMemoryNodeStore()
    store.put_many(append_leaves(store, 0, [bytes([i]) * 32 for i in range(37)]))
    for size in (1, 2, 5, 16, 37):
        for index in range(size):
            asked: list = []

            class Spy:
                def get_many(self, keys, asked=asked):
                    asked.extend(keys)
                    return store.get_many(keys)
            assert inclusion_proof(Spy(), index, size) == inclusion_proof(store, index, size)
            assert set(asked) == set(inclusion_proof_keys(index, size))


def test_csv_cells_cannot_become_formulas():
    assert _csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _csv_safe("@x") == "'@x"
    assert _csv_safe("ok") == "ok" and _csv_safe(None) == ""


def test_filtered_export_with_proofs_verifies_and_tampering_is_caught(tmp_path, capsys):
    entries = [{"v": 1, "event_id": f"e{i}", "action": "case.read"} for i in range(20)]
    store = InMemoryNodeStore()
    store.put_many(append_leaves(store, 0, [entry_leaf_hash(e) for e in entries]))
    skey, vkey = generate_signer(ORIGIN)
    note = sign_checkpoint(Checkpoint(ORIGIN, 20, root(store, 20)), parse_signer(skey))
    from rfc8785 import dumps

    def line(i, entry=None):
        proof = {"leaf_index": i, "tree_size": 20,
                 "hashes": [base64.b64encode(h).decode() for h in inclusion_proof(store, i, 20)]}
        e = entry or entries[i]
        return jsonl_line(i, dumps(e).decode(), entry_leaf_hash(e), proof)

    picked = [line(i) for i in (2, 3, 11)]
    report = verify_entries_with_proofs(picked, note, [vkey])
    assert report.ok and report.entries == 3
    edited = json.loads(picked[1])
    edited["entry"]["action"] = "case.delete"
    codes = verify_entries_with_proofs([picked[0], json.dumps(edited)], note, [vkey]).codes()
    assert "leaf-hash-mismatch" in codes and "not-included" in codes
    moved = json.loads(picked[2])
    moved["index"] = 12
    assert "proof-mismatch" in verify_entries_with_proofs([json.dumps(moved)], note, [vkey]).codes()
    no_proof = json.loads(picked[0])
    del no_proof["proof"]
    assert "malformed-line" in verify_entries_with_proofs([json.dumps(no_proof)], note, [vkey]).codes()
    # a filtered export is (rightly) not a whole log
    assert not verify_export(picked, note, [vkey]).ok

    (tmp_path / "cp").write_text(note)
    (tmp_path / "export.jsonl").write_text("".join(picked))
    assert main(["entries", "--key", vkey, "--checkpoint", str(tmp_path / "cp"), str(tmp_path / "export.jsonl")]) == 0
    assert "all 3 exported entries are included" in capsys.readouterr().out
    (tmp_path / "export.jsonl").write_text(json.dumps(edited) + "\n")
    assert main(["entries", "--key", vkey, "--checkpoint", str(tmp_path / "cp"), str(tmp_path / "export.jsonl")]) == 1
