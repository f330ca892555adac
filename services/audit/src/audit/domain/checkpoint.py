"""Signed checkpoints: C2SP tlog-checkpoint bodies inside C2SP signed-notes (Ed25519).

Why this format: it is what the transparency-log ecosystem (Go sumdb, Sigsum, witnesses, the
golang.org/x/mod/sumdb/note package) speaks, so third parties - a partner organisation acting as
a witness, an auditor - can check Care Route's audit log with off-the-shelf tools.

Checkpoint body (https://c2sp.org/tlog-checkpoint):

    <origin>\\n
    <tree size, decimal>\\n
    <base64 root hash>\\n
    [<extension line>\\n ...]

Signed note (https://c2sp.org/signed-note): body, a blank line, then one line per signature:

    — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>\\n

(an em dash U+2014 and a space). The key id is the first 4 bytes of
SHA-256(key name || 0x0A || 0x01 || 32-byte public key), 0x01 being the Ed25519 algorithm byte.

Key strings, as golang.org/x/mod/sumdb/note writes them:

    verifier: <name>+<8 hex key id>+<base64(0x01 || public key)>
    signer:   PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>

Verification rules (following the Go reference): signatures by unknown keys are ignored; a
signature by a known key that does not verify is an error (it means tampering); a note with no
valid signature by a known key is an error. Key rotation: pass every currently trusted key.
Cosigning: a second organisation appends its own signature line over the same body. (This is
plain signed-note cosigning, not the timestamped c2sp.org/tlog-cosignature format.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash + space, starts every signature line
MAX_SIGNATURES = 100  # as the Go reference: bounds the work an attacker can make us do
HASH_SIZE = 32


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class NoteError(ValueError):
    """Base class: the note could not be verified."""


class MalformedNoteError(NoteError):
    """The text is not a well-formed signed note."""


class InvalidSignatureError(NoteError):
    """A signature by a trusted key does not match the body (body or signature tampered)."""


class UnverifiedNoteError(NoteError):
    """No signature by any trusted key."""


class InvalidKeyError(ValueError):
    """A signer or verifier key string is malformed or inconsistent."""


class CheckpointError(ValueError):
    """The checkpoint body is malformed or not for the expected log."""


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


def _valid_name(name: str) -> bool:
    # Names are the second word of a signature line and the first field of a key string, so
    # they cannot contain whitespace or '+'.
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, public_key: bytes) -> int:
    """Signed-note key id: first 4 bytes (big-endian) of SHA-256(name || '\\n' || 0x01 || key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _b64decode(text: str) -> bytes:
    """Strict standard base64: alphabet, padding and a canonical encoding are all required."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None
    if base64.b64encode(raw).decode() != text:
        raise ValueError("not canonical base64")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A trusted public key: checks signature lines carrying its name and key id."""

    name: str
    key_id: int
    public_key: bytes

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def key_string(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{_b64(bytes([ALG_ED25519]) + self.public_key)}"

    def label(self) -> str:
        """Short human-readable form used in messages: name+keyid."""
        return f"{self.name}+{self.key_id:08x}"


@dataclass(frozen=True)
class Signer:
    """A private key able to produce signature lines. Never log or print it."""

    name: str
    key_id: int
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, _raw_public(self.private_key.public_key()))


def _split_key(text: str, prefix_fields: int) -> list[str]:
    # maxsplit: the trailing base64 key may itself contain '+'.
    return text.split("+", prefix_fields)


def parse_verifier(vkey: str) -> Verifier:
    """Parse "name+hexid+base64(0x01||pubkey)"; the key id must match the key."""
    parts = _split_key(vkey.strip(), 2)
    if len(parts) != 3:
        raise InvalidKeyError("verifier key must look like name+keyid+base64key")
    name, hex_id, key64 = parts
    if not _valid_name(name):
        raise InvalidKeyError("verifier key has an invalid name")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise InvalidKeyError("verifier key id must be 8 lowercase hex digits")
    try:
        raw = _b64decode(key64)
    except ValueError as exc:
        raise InvalidKeyError(f"verifier key material is {exc}") from None
    if len(raw) != 1 + 32 or raw[0] != ALG_ED25519:
        raise InvalidKeyError("verifier key is not an Ed25519 key (algorithm 0x01, 32 bytes)")
    if key_id(name, raw[1:]) != int(hex_id, 16):
        raise InvalidKeyError(f"verifier key id {hex_id} does not match the key (key id mismatch)")
    return Verifier(name, int(hex_id, 16), raw[1:])


def parse_signer(skey: str) -> Signer:
    """Parse "PRIVATE+KEY+name+hexid+base64(0x01||seed)"; the key id must match the key."""
    parts = _split_key(skey.strip(), 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise InvalidKeyError("signer key must look like PRIVATE+KEY+name+keyid+base64key")
    _, _, name, hex_id, key64 = parts
    if not _valid_name(name):
        raise InvalidKeyError("signer key has an invalid name")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise InvalidKeyError("signer key id must be 8 lowercase hex digits")
    try:
        raw = _b64decode(key64)
    except ValueError as exc:
        raise InvalidKeyError(f"signer key material is {exc}") from None
    if len(raw) != 1 + 32 or raw[0] != ALG_ED25519:
        raise InvalidKeyError("signer key is not an Ed25519 seed (algorithm 0x01, 32 bytes)")
    private = Ed25519PrivateKey.from_private_bytes(raw[1:])
    if key_id(name, _raw_public(private.public_key())) != int(hex_id, 16):
        raise InvalidKeyError(f"signer key id {hex_id} does not match the key (key id mismatch)")
    return Signer(name, int(hex_id, 16), private)


def generate_signer(name: str) -> tuple[str, str]:
    """Make a new Ed25519 key pair; returns (signer key string, verifier key string)."""
    if not _valid_name(name):
        raise InvalidKeyError("key name must be non-empty, without spaces or '+'")
    private = Ed25519PrivateKey.generate()
    public = _raw_public(private.public_key())
    kid = key_id(name, public)
    seed = private.private_bytes_raw()
    skey = f"PRIVATE+KEY+{name}+{kid:08x}+{_b64(bytes([ALG_ED25519]) + seed)}"
    return skey, Verifier(name, kid, public).key_string()


def _as_verifier(key: Verifier | str) -> Verifier:
    return key if isinstance(key, Verifier) else parse_verifier(key)


# --------------------------------------------------------------------------------------------
# Signed notes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the claimed key name and id, and the raw Ed25519 signature."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        return f"{SIG_PREFIX}{self.name} {_b64(self.key_id.to_bytes(4, 'big') + self.signature)}\n"


@dataclass(frozen=True)
class OpenedNote:
    """A note whose body is authenticated by at least one trusted key."""

    body: str
    signed_by: tuple[Verifier, ...]  # trusted keys whose signature verified, in note order
    unverified: tuple[NoteSignature, ...]  # signatures by keys we do not know (ignored)


def _check_text(text: str, what: str) -> None:
    # As the Go reference: valid UTF-8 (guaranteed by str) and no control characters but '\n',
    # so a note cannot smuggle carriage returns or terminal escapes to a human reader.
    for ch in text:
        if ch < " " and ch != "\n":
            raise MalformedNoteError(f"malformed note: {what} contains control character {ord(ch):#04x}")


def _decode(note: str | bytes) -> str:
    if isinstance(note, bytes):
        try:
            return note.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNoteError("malformed note: not valid UTF-8") from None
    return note


def _parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a note into body and signature lines, checking the syntax only."""
    _check_text(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("malformed note: no blank line separating the body from signatures")
    body, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise MalformedNoteError("malformed note: no signature lines")
    if not block.endswith("\n"):
        raise MalformedNoteError("malformed note: the last signature line does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    sigs = []
    for n, line in enumerate(lines, start=1):
        if not line.startswith(SIG_PREFIX):
            raise MalformedNoteError(f"malformed note: signature line {n} does not start with '\u2014 '")
        name, _, b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not _valid_name(name) or not b64:
            raise MalformedNoteError(
                f"malformed note: signature line {n} has no valid key name and signature"
            )
        try:
            raw = _b64decode(b64)
        except ValueError:
            raise MalformedNoteError(f"malformed note: signature line {n} is not valid base64") from None
        if len(raw) < 5:
            raise MalformedNoteError(f"malformed note: signature line {n} is too short")
        sigs.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return body, sigs


def _check_body(body: str) -> None:
    if not body or not body.endswith("\n"):
        raise MalformedNoteError("malformed note: body must be non-empty and end with a newline")
    _check_text(body, "body")


def sign_note(body: str, *signers: Signer) -> str:
    """Return body + blank line + one signature line per signer."""
    _check_body(body)
    if not signers:
        raise ValueError("sign_note needs at least one signer")
    message = body.encode()
    lines = [NoteSignature(s.name, s.key_id, s.sign(message)).line() for s in signers]
    return body + "\n" + "".join(lines)


def open_note(note: str | bytes, verifiers: Iterable[Verifier | str]) -> OpenedNote:
    """Verify a signed note against a set of trusted keys and return its authenticated body.

    Raises MalformedNoteError, InvalidSignatureError (a trusted key's signature is wrong) or
    UnverifiedNoteError (no trusted key signed it).
    """
    body, sigs = _parse_note(_decode(note))
    known: dict[tuple[str, int], Verifier] = {}
    for v in map(_as_verifier, verifiers):
        other = known.setdefault((v.name, v.key_id), v)
        if other != v:  # 32-bit id collision between two trusted keys: refuse to guess
            raise InvalidKeyError(f"two different trusted keys share the id {v.label()}")
    message = body.encode()
    signed_by: list[Verifier] = []
    unverified: list[NoteSignature] = []
    for sig in sigs:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if verifier in signed_by:
            continue  # a repeated line by the same key adds nothing
        if not verifier.verify(message, sig.signature):
            raise InvalidSignatureError(f"invalid signature for key {verifier.label()}")
        signed_by.append(verifier)
    if not signed_by:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in unverified) or "none"
        raise UnverifiedNoteError(f"note has no valid signature from a trusted key (signed by: {names})")
    return OpenedNote(body, tuple(signed_by), tuple(unverified))


def add_cosignature(
    note: str | bytes, signer: Signer, verifiers: Iterable[Verifier | str] | None = None
) -> str:
    """Append `signer`'s signature over the same body (a second organisation cosigning).

    If `verifiers` is given the note must first verify against them, so a cosigner never vouches
    for a body its trusted log key did not sign. An existing line by the same key is replaced.
    """
    text = _decode(note)
    body, sigs = _parse_note(text)
    _check_body(body)
    if verifiers is not None:
        open_note(text, verifiers)
    kept = [s for s in sigs if (s.name, s.key_id) != (signer.name, signer.key_id)]
    mine = NoteSignature(signer.name, signer.key_id, signer.sign(body.encode()))
    return body + "\n" + "".join(s.line() for s in [*kept, mine])


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's claim: "my first `size` entries have Merkle root `root`"."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        for line in (self.origin, *self.extensions):
            if not line or "\n" in line:
                raise CheckpointError("origin and extension lines must be non-empty single lines")
        if not 0 <= self.size < 1 << 64 or len(self.root) != HASH_SIZE:
            raise CheckpointError("checkpoint needs 0 <= size < 2**64 and a 32-byte root")
        ext = "".join(line + "\n" for line in self.extensions)
        return f"{self.origin}\n{self.size}\n{_b64(self.root)}\n{ext}"


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint body (the authenticated text of a note); strict, one error per problem."""
    if not body.endswith("\n"):
        raise CheckpointError("malformed checkpoint: must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("malformed checkpoint: needs origin, size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise CheckpointError("malformed checkpoint: empty origin line")
    # Decimal without sign or leading zeros: one canonical text per size, nothing to smuggle.
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", size_text) or int(size_text) >= 1 << 64:
        raise CheckpointError(f"malformed checkpoint: tree size {size_text!r} is not a decimal number")
    try:
        root = _b64decode(root_text)
    except ValueError:
        raise CheckpointError("malformed checkpoint: root hash is not valid base64") from None
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"malformed checkpoint: root hash has {len(root)} bytes, expected {HASH_SIZE}")
    if any(not line for line in extensions):
        raise CheckpointError("malformed checkpoint: empty extension line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, *signers: Signer) -> str:
    """The signed-note text of a checkpoint."""
    return sign_note(checkpoint.body(), *signers)


def open_checkpoint(
    note: str | bytes, verifiers: Iterable[Verifier | str], origin: str | None = None
) -> tuple[Checkpoint, OpenedNote]:
    """Verify a signed checkpoint and parse it; optionally insist on the log's origin line."""
    opened = open_note(note, verifiers)
    checkpoint = parse_checkpoint(opened.body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint is for log {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint, opened
