"""Signed notes and checkpoints, including the golang.org/x/mod/sumdb/note reference vectors."""

from __future__ import annotations

import base64

import pytest
from audit.domain.checkpoint import (
    Checkpoint,
    CheckpointError,
    InvalidKeyError,
    InvalidSignatureError,
    MalformedNoteError,
    UnverifiedNoteError,
    add_cosignature,
    generate_signer,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_signer,
    parse_verifier,
    sign_checkpoint,
    sign_note,
)
from audit.domain.merkle import leaf_hash

pytestmark = pytest.mark.unit

# From golang.org/x/mod/sumdb/note note_test.go (TestNewVerifier, TestSign, TestOpen).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_PETER_B64 = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
GO_ENOCH_B64 = "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
GO_PETER_SIG = f"\u2014 PeterNeumann {GO_PETER_B64}\n"
GO_ENOCH_SIG = f"\u2014 EnochRoot {GO_ENOCH_B64}\n"

ORIGIN = "careroute.example/audit"


def _checkpoint(size: int = 7, data: bytes = b"root") -> Checkpoint:
    return Checkpoint(ORIGIN, size, leaf_hash(data))


# --- reference vectors ---------------------------------------------------------------------


def test_go_reference_key_ids_and_signature_match_byte_for_byte() -> None:
    signer, verifier = parse_signer(GO_SKEY), parse_verifier(GO_VKEY)
    assert verifier.key_id == 0xC74F20A3 == key_id("PeterNeumann", verifier.public_key)
    assert signer.verifier == verifier
    assert verifier.key_string() == GO_VKEY
    # Ed25519 is deterministic, so our note must equal the Go package's output exactly.
    assert sign_note(GO_TEXT, signer) == GO_TEXT + "\n" + GO_PETER_SIG


def test_go_reference_note_with_two_signatures() -> None:
    note = GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG
    opened = open_note(note, [GO_VKEY])
    assert opened.body == GO_TEXT
    assert [v.name for v in opened.signed_by] == ["PeterNeumann"]
    assert [(s.name, s.key_id) for s in opened.unverified] == [("EnochRoot", 0xAF0CFE78)]
    both = open_note(note, [GO_VKEY, GO_ENOCH_VKEY])
    assert [v.label() for v in both.signed_by] == ["PeterNeumann+c74f20a3", "EnochRoot+af0cfe78"]
    with pytest.raises(UnverifiedNoteError, match="no valid signature from a trusted key"):
        open_note(note, [])


@pytest.mark.parametrize("key", [GO_VKEY, GO_SKEY])
def test_go_key_manglings_are_rejected(key: str) -> None:
    parse = parse_verifier if key == GO_VKEY else parse_signer
    b = key.encode()
    bad = {b[i:j] for i in range(len(b) + 1) for j in range(i + 1, len(b) + 1) if (i, j) != (0, len(b))}
    bad |= {b[:i] + bytes([b[i] + 1]) + b[i + 1 :] for i in range(len(b))}
    for mangled in bad:
        with pytest.raises(InvalidKeyError):
            parse(mangled.decode("latin-1"))
    with pytest.raises(InvalidKeyError):  # wrong length key, with adjusted key hash
        parse_verifier("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    with pytest.raises(InvalidKeyError):  # unknown algorithm, with adjusted key hash
        parse_verifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + GO_PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + GO_PETER_SIG,
        GO_TEXT + "\n" + "\u2014 Bad Name " + GO_PETER_B64,
        GO_TEXT + "\n" + GO_PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + GO_PETER_SIG * 101,
    ],
)
def test_go_malformed_notes(note: str) -> None:
    with pytest.raises(MalformedNoteError, match="malformed note"):
        open_note(note, [GO_VKEY])


def test_invalid_utf8_is_malformed() -> None:
    with pytest.raises(MalformedNoteError, match="UTF-8"):
        open_note(b"\xff" + (GO_TEXT + "\n" + GO_PETER_SIG).encode(), [GO_VKEY])


