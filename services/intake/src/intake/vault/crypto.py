"""The identity vault's cryptography (envelope encryption).

- Each case has its own 256-bit data key. Fields are sealed with AES-256-GCM; the additional
  authenticated data binds each ciphertext to its case id and field name, so a ciphertext copied to
  another case or another field does not decrypt.
- The data key is stored only wrapped by a key-encryption key (KEK). `KeyEncryptionKey` is a protocol:
  `LocalKek` wraps with AES-256-GCM under a key from settings or a key file; a KMS (AWS KMS, GCP KMS,
  Vault transit) plugs in by implementing `key_id`, `wrap` and `unwrap` with the case id as context.
  The KEK's id is stored beside each wrapped key.
- Rotation: a `KeyRing` holds the current KEK and the previous ones. New keys are wrapped with the
  current KEK; keys wrapped with a previous one still unwrap and are rewrapped progressively.
- Erasure (crypto-shredding) destroys the wrapped data key: without it no KEK opens the ciphertexts."""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
KEY_BYTES = 32


class VaultError(Exception):
    """A ciphertext or wrapped key that cannot be opened. The message never carries key material."""


class UnknownKek(VaultError):
    pass


def field_aad(case_id: str, field: str) -> bytes:
    return b"careroute:intake:field:v1\x00" + case_id.encode() + b"\x00" + field.encode()


def wrap_context(case_id: str) -> bytes:
    return b"careroute:intake:case-key:v1\x00" + case_id.encode()


@runtime_checkable
class KeyEncryptionKey(Protocol):
    key_id: str

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes: ...


class LocalKek:
    """A KEK held in process memory (from settings or a key file)."""

    def __init__(self, key_id: str, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("a KEK must be 32 bytes")
        if not key_id or len(key_id) > 64 or not all(c.isalnum() or c in "-_." for c in key_id):
            raise ValueError("a KEK id is 1-64 letters, digits, '-', '_' or '.'")
        self.key_id = key_id
        self._aead = AESGCM(key)

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT_V1 + nonce + self._aead.encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        if len(wrapped) < 1 + NONCE_BYTES + 16 or wrapped[:1] != FORMAT_V1:
            raise VaultError("wrapped key malformed")
        try:
            return self._aead.decrypt(wrapped[1:1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES:], context)
        except InvalidTag as exc:
            raise VaultError("wrapped key does not open with this KEK") from exc

    def __repr__(self) -> str:  # never show the key
        return f"LocalKek(key_id={self.key_id!r})"


class KeyRing:
    def __init__(self, current: KeyEncryptionKey, previous: Iterable[KeyEncryptionKey] = ()) -> None:
        self.current = current
        self._by_id = {k.key_id: k for k in previous}
        self._by_id[current.key_id] = current

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._by_id)

    def wrap(self, data_key: bytes, *, case_id: str) -> tuple[str, bytes]:
        return self.current.key_id, self.current.wrap(data_key, context=wrap_context(case_id))

    def unwrap(self, key_id: str, wrapped: bytes, *, case_id: str) -> bytes:
        kek = self._by_id.get(key_id)
        if kek is None:
            raise UnknownKek("the KEK that wrapped this key is not configured")
        return kek.unwrap(wrapped, context=wrap_context(case_id))

    def needs_rewrap(self, key_id: str) -> bool:
        return key_id != self.current.key_id

    def rewrap(self, key_id: str, wrapped: bytes, *, case_id: str) -> tuple[str, bytes]:
        return self.wrap(self.unwrap(key_id, wrapped, case_id=case_id), case_id=case_id)


class CaseKey:
    """One case's data key, unwrapped, for the duration of a unit of work."""

    def __init__(self, case_id: str, key: bytes) -> None:
        self.case_id = case_id
        self._aead = AESGCM(key)
        self._key = key

    @classmethod
    def generate(cls, case_id: str) -> CaseKey:
        return cls(case_id, secrets.token_bytes(KEY_BYTES))

    @property
    def material(self) -> bytes:
        return self._key

    def seal(self, field: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT_V1 + nonce + self._aead.encrypt(nonce, plaintext, field_aad(self.case_id, field))

    def open(self, field: str, blob: bytes) -> bytes:
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT_V1:
            raise VaultError("ciphertext malformed")
        try:
            return self._aead.decrypt(blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:], field_aad(self.case_id, field))
        except InvalidTag as exc:
            raise VaultError("ciphertext does not open for this case and field") from exc

    def seal_json(self, field: str, value) -> bytes:
        return self.seal(field, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())

    def open_json(self, field: str, blob: bytes):
        return json.loads(self.open(field, blob))

    def __repr__(self) -> str:
        return f"CaseKey(case_id={self.case_id!r})"