def test_go_invalid_and_repeated_signatures() -> None:
    corrupt = GO_PETER_SIG[:60] + "ABCD" + GO_PETER_SIG[60:]
    with pytest.raises(InvalidSignatureError, match=r"invalid signature for key PeterNeumann\+c74f20a3"):
        open_note(GO_TEXT + "\n" + corrupt, [GO_VKEY])
    # Repeated lines are dropped; an unknown key's corrupt line is ignored, not an error.
    enoch_corrupt = GO_ENOCH_SIG[:60] + "ABCD" + GO_ENOCH_SIG[60:]
    note = GO_TEXT + "\n" + GO_PETER_SIG * 2 + GO_ENOCH_SIG * 2 + enoch_corrupt
    opened = open_note(note, [GO_VKEY])
    assert len(opened.signed_by) == 1 and len(opened.unverified) == 2


# --- our own keys ----------------------------------------------------------------------------


def test_generated_keys_round_trip() -> None:
    skey, vkey = generate_signer(ORIGIN)
    signer, verifier = parse_signer(skey), parse_verifier(vkey)
    assert signer.verifier == verifier and verifier.key_string() == vkey
    assert skey.startswith(f"PRIVATE+KEY+{ORIGIN}+{verifier.key_id:08x}+A")  # 'A' = 0x01 alg byte
    assert "private_key" not in repr(signer)  # never leak the seed into logs
    with pytest.raises(InvalidKeyError):
        generate_signer("bad name")


def test_checkpoint_round_trip() -> None:
    skey, vkey = generate_signer(ORIGIN)
    cp = Checkpoint(ORIGIN, 42, leaf_hash(b"x"), ("extension one", "two"))
    note = sign_checkpoint(cp, parse_signer(skey))
    body, sigline = note.split("\n\n")
    assert body + "\n" == f"{ORIGIN}\n42\n{base64.b64encode(cp.root).decode()}\nextension one\ntwo\n"
    assert sigline.startswith(f"\u2014 {ORIGIN} ") and sigline.endswith("\n")
    assert len(base64.b64decode(sigline.split(" ")[2])) == 4 + 64
    got, opened = open_checkpoint(note, [vkey], origin=ORIGIN)
    assert got == cp and opened.signed_by[0].key_string() == vkey
    with pytest.raises(CheckpointError, match="expected 'other.example/log'"):
        open_checkpoint(note, [vkey], origin="other.example/log")


def test_tampered_body_is_detected() -> None:
    skey, vkey = generate_signer(ORIGIN)
    note = sign_checkpoint(_checkpoint(size=7), parse_signer(skey))
    with pytest.raises(InvalidSignatureError, match="invalid signature for key"):
        open_note(note.replace("\n7\n", "\n8\n", 1), [vkey])


def test_tampered_signature_is_detected() -> None:
    skey, vkey = generate_signer(ORIGIN)
    note = sign_checkpoint(_checkpoint(), parse_signer(skey))
    body, line = note.split("\n\n")
    prefix, b64 = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[10] ^= 0x01
    tampered = body + "\n\n" + prefix + " " + base64.b64encode(bytes(raw)).decode() + "\n"
    with pytest.raises(InvalidSignatureError):
        open_note(tampered, [vkey])


def test_wrong_key_is_rejected() -> None:
    skey, _ = generate_signer(ORIGIN)
    _, other_vkey = generate_signer(ORIGIN)  # same name, different key -> different key id
    note = sign_checkpoint(_checkpoint(), parse_signer(skey))
    with pytest.raises(UnverifiedNoteError, match=ORIGIN):
        open_note(note, [other_vkey])


def test_key_id_mismatch() -> None:
    _, vkey = generate_signer(ORIGIN)
    name, kid, key = vkey.split("+", 2)
    wrong = f"{name}+{(int(kid, 16) ^ 1):08x}+{key}"
    with pytest.raises(InvalidKeyError, match="key id mismatch"):
        parse_verifier(wrong)
    # A signature line whose key id does not match any trusted key is someone else's signature.
    skey, vkey = generate_signer(ORIGIN)
    note = sign_checkpoint(_checkpoint(), parse_signer(skey))
    body, line = note.split("\n\n")
    prefix, b64 = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 0xFF
    with pytest.raises(UnverifiedNoteError):
        open_note(body + "\n\n" + prefix + " " + base64.b64encode(bytes(raw)).decode() + "\n", [vkey])


def test_cosignature_and_rotation() -> None:
    log_skey, log_vkey = generate_signer(ORIGIN)
    partner_skey, partner_vkey = generate_signer("partner.example/witness")
    note = sign_checkpoint(_checkpoint(), parse_signer(log_skey))
    cosigned = add_cosignature(note, parse_signer(partner_skey), verifiers=[log_vkey])
    assert cosigned.startswith(note) and cosigned.count("\u2014 ") == 2
    opened = open_note(cosigned, [log_vkey, partner_vkey])
    assert [v.name for v in opened.signed_by] == [ORIGIN, "partner.example/witness"]
    # A partner-only verifier accepts it too; the log signature is just unknown to them.
    assert open_note(cosigned, [partner_vkey]).unverified[0].name == ORIGIN
    # Cosigning twice replaces the old line instead of stacking duplicates.
    assert add_cosignature(cosigned, parse_signer(partner_skey)).count("\u2014 ") == 2
    # A cosigner refuses to vouch for a note its trusted log key did not sign.
    _, stranger_vkey = generate_signer(ORIGIN)
    with pytest.raises(UnverifiedNoteError):
        add_cosignature(note, parse_signer(partner_skey), verifiers=[stranger_vkey])
    # Rotation: the verifier trusts old and new log keys during the overlap.
    new_skey, new_vkey = generate_signer(ORIGIN)
    rotated = sign_checkpoint(_checkpoint(8), parse_signer(new_skey))
    for n in (note, rotated):
        open_checkpoint(n, [log_vkey, new_vkey])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("origin\n7\n", "needs origin, size and root"),
        ("origin\n7\nAAAA", "end with a newline"),
        ("\n7\n" + base64.b64encode(bytes(32)).decode() + "\n", "empty origin"),
        ("o\n07\n" + base64.b64encode(bytes(32)).decode() + "\n", "not a decimal"),
        ("o\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n", "not a decimal"),
        ("o\n18446744073709551616\n" + base64.b64encode(bytes(32)).decode() + "\n", "not a decimal"),
        ("o\n7\n" + base64.b64encode(bytes(31)).decode() + "\n", "31 bytes"),
        ("o\n7\nnot base64!\n", "not valid base64"),
        ("o\n7\n" + base64.b64encode(bytes(32)).decode() + "\n\n", "empty extension"),
    ],
)
def test_malformed_checkpoints(body: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint(body)


def test_malformed_note_messages() -> None:
    skey, vkey = generate_signer(ORIGIN)
    note = sign_checkpoint(_checkpoint(), parse_signer(skey))
    with pytest.raises(MalformedNoteError, match="no blank line"):
        open_note(note.replace("\n\n", "\n"), [vkey])
    with pytest.raises(MalformedNoteError, match="does not start with"):
        open_note(note.replace("\u2014", "-"), [vkey])
    with pytest.raises(MalformedNoteError, match="not valid base64"):
        open_note(note[:-3] + "!!\n", [vkey])
    with pytest.raises(MalformedNoteError, match="control character"):
        open_note(note.replace("\n7\n", "\n7\r\n"), [vkey])
    with pytest.raises(MalformedNoteError, match="end with a newline"):
        sign_note("no newline", parse_signer(skey))
